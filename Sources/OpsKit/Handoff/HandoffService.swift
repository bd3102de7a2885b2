// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Builds the handoff report from the ledger and live probes. Sources fail one by one (listed
/// under "sources that could not be read"); the report itself always renders.
public struct HandoffService: Sendable {
    public let config: OpsConfig
    public let environment: EnvironmentConfig
    public let context: OpsContext
    /// Secret commands that failed: the report still renders, without the app's log lines
    /// (they could hold a secret opsctl cannot scrub), and --post fails when the webhook is one.
    public var unresolvedSecrets: [OpsError] = []

    public init(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext) {
        self.config = config
        self.environment = environment
        self.context = context
    }

    var settings: HandoffSettings { environment.handoff }

    public func build(from: Date, to: Date, by: String) async -> HandoffReport {
        var errors: [HandoffReport.SourceError] = []
        func note(_ source: String, _ error: String) { errors.append(.init(source: source, error: config.redactor.scrub(error))) }
        let env = environment.name
        let target = config.backupTarget(of: environment)
        var report = HandoffReport(
            app: config.app, env: env, window: .init(from: from, to: to, timezone: TimeZone.current.identifier), generatedAt: context.now(),
            by: by, opsctlVersion: OpsctlVersion.current, verdict: .healthy, findings: [], deploys: [],
            verifications: .init(runs: 0, failed: 0), smoke: .init(runs: 0, failed: 0), disks: [], facts: [], notes: [], sourceErrors: [])

        // The ledger: deploys, backups, verifications, smoke runs, notes, the previous handoff.
        do {
            let ledger = try context.ledger(config.state)
            report.liveVersion = try ledger.lastDeployment(env: env, status: .succeeded)?.version
            report.deploys = try ledger.deployments(env: env, from: from, to: to).map {
                .init(id: $0.id, kind: $0.kind, version: $0.version, previousVersion: $0.previousVersion, status: $0.status, by: $0.actor,
                      at: $0.startedAt, durationSeconds: $0.duration.map { Int($0.rounded()) },
                      durationMs: $0.duration.map { Int(($0 * 1000).rounded()) }, reason: $0.reason, slot: $0.slot)
            }
            let canary = try ledger.canarySteps(deploymentIds: report.deploys.map(\.id))
            for index in report.deploys.indices { report.deploys[index].canary = canary[report.deploys[index].id] }
            if target.directory != nil || target.databasePath != nil {
                report.backups = try backups(ledger, from: from, to: to)
            }
            if let offsite = environment.backup?.offsite { report.offsite = try offsiteFacts(ledger, settings: offsite, from: from, to: to) }
            report.verifications = try ledger.checkSummary(table: "verifications", time: "checked_at", okStatus: "ok", env: env, from: from, to: to)
            report.smoke = try ledger.checkSummary(table: "smoke_runs", time: "started_at", okStatus: "passed", env: env, from: from, to: to)
            report.notes = try ledger.pendingNotes(env: env).map { .init(id: $0.id, text: $0.text, by: $0.author, at: $0.createdAt) }
            report.sinceLastHandoff = try ledger.changesSinceLastHandoff(env: env)
            report.incidents = try incidents(ledger, from: from, to: to)
            report.activity = try activity(ledger, from: from, to: to)
        } catch {
            note("ledger", "\(config.state): \(error.message)")
        }

        // Live: the slots, health now (through the proxy when there is one), the app's error lines, the database, disks, facts.
        if environment.strategy.needsProxy, let settings = environment.proxy {
            report.proxy = ProxyView.read(settings, standby: await StandbyKeeper(config: config, environment: environment, context: context).current(),
                                          ledger: try? context.ledger(config.state), env: env)
            if let error = report.proxy?.error { note("proxy", error) }
        }
        if var healthSettings = environment.health {
            if let settings = environment.proxy, let proxy = report.proxy { healthSettings = proxy.health(healthSettings, proxy: settings) }
            let probe = await HealthWaiter.probeOnce(healthSettings, timeout: .seconds(5))
            report.health = .init(url: Redactor.redactURLCredentials(healthSettings.url), ok: probe.ok, status: probe.status,
                                  ms: probe.totalMs.map { Int($0.rounded()) }, reason: probe.reason.map(config.redactor.scrub))
        }
        if environment.driver == .swarm {
            report.swarm = await SwarmView.load(config: config, environment: environment, context: context)
            if let error = report.swarm?.error { note("swarm", error) }
            do {
                let (logs, incomplete) = try await swarmLogErrors(since: from, until: to)
                report.logs = logs
                if let incomplete { note("swarm logs", "counted without some nodes: \(incomplete)") }
            } catch { note("swarm logs", error.message) }
        } else {
            do { report.logs = try await logErrors(since: from, until: to) } catch { note("docker", error.message) }
        }
        for failure in unresolvedSecrets { note("secrets", failure.message) }
        if !unresolvedSecrets.isEmpty, report.logs != nil {
            report.logs?.top = []
            note("logs", "error lines withheld: a secret command failed, so they could not be scrubbed (counts are kept)")
        }
        if let replica = environment.backup?.replica { report.replica = ReplicaHealth.read(replica, now: context.now()) }
        if let path = target.databasePath {
            report.database = quickCheck(path)
            if report.database?.ok == false, report.database?.quickCheck.hasPrefix("cannot open") == true { note("database", report.database!.quickCheck) }
            report.database?.maintenance = DatabaseGlance.look(environment, config: config, context: context)
            report.database?.maintenanceRuns = try? context.ledger(config.state).maintenanceRuns(env: env, from: from, to: to)
            report.facts = settings.facts.map { fact(path: path, $0) }
        } else if !settings.facts.isEmpty {
            note("facts", "handoff.facts needs database.path")
        }
        for path in settings.disks {
            if let disk = Self.disk(path) { report.disks.append(disk) } else { note("disk", "\(path): cannot stat the filesystem") }
        }
        report.sourceErrors = errors
        (report.verdict, report.findings) = Self.verdict(report, thresholds: settings.thresholds)
        return report
    }

