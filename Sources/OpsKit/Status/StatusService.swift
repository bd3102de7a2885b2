// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl status ENV`: what the ledger says and what docker really runs, side by side.
/// The blue/green side of status: the slot the upstream file routes to, and the standby.
public struct ProxyView: Sendable, Encodable {
    public var upstreamFile: String
    public var liveSlot: String?
    public var liveAddress: String?
    /// The release on the live slot, as docker reports it.
    public var liveVersion: String?
    public var standby: StandbyState?
    /// The upstream file could not be read.
    public var error: String?
    /// Maintenance or a pause, while it lasts: users get the page, or wait in nginx.
    public var maintenance: MaintenanceView?

    static func read(_ settings: ProxySettings, standby: StandbyState?, ledger: Ledger? = nil, env: String? = nil) -> ProxyView {
        var view = ProxyView(upstreamFile: settings.upstreamFile, standby: standby)
        if let ledger, let env { view.maintenance = MaintenanceView.read(ledger: ledger, env: env, proxy: settings) }
        do {
            let slot = try NginxProxy(settings: settings, runner: SubprocessRunner()).liveSlot()
            view.liveSlot = slot?.name
            view.liveAddress = slot?.address
        } catch {
            view.error = error.message
        }
        return view
    }
}

extension ProxyView {
    /// (label, text) pairs: status pads the labels into a column, the handoff writes them inline.
    public func entries(now: Date, env: String = "ENV") -> [(label: String, text: String)] {
        let live = liveSlot.map { "\($0) (\(liveAddress ?? "?"))" + (liveVersion.map { ", \($0)" } ?? "") }
            ?? "none (\(error ?? "\(upstreamFile) names neither slot"))"
        let maintenance = self.maintenance.map { [("maintenance", $0.text(now: now, env: env))] } ?? []
        guard let standby else { return maintenance + [("live slot", live), ("standby", "none")] }
        let expiry = TextFormat.timestamp(standby.expiresAt)
        let what = standby.version + (standby.slot.map { " on \($0)" } ?? "")
        let left = TextFormat.duration(seconds: max(0, Int(standby.expiresAt.timeIntervalSince(now))))
        let state = standby.stoppedNow ? "\(what): time was up at \(expiry); stopped now (kept)"
            : standby.running ? "\(what) until \(expiry) (\(left) left; opsctl rollback switches back at once)"
            : "\(what): NOT running (standby until \(expiry))"
        return maintenance + [("live slot", live), ("standby", state)]
    }

    /// Where health is probed now: through the proxy, or at the live slot while maintenance
    /// keeps users from the app (the page would say "failing" of an app that is fine).
    func health(_ configured: HealthSettings, proxy settings: ProxySettings) -> HealthSettings {
        guard maintenance != nil, let address = liveAddress, let slot = settings.slot(at: address) else { return ProxyRoute.health(configured, through: settings) }
        return ProxyRoute.health(configured, at: slot)
    }
}

public struct StatusReport: Report {
    public struct Runtime: Sendable, Encodable {
        public var reachable: Bool
        public var error: String?
        public var containers: [DockerClient.ContainerState]
        /// The version of the running opsctl-labelled container, if exactly one runs.
        public var runningVersion: String?
    }

    public var app: String
    public var env: String
    public var driver: DriverKind
    public var ledger: String
    /// The version the ledger says is live: the newest succeeded deploy or rollback.
    public var liveVersion: String?
    public var runtime: Runtime
    /// blue-green: where the proxy routes and what is on standby.
    public var proxy: ProxyView?
    /// swarm: the service, every task with its node, and the nodes.
    public var swarm: SwarmView?
    /// Set when the ledger and docker disagree.
    public var drift: String?
    /// Runs whose opsctl process died without finishing, marked `interrupted` by this call.
    public var reconciled: [DeploymentRecord]
    public var lastDeployment: DeploymentRecord?
    public var lastBackup: BackupRecord?
    /// The environment's backups on disk (nil without a backup section).
    public var backups: BackupsOnDisk?
    public var lastVerification: VerificationRecord?
    /// `backup.replica`: the replicator's lag and the window `restore --at` reaches.
    public var replica: ReplicaHealth?
    public var lastSmoke: SmokeRunRecord?
    /// One probe of health.url now (nil without a health section).
    public var healthNow: HealthProbe?
    /// The database against `database.maintenance` (nil without `database.path`).
    public var database: DatabaseGlance?
    public var pendingNotes: Int
    public var generatedAt: Date