    /// Every incident open now (whenever it opened), and those closed in the window.
    func incidents(_ ledger: Ledger, from: Date, to: Date) throws(OpsError) -> HandoffReport.Incidents {
        let now = context.now()
        func item(_ record: IncidentRecord) -> HandoffReport.Incidents.Item {
            .init(id: record.id, title: record.title, severity: record.severity, openedAt: record.openedAt, openedBy: record.openedBy,
                  closedAt: record.closedAt, durationSeconds: record.durationSeconds(now: now), summary: record.summary)
        }
        return .init(open: try ledger.openIncidents(env: environment.name).map(item),
                     closedInWindow: try ledger.incidentsClosed(env: environment.name, from: from, to: to).map(item))
    }

    func backups(_ ledger: Ledger, from: Date, to: Date) throws(OpsError) -> HandoffReport.Backups {
        let env = environment.name
        let recent = try ledger.succeededBackups(env: env, limit: 7)
        let inWindow = try ledger.backupCounts(env: env, from: from, to: to)
        let newest = recent.first
        let verified = try newest?.file.map { file throws(OpsError) in try ledger.isVerified(file: file) } ?? false
        let sizes = recent.compactMap(\.bytes).reversed().map { $0 }
        var trend: String?
        if sizes.count >= 2, let first = sizes.first, let last = sizes.last, first > 0 {
            let change = Double(last - first) / Double(first) * 100
            trend = String(format: "%@%.1f%% over the last %d backups", change >= 0 ? "+" : "", change, sizes.count)
        }
        let age = newest.map { (context.now().timeIntervalSince($0.finishedAt ?? $0.startedAt)) / 3600 }
        return .init(lastSuccessAt: newest?.finishedAt ?? newest?.startedAt, lastSuccessFile: newest?.file.map { URL(fileURLWithPath: $0).lastPathComponent },
                     ageHours: age.map { ($0 * 10).rounded() / 10 }, maxAgeHours: Double(settings.thresholds.backupMaxAge.milliseconds) / 3_600_000,
                     recentBytes: sizes, trend: trend, lastVerified: verified, inWindow: inWindow.total, failedInWindow: inWindow.failed)
    }

    /// Error lines in the running container's logs over the window, the most repeated first.
    func logErrors(since: Date, until: Date) async throws(OpsError) -> HandoffReport.Logs? {
        let containers = try await context.docker.containers(labels: ReleaseIdentity(config: config, environment: environment).selector)
        // The release users reach, not the one on standby.
        let proxy = environment.strategy.needsProxy ? environment.proxy.map { ProxyView.read($0, standby: nil) } : nil
        guard let running = StatusService.servingContainers(containers, proxy: proxy).first ?? containers.first(where: \.running) else { return nil }
        let logs = try await context.docker.logs(running.name, since: since, until: until)
        return Self.summarise(logs: logs, pattern: settings.logPattern, container: running.name, redactor: config.redactor)
    }

    static func summarise(logs: String, pattern: String, container: String, redactor: Redactor) -> HandoffReport.Logs {
        let regex = (try? Regex(pattern)) ?? (try! Regex("ERROR"))
        var counts: [String: Int] = [:]
        var order: [String] = []
        var total = 0
        for line in logs.split(separator: "\n") where line.firstMatch(of: regex) != nil {
            total += 1
            // Lines that differ only in timestamps, ids or counts are the same problem.
            let key = redactor.scrub(String(line)).replacing(/[0-9]+/, with: "N").trimmingCharacters(in: .whitespaces)
            if counts[key] == nil { order.append(key) }
            counts[key, default: 0] += 1
        }
        let top = order.sorted { counts[$0]! > counts[$1]! }.prefix(5).map { HandoffReport.Logs.Line(count: counts[$0]!, text: String($0.prefix(300))) }
        return .init(container: container, pattern: pattern, errors: total, top: Array(top))
    }

    /// verify's read-only quick_check of the live database.
    func quickCheck(_ path: String) -> HandoffReport.Database {
        guard FileManager.default.fileExists(atPath: path) else {
            return .init(path: path, ok: false, quickCheck: "cannot open: no such file")
        }
        let check = VerifyService.checkLive(path)
        return .init(path: path, ok: check.ok, quickCheck: check.ok ? "ok" : check.reason ?? "failed")
    }

    /// Read-only twice over: the file is opened SQLITE_OPEN_READONLY and the connection is query_only.
    func fact(path: String, _ fact: SQLFact) -> HandoffReport.Fact {
        do {
            let database = try SQLiteDatabase(path: path, mode: .readOnly, busyTimeout: .seconds(5))
            try database.execute("PRAGMA query_only = 1")
            let value = try database.query(fact.sql).first.flatMap { $0.string(0) } ?? "(no rows)"
            return .init(name: fact.name, value: config.redactor.scrub(value))
        } catch {
            return .init(name: fact.name, error: config.redactor.scrub(error.message))
        }
    }

    static func disk(_ path: String) -> HandoffReport.Disk? {
        DiskUsage.of(path).map { .init(path: path, usedPercent: ($0.usedPercent * 10).rounded() / 10, freeBytes: $0.freeBytes, totalBytes: $0.totalBytes) }
    }