    /// 69 when docker could not be asked: half a status must not look like a healthy one.
    public var exitCode: Int32 { runtime.reachable ? 0 : OpsError.Kind.unavailable.exitCode }

    public func renderText() -> String {
        var lines = ["\(app) / \(env)  (driver \(driver.rawValue), ledger \(ledger))"]
        lines.append("live (ledger):   " + (liveVersion ?? "nothing deployed yet"))
        if let swarm {
            lines += swarm.lines(now: generatedAt)
        } else if runtime.reachable {
            let running = runtime.containers.filter(\.running)
            lines.append("running (docker): " + (running.isEmpty ? "no container" : running.map { "\($0.name) (\($0.version ?? "?"), \($0.status))" }.joined(separator: ", ")))
            let stopped = runtime.containers.filter { !$0.running }
            if !stopped.isEmpty {
                lines.append("kept for rollback: " + stopped.map { "\($0.version ?? $0.name)" + ($0.slot.map { " (\($0))" } ?? "") }.joined(separator: ", "))
            }
        } else {
            lines.append("running (docker): UNKNOWN: \(runtime.error ?? "docker unavailable")")
        }
        if let probe = healthNow {
            lines.append("health now:      " + (probe.ok ? "ok (HTTP \(probe.status ?? 0), \(Int((probe.totalMs ?? 0).rounded())) ms)" : "FAILING: \(probe.reason ?? "no answer")")
                         + (proxy?.maintenance != nil ? " (the app at its slot: users get the maintenance page, or wait)" : ""))
        }
        if let proxy { lines += proxy.entries(now: generatedAt, env: env).map { "\($0.label):".padding(toLength: 17, withPad: " ", startingAt: 0) + $0.text } }
        if let drift { lines.append("DRIFT: \(drift)") }
        for record in reconciled {
            lines.append("marked interrupted: deployment #\(record.id) of \(record.version) (its opsctl process \(record.pid.map(String.init) ?? "?") is gone)")
        }
        let now = generatedAt
        if let deployment = lastDeployment {
            lines.append("last \(deployment.kind.rawValue):".padding(toLength: 17, withPad: " ", startingAt: 0) + "\(deployment.version) \(deployment.status.rawValue), \(TextFormat.age(of: deployment.startedAt, now: now))"
                         + (deployment.reason.map { " (\($0))" } ?? ""))
        } else {
            lines.append("last deploy:     none")
        }
        if let backup = lastBackup {
            lines.append("last backup:     \(backup.status.rawValue), \(TextFormat.age(of: backup.startedAt, now: now))" + (backup.file.map { " \($0)" } ?? ""))
        } else {
            lines.append("last backup:     none")
        }
        if let backups { lines.append("backups:         " + backups.summary) }
        if let replica { lines.append("replica:         " + (replica.problem.map { "WARNING: \($0); " } ?? "") + replica.summary) }
        if let verification = lastVerification {
            lines.append("last verify:     \(verification.status.rawValue), \(TextFormat.age(of: verification.checkedAt, now: now))" + (verification.reason.map { " (\($0))" } ?? ""))
        } else {
            lines.append("last verify:     none")
        }
        if let smoke = lastSmoke {
            lines.append("last smoke:      \(smoke.status.rawValue) \(smoke.passed)/\(smoke.passed + smoke.failed), \(TextFormat.age(of: smoke.startedAt, now: now))")
        }
        if let database {
            lines.append("database:        \(database.summary)" + (database.warnings.isEmpty && database.error == nil ? "" : " (opsctl db \(env) has every line)"))
            lines += DatabaseStatusReport.lines(database.warnings, indent: "  ")
        }
        if pendingNotes > 0 { lines.append("pending notes:   \(pendingNotes)") }
        return lines.joined(separator: "\n")
    }
}