    /// The rules, worst first. Critical: the service or its data is in danger now. Warning:
    /// something needs a look this shift.
    public static func verdict(_ report: HandoffReport, thresholds: HandoffThresholds) -> (HandoffReport.Level, [HandoffReport.Finding]) {
        var findings: [HandoffReport.Finding] = []
        func fire(_ level: HandoffReport.Level, _ rule: String, _ detail: String) { findings.append(.init(level: level, rule: rule, detail: detail)) }
        for incident in report.incidents?.open ?? [] {
            fire(incident.severity == .critical ? .critical : .warning, "incident.open",
                 "#\(incident.id) (\(incident.severity.rawValue)) open since \(TextFormat.timestamp(incident.openedAt)): \(incident.title)")
        }
        if let health = report.health, !health.ok {
            fire(.critical, "health.failing", "\(health.url) fails now: \(health.reason ?? "no answer")")
        }
        if let maintenance = report.proxy?.maintenance {
            fire(.warning, "maintenance.on", maintenance.text(now: report.generatedAt, env: report.env))
        }
        if report.verifications.lastStatus == "failed" {
            fire(.critical, "verify.failed", "the last backup verification failed: \(report.verifications.lastReason ?? "")")
        }
        if let database = report.database, !database.ok {
            fire(.critical, "database.check_failed", "\(database.path): \(database.quickCheck)")
        }
        if let down = report.deploys.first, down.status == .failed {
            fire(.critical, "deploy.failed", "the last \(down.kind.rawValue) (\(down.version)) failed and nothing was restored: \(down.reason ?? "")")
        }
        let rolledBack = report.deploys.filter { [.rolledBack, .interrupted].contains($0.status) || $0.kind == .rollback }
        if !rolledBack.isEmpty {
            fire(.warning, "deploy.rolled_back", "\(rolledBack.count) rollback(s) in the window: "
                 + rolledBack.map { $0.kind == .rollback ? "rollback to \($0.version) (\($0.status.rawValue))" : "deploy of \($0.version) \($0.status.rawValue.replacingOccurrences(of: "_", with: " "))" }
                    .joined(separator: ", "))
        }
        if let backups = report.backups {
            if let age = backups.ageHours {
                if age > backups.maxAgeHours { fire(.warning, "backup.stale", "the newest good backup is \(age) h old (limit \(backups.maxAgeHours) h)") }
            } else {
                fire(.warning, "backup.stale", "no successful backup recorded")
            }
            if backups.failedInWindow > 0 { fire(.warning, "backup.failed", "\(backups.failedInWindow) backup run(s) failed in the window") }
        }
        findings += offsiteFindings(report.offsite)
        if let problem = report.replica?.problem { fire(.warning, "replica.lag", problem) }
        for disk in report.disks where disk.usedPercent >= Double(thresholds.diskPercent) {
            fire(.warning, "disk.full", "\(disk.path) is \(disk.usedPercent)% full (limit \(thresholds.diskPercent)%)")
        }
        for check in report.database?.maintenance?.warnings ?? [] {
            fire(.warning, "database.\(check.id.rawValue)", check.summary + (check.fix.map { "; fix: \($0)" } ?? ""))
        }
        if let swarm = report.swarm, swarm.error == nil {
            for problem in swarm.nodeProblems { fire(.warning, "swarm.node_down", "\(problem): Swarm cannot run tasks there") }
            if let drift = swarm.drift(ledgerLive: report.liveVersion) { fire(.warning, "swarm.drift", drift) }
        }
        if let logs = report.logs, logs.errors > thresholds.errors {
            fire(.warning, "logs.errors", "\(logs.errors) lines matching /\(logs.pattern)/ in the window (limit \(thresholds.errors))")
        }
        if report.smoke.failed > 0 {
            fire(.warning, "smoke.failed", "\(report.smoke.failed) of \(report.smoke.runs) smoke run(s) failed in the window")
        }
        for error in report.sourceErrors {
            fire(.warning, "source.unreachable", "\(error.source): \(error.error)")
        }
        let ordered = findings.enumerated().sorted { ($0.element.level, -$0.offset) > ($1.element.level, -$1.offset) }.map(\.element)
        return (ordered.first?.level ?? .healthy, ordered)
    }
}

extension Ledger {
    public func deployments(env: String, from: Date, to: Date) throws(OpsError) -> [DeploymentRecord] {
        try database.query("SELECT \(Self.deploymentColumns) FROM deployments WHERE env = ? AND started_at >= ? AND started_at <= ? ORDER BY started_at DESC, id DESC",
                           [.text(env), .real(from.ledgerTime), .real(to.ledgerTime)]).map(Self.deployment)
    }

    func succeededBackups(env: String, limit: Int) throws(OpsError) -> [BackupRecord] {
        try database.query("SELECT \(Self.backupColumns) FROM backups WHERE env = ? AND status = 'succeeded' ORDER BY started_at DESC, id DESC LIMIT ?",
                           [.text(env), .integer(Int64(limit))]).map(Self.backup)
    }