/// What `opsctl backup` wrote for an environment, as the directory holds it now.
public struct BackupsOnDisk: Sendable, Encodable {
    public var pattern: String
    public var count: Int
    public var newest: String?
    public var newestVerified: Bool
    public var error: String?

    init?(_ target: BackupTarget) {
        guard let pattern = target.pattern else { return nil }
        self.pattern = pattern
        do {
            let entries = try target.backups()
            count = entries.count
            newest = entries.first?.file
            newestVerified = entries.first.map { (try? BackupManifest.read($0.manifestPath))?.verification?.status == .ok } ?? false
        } catch {
            (count, newestVerified) = (0, false)
            self.error = error.message
        }
    }

    var summary: String {
        if let error { return "\(pattern): \(error)" }
        guard let newest else { return "none in \(pattern)" }
        return "\(count) in \(pattern), newest \(newest)" + (newestVerified ? " (verified)" : " (not verified)")
    }
}

public enum StatusService {
    /// What serves users: behind a blue/green proxy the release on the live slot (the standby
    /// runs too and is no drift); otherwise every running release.
    static func servingContainers(_ containers: [DockerClient.ContainerState], proxy: ProxyView?) -> [DockerClient.ContainerState] {
        let running = containers.filter(\.running)
        guard let proxy else { return running }
        guard let slot = proxy.liveSlot else { return running.filter { $0.name != proxy.standby?.container } }
        return running.filter { $0.slot == slot }
    }

    static func drift(ledgerLive: String?, serving: [DockerClient.ContainerState], app: String) -> String? {
        switch (ledgerLive, serving.count) {
        case (nil, 0): return nil
        case (let version?, 0): return "the ledger says \(version) is live, but no \(app) container runs"
        case (_, 2...): return "\(serving.count) containers run at once: " + serving.map(\.name).joined(separator: ", ")
        case (let version, _):
            guard serving[0].version != version else { return nil }
            return "the ledger says \(version ?? "nothing") is live, but docker runs \(serving[0].version ?? serving[0].name)"
        }
    }

    /// One probe: status is for a glance at 3 a.m., not a wait; but a busy host's slow answer
    /// is not a failing app, so the one attempt gets a few seconds.
    static func probeNow(_ health: HealthSettings?) async -> HealthProbe? {
        guard let settings = health else { return nil }
        return await HealthWaiter.probeOnce(settings, timeout: .seconds(5))
    }