    func backupCounts(env: String, from: Date, to: Date) throws(OpsError) -> (total: Int, failed: Int) {
        let row = try database.query("SELECT COUNT(*), COALESCE(SUM(status = 'failed'), 0) FROM backups WHERE env = ? AND started_at >= ? AND started_at <= ?",
                                     [.text(env), .real(from.ledgerTime), .real(to.ledgerTime)]).first
        return (row?.int(0) ?? 0, row?.int(1) ?? 0)
    }

    func isVerified(file: String) throws(OpsError) -> Bool {
        try database.query("SELECT status FROM verifications WHERE file = ? ORDER BY checked_at DESC, id DESC LIMIT 1", [.text(file)]).first?.string(0) == "ok"
    }

    /// Runs in the window, failures among them, and the newest run overall (a failure before the window still counts).
    func checkSummary(table: String, time: String, okStatus: String, env: String, from: Date, to: Date) throws(OpsError) -> HandoffReport.Checks {
        let counts = try database.query("SELECT COUNT(*), COALESCE(SUM(status != ?), 0) FROM \(table) WHERE env = ? AND \(time) >= ? AND \(time) <= ?",
                                        [.text(okStatus), .text(env), .real(from.ledgerTime), .real(to.ledgerTime)]).first
        let reasonColumn = table == "verifications" ? "reason" : "NULL"
        let last = try database.query("SELECT \(time), status, \(reasonColumn) FROM \(table) WHERE env = ? AND \(time) <= ? ORDER BY \(time) DESC, id DESC LIMIT 1",
                                      [.text(env), .real(to.ledgerTime)]).first
        return .init(runs: counts?.int(0) ?? 0, failed: counts?.int(1) ?? 0, lastAt: last?.double(0).map(Date.init(ledgerTime:)),
                     lastStatus: last?.string(1).map { $0 == okStatus ? "ok" : "failed" }, lastReason: last?.string(2))
    }

    func changesSinceLastHandoff(env: String) throws(OpsError) -> HandoffReport.Changes? {
        guard let previous = try database.query("SELECT generated_at, verdict FROM handoffs WHERE env = ? ORDER BY generated_at DESC, id DESC LIMIT 1",
                                                [.text(env)]).first, let at = previous.double(0) else { return nil }
        func count(_ sql: String) throws(OpsError) -> Int { try database.query(sql, [.text(env), .real(at)]).first?.int(0) ?? 0 }
        return .init(previousAt: Date(ledgerTime: at), previousVerdict: previous.string(1) ?? "?",
                     deploys: try count("SELECT COUNT(*) FROM deployments WHERE env = ? AND started_at > ?"),
                     backups: try count("SELECT COUNT(*) FROM backups WHERE env = ? AND started_at > ? AND status = 'succeeded'"),
                     notesAdded: try count("SELECT COUNT(*) FROM notes WHERE env = ? AND created_at > ?"),
                     notesClosed: try count("SELECT COUNT(*) FROM notes WHERE env = ? AND resolved_at > ?"))
    }

    /// The report as it was handed over, without the raw activity behind its timeline: those
    /// events are the ledger's own rows, and at thousands of them they would be most of the
    /// archive and of the time it takes to write.
    public func archiveHandoff(_ report: HandoffReport, document: String? = nil) throws(OpsError) {
        let json = document ?? Self.archivedDocument(report)
        try database.writeTransaction { () throws(OpsError) in
            try database.query("INSERT INTO handoffs (env, generated_at, window_from, window_to, verdict, author, report) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [.text(report.env), .real(report.generatedAt.ledgerTime), .real(report.window.from.ledgerTime),
                                .real(report.window.to.ledgerTime), .text(report.verdict.rawValue), .text(report.by), .text(json)])
        }
    }
}

extension Ledger {
    /// The JSON kept in the ledger for a handoff: the report without its raw activity.
    static func archivedDocument(_ report: HandoffReport) -> String {
        var archived = report
        archived.activity = HandoffReport.Activity()
        return ReportEncoder.json(archived)
    }
}