    public static func status(config: OpsConfig, env name: String, context: OpsContext) async throws(OpsError) -> StatusReport {
        let environment = try config.environment(named: name)
        let ledger = try context.ledger(config.state)
        let reconciled = try ledger.markOrphanedRuns(host: ProcessInfo.processInfo.hostName)

        let standby = await StandbyKeeper(config: config, environment: environment, context: context).stopIfExpired()
        var runtime = StatusReport.Runtime(reachable: true, containers: [])
        var proxy = environment.strategy.needsProxy ? environment.proxy.map { ProxyView.read($0, standby: standby, ledger: ledger, env: name) } : nil
        let swarm = environment.driver == .swarm ? await SwarmView.load(config: config, environment: environment, context: context) : nil
        if let swarm {
            (runtime.reachable, runtime.error, runtime.runningVersion) = (swarm.error == nil, swarm.error, swarm.runningVersion)
        } else { do {
            runtime.containers = try await context.docker.containers(labels: ReleaseIdentity(config: config, environment: environment).selector)
            let serving = servingContainers(runtime.containers, proxy: proxy)
            if serving.count == 1 { runtime.runningVersion = serving[0].version }
            let slotServes = proxy?.liveSlot != nil && serving.count == 1
            proxy?.liveVersion = slotServes ? serving[0].version : nil
        } catch {
            guard error.kind == .unavailable else { throw error }
            runtime.reachable = false
            runtime.error = error.message
        } }

        let live = try ledger.lastDeployment(env: name, status: .succeeded)
        let drift = swarm.map { $0.drift(ledgerLive: live?.version) }
            ?? (runtime.reachable ? self.drift(ledgerLive: live?.version, serving: servingContainers(runtime.containers, proxy: proxy), app: config.app) : nil)
        var health = environment.health
        if let settings = environment.proxy, let configured = health, let proxy { health = proxy.health(configured, proxy: settings) }
        return StatusReport(
            app: config.app, env: name, driver: environment.driver, ledger: config.state,
            liveVersion: live?.version, runtime: runtime, proxy: proxy, swarm: swarm, drift: drift, reconciled: reconciled,
            lastDeployment: try ledger.lastDeployment(env: name), lastBackup: try ledger.lastBackup(env: name),
            backups: BackupsOnDisk(config.backupTarget(of: environment)),
            lastVerification: try ledger.lastVerification(env: name),
            replica: environment.backup?.replica.map { ReplicaHealth.read($0, now: context.now()) }, lastSmoke: try ledger.lastSmokeRun(env: name),
            healthNow: await probeNow(health), database: DatabaseGlance.look(environment, config: config, context: context),
            pendingNotes: try ledger.pendingNotes(env: name).count, generatedAt: context.now())
    }
}

/// `opsctl history ENV`: deploys and rollbacks, newest first.
public struct HistoryReport: Report {
    public var env: String
    public var deployments: [DeploymentRecord]

    public static func load(config: OpsConfig, env: String, limit: Int) throws(OpsError) -> HistoryReport {
        _ = try config.environment(named: env)
        let ledger = try Ledger(path: config.state)
        return HistoryReport(env: env, deployments: try ledger.deployments(env: env, limit: limit))
    }

    public func renderText() -> String {
        guard !deployments.isEmpty else { return "no deploys recorded for \(env) yet" }
        // The slot column only where blue/green ran: stop-start histories stay as they were.
        let slots = deployments.contains { $0.slot != nil }
        let rows = deployments.map { record in
            [String(record.id), TextFormat.timestamp(record.startedAt), record.kind.rawValue, record.version]
                + (slots ? [record.slot ?? "-"] : [])
                + [record.previousVersion ?? "-", record.status.rawValue,
                   record.duration.map { TextFormat.duration(milliseconds: Int(($0 * 1000).rounded())) } ?? "-", record.actor ?? "-", record.reason ?? ""]
        }
        return TextFormat.table(["ID", "STARTED (UTC)", "KIND", "VERSION"] + (slots ? ["SLOT"] : []) + ["FROM", "STATUS", "TOOK", "BY", "REASON"], rows)
    }
}

extension Ledger {
    /// Rows left `running` by an opsctl process on this host that no longer exists (SIGKILL,
    /// power loss) become `interrupted`, so the ledger never claims a deploy is still going.
    public func markOrphanedRuns(host: String) throws(OpsError) -> [DeploymentRecord] {
        let running = try database.query("SELECT \(Self.deploymentColumns) FROM deployments WHERE status = 'running' AND host = ?",
                                         [.text(host)]).map(Self.deployment)
        let orphaned = running.filter { record in
            guard let pid = record.pid else { return true }
            return !Self.isProcessAlive(pid_t(pid))
        }
        for record in orphaned {
            try finishDeployment(id: record.id, status: .interrupted,
                                 reason: "opsctl process \(record.pid.map(String.init) ?? "?") ended before finishing (killed or crashed)")
        }
        return orphaned
    }

    static func isProcessAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