/// `opsctl handoff`: build, render, write, post, archive.
extension HandoffService {
    public struct Request: Sendable {
        public var from: Date
        public var to: Date
        public var by: String
        public var format: HandoffRenderer.Format = .markdown
        public var outputPath: String?
        public var post = false

        public init(from: Date, to: Date, by: String) {
            self.from = from
            self.to = to
            self.by = by
        }
    }

    public func run(_ request: Request) async throws(OpsError) -> HandoffReport {
        if request.post, settings.webhook == nil {
            throw OpsError(.config, code: "config.missing", "\(config.sourcePath): environments.\(environment.name).handoff.webhook is not set (needed for --post)")
        }
        var report = await build(from: request.from, to: request.to, by: request.by)
        // Encoded on the other core while the report renders. A post's outcome belongs in the
        // archive, so with --post the document waits for it.
        let earlyArchive: Task<String, Never>? = request.post ? nil : Task { [report] in
            var archived = report
            archived.writtenTo = request.outputPath
            return Ledger.archivedDocument(archived)
        }
        // Anything a source echoed (a log line, a fact) is scrubbed again as a whole. JSON on
        // stdout is the report itself, encoded once, below.
        let jsonOnStdout = request.format == .json && request.outputPath == nil
        if !jsonOnStdout {
            report.rendered = config.redactor.scrub(try HandoffRenderer.render(report, format: request.format, templateOverride: settings.template))
        }
        if let path = request.outputPath {
            try AtomicFile.write(report.rendered + "\n", to: path)
            report.writtenTo = path
        }
        if request.post, let webhook = settings.webhook, !webhook.isResolved {
            report.postError = "not posted: the webhook's secret command failed (see sources that could not be read)"
        } else if request.post, let webhook = settings.webhook {
            let markdown = request.format == .markdown ? report.rendered
                : config.redactor.scrub(try HandoffRenderer.render(report, format: .markdown, templateOverride: settings.template))
            if let failure = await WebhookPoster.post(text: markdown, to: webhook.value) {
                report.postError = failure
                context.logger.error("handoff post failed: \(failure)")
            }
        }
        if jsonOnStdout, !request.post {  // beside the archive, which encodes on the other core
            report.encodedJSON = ReportEncoder.json(report: report)
        }
        let document = await earlyArchive?.value
        do { try context.ledger(config.state).archiveHandoff(report, document: document) } catch {
            context.logger.warning("could not archive the handoff in the ledger: \(error.message)")
        }
        return report
    }
}

/// Slack-compatible incoming webhooks: `{"text": ...}`, a timeout, a few retries.
public enum WebhookPoster {
    /// nil on success, else why it failed (never the URL: it is a secret).
    public static func post(text: String, to url: String, attempts: Int = 3, pause: Duration = .seconds(1),
                            timeout: OpsDuration = .seconds(10)) async -> String? {
        guard let body = try? JSONSerialization.data(withJSONObject: ["text": text]) else { return "cannot encode the message" }
        var request = HTTPRequest(url: url)
        request.method = "POST"
        request.headers = [("Content-Type", "application/json")]
        request.body = String(decoding: body, as: UTF8.self)
        request.timeout = timeout
        request.connectTimeout = min(request.connectTimeout, timeout)
        var last = "no attempt"
        for attempt in 1...max(1, attempts) {
            switch await CurlHTTP.perform([request], concurrency: 1)[0] {
            case .success(let response) where (200..<300).contains(response.status):
                return nil
            case .success(let response):
                last = "the webhook answered HTTP \(response.status)"
                // 4xx other than 429 will not get better by retrying.
                if (400..<500).contains(response.status), response.status != 429 { return last + " (not retried)" }
            case .failure(let failure):
                last = "the webhook could not be reached: " + Redactor.redactURLCredentials(failure.reason.replacingOccurrences(of: url, with: "<webhook>"))
            }
            if attempt < attempts { try? await Task.sleep(for: pause * attempt) }
        }
        return last + " (after \(attempts) attempts)"
    }
}
