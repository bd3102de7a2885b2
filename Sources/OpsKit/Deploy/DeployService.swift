import Foundation

public struct DeployOptions: Sendable {
    public var dryRun = false
    /// `--no-rollback`: a failed release stays (exit 4), whatever `rollback:` says.
    public var noRollback = false
    public var skipSmoke = false
    public var force = false
    public var waitLock: OpsDuration?
    public var message: String?
    /// `--junit FILE`: the deploy's smoke run as JUnit XML, for CI's test results.
    public var junitPath: String?

    public init() {}
}

/// `opsctl deploy` and `opsctl rollback` (docs/reference.md, "deploy"): validate everything, lock,
/// switch releases, health-wait with a fail-fast container check, smoke, and on any failure
/// put the previous good release back.
public struct DeployService: Sendable {
    public let config: OpsConfig
    public let environment: EnvironmentConfig
    public let context: OpsContext
    public let driver: any ReleaseDriver
    public let interruption: Interruption
    public let redactor: Redactor
    /// Tests shorten it; the health-wait of the restored release uses the same settings.
    public var clock: any WaitClock = SystemWaitClock()

    public init(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext, interruption: Interruption = Interruption(),
                driver: (any ReleaseDriver)? = nil) throws(OpsError) {
        self.config = config
        self.environment = environment
        self.context = context
        self.interruption = interruption
        self.driver = driver ?? DockerReleaseDriver(config: config, environment: environment, docker: context.docker)
        self.redactor = config.redactor
    }

    /// The service with the driver the environment names.
    public static func prepare(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext,
                               interruption: Interruption = Interruption()) async throws(OpsError) -> DeployService {
        let driver = try await ReleaseDrivers.make(config: config, environment: environment, context: context)
        return try DeployService(config: config, environment: environment, context: context, interruption: interruption, driver: driver)
    }

    var docker: DockerReleaseDriver? { driver as? DockerReleaseDriver }
    var health: HealthSettings { environment.health! }
    var lockPath: String { URL(fileURLWithPath: config.state).deletingLastPathComponent().path + "/.deploy-\(environment.name).lock" }

    // MARK: - deploy

    public func deploy(_ versionText: String, options: DeployOptions) async throws(OpsError) -> DeployReport {
        let started = ContinuousClock.now
        let version: SemVer
        do { version = try SemVer(parsing: versionText) } catch {
            throw OpsError(.usage, code: "semver.invalid", error.description, details: ["releases are strict semantic versions, e.g. 1.0.1 or 2.0.0-rc.1"])
        }
        try requireDeployable()
        let tag = config.git.tag(for: version)
        let git = GitClient(runner: context.runner, directory: config.git.dir)
        guard let commit = try await git.commit(for: "refs/tags/\(tag)") else {
            let known = (try? await git.releaseTags(prefix: config.git.tagPrefix).prefix(5).map(\.tag)) ?? []
            throw OpsError(.usage, code: "git.tag_missing", "tag \(tag) does not exist in \(config.git.dir): release \(version) was never tagged",
                           details: known.isEmpty ? ["no release tags there yet"] : ["newest tags: " + known.joined(separator: ", ")])
        }
        let versionString = version.description
        let image = imageReference(versionString)
        _ = try await context.docker.version()   // exit 69 before anything changes when the daemon is down
        try await ensureImage(versionString, tag: tag, dryRun: options.dryRun)
        try await driver.validate(version: versionString)
        // The runbook's checklist, the part that must never be skipped (preflight.fatal): a
        // placeholder secret or a world-readable env file stops the deploy before anything changes.
        let preflight = await PreflightService(config: config, environment: environment, context: context).run(fatalOnly: true)
        let failing = preflight.checks.filter { $0.status == .fail }
        if !failing.isEmpty {
            throw OpsError(.checkFailed, code: "preflight.failed",
                           "preflight failed, nothing was changed: " + failing.map { "\($0.id): \($0.summary)" }.joined(separator: "; "),
                           details: failing.compactMap { $0.fix.map { "fix: \($0)" } } + ["opsctl preflight \(environment.name) runs the whole checklist"])
        }
        let ledger = try Ledger(path: config.state)
        _ = try ledger.markOrphanedRuns(host: ProcessInfo.processInfo.hostName)
        let live = try await liveRelease()
        var report = DeployReport(kind: "deploy", env: environment.name, version: versionString, previousVersion: live?.version, outcome: .planned,
                                  gitCommit: commit, image: image, durationMs: 0)
        if live?.version == versionString, live?.running == true, !options.force {
            report.outcome = .unchanged
            return report
        }
        if options.dryRun {
            report.plan = plan(version: versionString, live: live, tag: tag, options: options)
            return report
        }
        return try await switchRelease(to: versionString, kind: "deploy", from: live, commit: commit, options: options, report: report,
                                       ledger: ledger, started: started, fresh: true)
    }

    // MARK: - rollback

    public func rollback(to requested: String?, options: DeployOptions) async throws(OpsError) -> DeployReport {
        let started = ContinuousClock.now
        try requireDeployable()
        _ = try await context.docker.version()
        let ledger = try Ledger(path: config.state)
        _ = try ledger.markOrphanedRuns(host: ProcessInfo.processInfo.hostName)
        let live = try await liveRelease()
        let succeeded = try ledger.succeededVersions(env: environment.name)
        let target: String
        if let requested {
            let parsed: SemVer
            do { parsed = try SemVer(parsing: requested) } catch {
                throw OpsError(.usage, code: "semver.invalid", error.description)
            }
            guard succeeded.contains(parsed.description) else {
                throw OpsError(.usage, code: "rollback.unknown_version", "\(parsed) was never deployed successfully to \(environment.name)",
                               details: ["releases that were: " + (succeeded.isEmpty ? "none" : succeeded.joined(separator: ", "))])
            }
            target = parsed.description
        } else {
            let liveVersion = live.flatMap { try? SemVer(parsing: $0.version) }
            guard let older = succeeded.first(where: { candidate in
                guard let version = try? SemVer(parsing: candidate) else { return false }
                return liveVersion.map { version < $0 } ?? true
            }) else {
                throw OpsError(.usage, code: "rollback.nothing_older", "no release older than \(live?.version ?? "the live one") succeeded in \(environment.name)",
                               details: ["see opsctl history \(environment.name); --to VERSION picks one"])
            }
            target = older
        }
        if live?.version == target, live?.running == true, !options.force {
            return DeployReport(kind: "rollback", env: environment.name, version: target, previousVersion: live?.version, outcome: .unchanged,
                                image: imageReference(target), durationMs: 0)
        }
        let kept = try await driver.releases().contains { $0.version == target && !$0.running }
        if !kept { try await ensureImage(target, tag: nil, dryRun: options.dryRun) }
        try await driver.validate(version: target)
        var report = DeployReport(kind: "rollback", env: environment.name, version: target, previousVersion: live?.version, outcome: .planned,
                                  image: imageReference(target), durationMs: 0)
        if options.dryRun {
            report.plan = plan(version: target, live: live, tag: nil, options: options, reuseKept: kept)
            return report
        }
        return try await switchRelease(to: target, kind: "rollback", from: live, commit: nil, options: options, report: report,
                                       ledger: ledger, started: started, fresh: false)
    }

    // MARK: - the switch, shared by deploy and rollback

    func switchRelease(to version: String, kind: String, from liveBeforeLock: DeployedRelease?, commit: String?, options: DeployOptions,
                       report initial: DeployReport, ledger: Ledger, started: ContinuousClock.Instant, fresh: Bool) async throws(OpsError) -> DeployReport {
        var report = initial
        let lock = try await FileLock.acquire(path: lockPath, what: "a deploy or rollback of \(environment.name)", command: "\(kind) \(environment.name) \(version)",
                                              wait: options.waitLock, interruption: interruption, now: context.now)
        defer {
            try? ledger.clearLock(scope: "deploy:\(environment.name)")
            lock.release()
        }
        // Whoever held the lock before us (--wait-lock) may have changed what runs.
        let live = options.waitLock == nil ? liveBeforeLock : try await liveRelease()
        report.previousVersion = live?.version
        if live?.version == version, live?.running == true, !options.force {
            report.outcome = .unchanged
            return report
        }
        report.staleLockHolder = lock.staleHolder?.description
        if let stale = lock.staleHolder { context.logger.warning("cleared a stale deploy lock: \(stale.description)") }
        try ledger.recordLock(scope: "deploy:\(environment.name)", holder: lock.holder)
        let id = try ledger.beginDeployment(env: environment.name, kind: kind, version: version, previousVersion: live?.version, gitCommit: commit,
                                            image: imageReference(version), container: docker?.containerName(version), actor: context.actor,
                                            message: options.message, at: context.now())
        report.ledgerId = id
        var stepStart = ContinuousClock.now
        func step(_ name: String, _ detail: String? = nil) {
            report.steps.append(.init(name: name, ms: (ContinuousClock.now - stepStart).milliseconds, detail: detail))
            stepStart = ContinuousClock.now
        }
        func finish(_ outcome: DeployReport.Outcome, _ reason: String?, logs: String? = nil) throws(OpsError) -> DeployReport {
            report.outcome = outcome
            report.reason = reason.map(redactor.scrub)
            report.durationMs = (ContinuousClock.now - started).milliseconds
            let status: DeploymentStatus = switch outcome {
            case .succeeded: .succeeded
            case .rolledBack: .rolledBack
            case .interrupted: .interrupted
            case .aborted: .aborted
            default: .failed
            }
            try ledger.finishDeployment(id: id, status: status, reason: report.reason, logs: logs.map(redactor.scrub), at: context.now())
            writeMetrics(report)
            return report
        }

        // Before anything changes: backup, pre_deploy hooks. A failure here leaves the live release
        // alone and is recorded `aborted` (not `failed`: nothing stopped serving).
        func stopIfInterrupted() throws(OpsError) {
            guard let reason = interruption.reason else { return }
            _ = try finish(.aborted, "\(reason) before anything changed")
            throw OpsError(.checkFailed, code: "deploy.interrupted", "\(reason) before anything changed; \(live?.version ?? "nothing") still serves")
        }
        try stopIfInterrupted()
        if kind == "deploy", environment.backup?.beforeDeploy == true, environment.database != nil {
            do {
                let backup = try BackupService.run(try BackupRequest.forEnvironment(environment, config: config), context: context)
                step("pre-deploy backup", URL(fileURLWithPath: backup.file).lastPathComponent)
            } catch {
                step("pre-deploy backup", "failed")
                _ = try finish(.aborted, "pre-deploy backup failed: \(error.message); nothing was changed")
                throw OpsError(error.kind, code: "deploy.backup_failed", "pre-deploy backup failed: \(error.message); \(live?.version ?? "nothing") still serves, nothing was changed")
            }
        }
        try stopIfInterrupted()
        if kind == "deploy", !environment.hooks.preDeploy.isEmpty {
            report.hooks += await hooks().run(environment.hooks.preDeploy, env: environment.name, version: version, previous: live?.version)
            step("pre_deploy hooks")
            if let failed = report.hooks.first(where: { !$0.ok }) {
                _ = try finish(.aborted, "pre_deploy hook failed: \(failed.command): \(failed.detail ?? "")")
                throw OpsError(.checkFailed, code: "deploy.hook_failed", "pre_deploy hook failed: \(failed.command): \(failed.detail ?? ""); \(live?.version ?? "nothing") still serves, nothing was changed")
            }
        }
        try stopIfInterrupted()

        // The switch: stop the live release (kept), start the new one.
        do {
            if let live, live.running {
                try await driver.stop(version: live.version)
                step("stop \(live.version)", driver.keepsStoppedReleases ? "kept for rollback" : nil)
            }
            try await driver.launch(version: version, fresh: fresh)
            step("start \(version)")
        } catch {
            step("start \(version)", "failed")
            let recovery = await recover(from: version, live: live, reason: "could not start \(version): \(error.message)", options: options, report: &report)
            return try finish(recovery.outcome, recovery.reason, logs: recovery.logs)
        }

        // Health: HTTP probe plus a container check each round; an exit fails at once.
        let healthStart = ContinuousClock.now
        let healthReport = await waitHealthy(version)
        report.health = healthReport
        step("health", healthReport.healthy ? "\(healthReport.attempts) probe(s)" : "failed")
        guard healthReport.healthy else {
            let reason = healthReport.abortedBecause ?? "not healthy after \(health.timeout): \(healthReport.last?.reason ?? "no answer")"
            let recovery = await recover(from: version, live: live, reason: reason, options: options, report: &report)
            return try finish(recovery.outcome, recovery.reason, logs: recovery.logs)
        }

        // Smoke: retried until the rest of the health budget is spent, so warming caches get a chance.
        if !options.skipSmoke, let smoke = environment.smoke, !smoke.checks.isEmpty {
            let remaining = max(2_000, health.timeout.milliseconds - Int64((ContinuousClock.now - healthStart).milliseconds))
            let smokeReport = await SmokeRunner(settings: smoke, clock: clock, now: context.now, shouldStop: { interruption.signal != nil })
                .run(mode: .converge(budget: OpsDuration(milliseconds: remaining), interval: health.interval))
            var recorded = smokeReport
            recorded.env = environment.name
            recorded.scrub(with: redactor)
            report.smoke = recorded
            try? ledger.recordSmokeRun(env: environment.name, report: recorded)
            writeJUnit(recorded, to: options.junitPath)
            step("smoke", "\(recorded.passed)/\(recorded.checks.count) passed")
            if recorded.failed > 0 {
                let failures = recorded.checks.filter { !$0.passed }.map { "\($0.name): \($0.reason ?? "failed")" }.joined(separator: "; ")
                let recovery = await recover(from: version, live: live, reason: interruption.reason ?? "smoke failed: \(failures)", options: options, report: &report)
            return try finish(recovery.outcome, recovery.reason, logs: recovery.logs)
            }
        }
        if interruption.signal != nil {
            let recovery = await recover(from: version, live: live, reason: interruption.reason!, options: options, report: &report)
            return try finish(recovery.outcome, recovery.reason, logs: recovery.logs)
        }

        // Success.
        report.outcome = .succeeded
        do {
            report.pruned = try await driver.prune(keep: environment.keepReleases, protecting: Set([live?.version, version].compactMap { $0 }))
        } catch {
            report.warnings.append("could not remove old releases: \(error.message)")
        }
        if kind == "deploy", !environment.hooks.postDeploy.isEmpty {
            let outcomes = await hooks().run(environment.hooks.postDeploy, env: environment.name, version: version, previous: live?.version)
            report.hooks += outcomes
            for failed in outcomes where !failed.ok { report.warnings.append("post_deploy hook failed (the deploy stands): \(failed.command)") }
            step("post_deploy hooks")
        }
        return try finish(.succeeded, nil)
    }

    struct Recovery {
        var outcome: DeployReport.Outcome
        var reason: String
        var logs: String?
    }

    /// The new release failed: keep its logs, put the previous good release back, and say how that went.
    func recover(from failed: String, live: DeployedRelease?, reason: String, options: DeployOptions, report: inout DeployReport) async -> Recovery {
        report.failedAt = Date()
        let logs = redactor.scrub(await driver.logs(version: failed, lines: 50))
        report.failedLogs = logs.isEmpty ? nil : logs
        let interrupted = interruption.signal != nil
        let reason = interrupted && !reason.hasPrefix("interrupted") ? "\(interruption.reason!) (\(reason))" : reason
        context.logger.error("\(report.kind) of \(failed) failed: \(redactor.scrub(reason))")
        guard environment.rollback == .auto, !options.noRollback else {
            return Recovery(outcome: .failed, reason: "\(reason); rollback is off: \(failed) left as it is, run opsctl rollback \(environment.name)", logs: logs)
        }
        guard let live, live.version != failed else {
            try? await driver.stop(version: failed)
            return Recovery(outcome: .failed, reason: "\(reason); there is no previous release to go back to", logs: logs)
        }
        let recoveryStart = ContinuousClock.now
        // Kept, stopped, for the post-mortem; it may never have been created (docker run failed).
        try? await driver.stop(version: failed)
        do {
            try await driver.launch(version: live.version, fresh: false)
        } catch {
            return Recovery(outcome: .failed, reason: "\(reason); restarting \(live.version) failed too: \(error.message)", logs: logs)
        }
        let restored = await waitHealthy(live.version, honourInterruption: false)
        report.recoveryHealth = restored
        report.steps.append(.init(name: "restore \(live.version)", ms: (ContinuousClock.now - recoveryStart).milliseconds,
                                  detail: restored.healthy ? "healthy" : "NOT healthy"))
        guard restored.healthy else {
            let why = restored.abortedBecause ?? restored.last?.reason ?? "no answer"
            return Recovery(outcome: .failed, reason: "\(reason); \(live.version) did not come back healthy either: \(why)", logs: logs)
        }
        return Recovery(outcome: interrupted ? .interrupted : .rolledBack, reason: reason, logs: logs)
    }

    func waitHealthy(_ version: String, honourInterruption: Bool = true) async -> HealthWaitReport {
        let driver = self.driver
        let interruption = self.interruption
        var report = await HealthWaiter(settings: health, clock: clock, extraCheck: {
            if honourInterruption, let reason = interruption.reason { return reason }
            return await driver.fatalState(version: version)
        }).wait()
        // The last probe quotes the response body: a debug page must not carry a secret into the ledger.
        let scrubbed = report.last?.reason.map(redactor.scrub)
        report.last?.reason = scrubbed
        return report
    }

    // MARK: - validation and helpers

    func requireDeployable() throws(OpsError) {
        guard environment.health != nil else {
            throw OpsError(.config, code: "config.missing", "\(config.sourcePath): environments.\(environment.name).health.url is required to deploy (opsctl never switches releases blind)")
        }
    }

    func imageReference(_ version: String) -> String {
        ReleaseIdentity(config: config, environment: environment).imageReference(version)
    }

    /// The release image must be here before anything changes: present, pulled (`run.pull`), or built from the tag (`build:`).
    func ensureImage(_ version: String, tag: String?, dryRun: Bool) async throws(OpsError) {
        let reference = imageReference(version)
        if try await context.docker.imageExists(reference) { return }
        if dryRun { return }
        if let build = environment.build, let tag {
            var builder = ImageBuilder(runner: context.runner, git: config.git.dir, scratch: URL(fileURLWithPath: config.state).deletingLastPathComponent().path)
            builder.redactor = redactor
            try await builder.build(reference: reference, tag: tag, settings: build)
            return
        }
        if environment.run.pull {
            try await context.docker.checked(["image", "pull", "--", reference], code: "docker.pull", timeout: .seconds(600))
            return
        }
        throw OpsError(.unavailable, code: "image.missing", "image \(reference) is not present on this host",
                       details: ["build it, load it (docker load), set run.pull: true to pull it, or add a build: section to build it from the tag"])
    }

    /// The live release: what docker runs (the ledger can be wrong after a crash; docker cannot).
    func liveRelease() async throws(OpsError) -> DeployedRelease? {
        let releases = try await driver.releases()
        let running = releases.filter(\.running)
        if running.count > 1 {
            context.logger.warning("\(running.count) releases run at once: \(running.map(\.container).joined(separator: ", ")); the newest counts as live")
        }
        if let newest = running.sorted(by: { $0.created > $1.created }).first { return newest }
        // Nothing runs (a crash, a manual stop): the newest succeeded release the ledger knows is the one to come back to.
        let ledger = try Ledger(path: config.state)
        guard let version = try ledger.lastDeployment(env: environment.name, status: .succeeded)?.version else { return nil }
        return releases.first { $0.version == version }
    }

    func plan(version: String, live: DeployedRelease?, tag: String?, options: DeployOptions, reuseKept: Bool = false) -> [String] {
        var lines: [String] = []
        for (setting, secret) in environment.secretSettings {
            guard let argv = secret.command else { continue }
            lines.append("secret: \(setting) = output of \(redactor.scrub(ProcessRequest(argv[0], Array(argv.dropFirst())).displayCommand))   # fetched, value never shown")
        }
        if let tag { lines.append("git -C \(config.git.dir) rev-parse --verify refs/tags/\(tag)^{commit}   # ok") }
        lines.append("docker image inspect \(imageReference(version))")
        lines.append("lock \(lockPath)")
        lines.append("ledger: \(options.message.map { "row running (\($0))" } ?? "row running") in \(config.state)")
        if environment.backup?.beforeDeploy == true, tag != nil { lines.append("backup \(environment.name) (backup.before_deploy)") }
        for hook in environment.hooks.preDeploy where tag != nil { lines.append("hook: " + redactor.scrub(ProcessRequest(hook[0], Array(hook.dropFirst())).displayCommand)) }
        if let live, live.running {
            lines += driver.stopPlan(version: live.version).map { redactor.scrub($0.displayCommand) }
        }
        if reuseKept, let docker {
            lines.append(ProcessRequest("docker", ["container", "start", "--", docker.containerName(version)]).displayCommand)
        } else {
            lines += driver.launchPlan(version: version).map { request in
                let environment = request.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value) " }.joined()
                return redactor.scrub(environment + request.displayCommand)
            }
        }
        lines.append("health-wait \(health.url) every \(health.interval), \(health.successes) pass(es) in a row, timeout \(health.timeout), docker inspect each round")
        if !options.skipSmoke, let smoke = environment.smoke, !smoke.checks.isEmpty {
            lines.append("smoke: \(smoke.checks.count) check(s), converge within the health budget")
        }
        let rollback = environment.rollback == .auto && !options.noRollback
        lines.append("on failure: " + (!rollback ? "leave \(version) for inspection (rollback manual)"
            : live.map { "stop \(version), start \($0.version) again, health-wait it" } ?? "stop \(version); there is no previous release"))
        if driver.keepsStoppedReleases { lines.append("on success: keep \(environment.keepReleases) stopped release(s), remove older ones") }
        for hook in environment.hooks.postDeploy where tag != nil { lines.append("hook: " + redactor.scrub(ProcessRequest(hook[0], Array(hook.dropFirst())).displayCommand)) }
        return lines
    }

    /// A report file must not fail a deploy that went well: a write error is a warning.
    func writeJUnit(_ report: SmokeReport, to path: String?) {
        guard let path else { return }
        do { try AtomicFile.write(report.junitXML(), to: path) } catch {
            context.logger.warning("could not write the smoke JUnit report: \(error.message)")
        }
    }

    func hooks() -> DeployHooks {
        DeployHooks(runner: context.runner, workingDirectory: URL(fileURLWithPath: config.sourcePath).deletingLastPathComponent().path, redactor: redactor)
    }

    func writeMetrics(_ report: DeployReport) {
        guard let directory = environment.metrics?.textfileDir else { return }
        let env = environment.name
        let now = context.now().timeIntervalSince1970.rounded()
        var samples = [
            MetricSample("opsctl_deploy_last_run_timestamp_seconds", "When a deploy or rollback last finished.", labels: [("env", env)], now),
            MetricSample("opsctl_deploy_last_duration_seconds", "Wall time of the last deploy or rollback.", labels: [("env", env)], Double(report.durationMs) / 1000),
            MetricSample("opsctl_deploy_last_failed", "1 when the last deploy or rollback failed.", labels: [("env", env)], report.outcome == .succeeded ? 0 : 1),
        ]
        if report.outcome == .succeeded {
            samples.append(MetricSample("opsctl_deploy_last_success_timestamp_seconds", "When a deploy or rollback last succeeded.", labels: [("env", env)], now))
            samples.append(MetricSample("opsctl_release_info", "The live release.", labels: [("env", env), ("version", report.version)], 1))
        }
        // Counts from the ledger, so they survive between runs like a counter (and a deleted
        // metrics file comes back whole): dashboards take increase() over a window.
        if let counts = try? Ledger(path: config.state).deploymentCounts(env: env) {
            samples += counts.map { MetricSample("opsctl_deployments", "Deploys and rollbacks recorded in the ledger, by kind and final status.",
                                                 labels: [("env", env), ("kind", $0.kind), ("status", $0.status)], Double($0.count)) }
        }
        do { try MetricsFile.update(directory: directory, env: env, samples: samples) } catch {
            context.logger.warning("could not write metrics: \(error.message)")
        }
    }

}

extension Ledger {
    /// Finished deploys and rollbacks of `env`, by kind and status.
    public func deploymentCounts(env: String) throws(OpsError) -> [(kind: String, status: String, count: Int)] {
        try database.query("SELECT kind, status, COUNT(*) FROM deployments WHERE env = ? AND status != 'running' GROUP BY kind, status ORDER BY kind, status",
                           [.text(env)]).map { ($0.string(0) ?? "deploy", $0.string(1) ?? "?", $0.int(2) ?? 0) }
    }

    /// Newest first, distinct: the versions that were live at some point in `env`.
    public func succeededVersions(env: String) throws(OpsError) -> [String] {
        var seen = Set<String>()
        return try database.query("SELECT version FROM deployments WHERE env = ? AND status = 'succeeded' ORDER BY started_at DESC, id DESC",
                                  [.text(env)]).compactMap { row in
            guard let version = row.string(0), seen.insert(version).inserted else { return nil }
            return version
        }
    }

    public func recordLock(scope: String, holder: FileLock.Holder) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("INSERT OR REPLACE INTO locks (scope, holder, pid, host, command, acquired_at) VALUES (?, ?, ?, ?, ?, ?)",
                               [.text(scope), .text(holder.description), .integer(Int64(holder.pid)), .text(holder.host), .text(holder.command),
                                .real(holder.startedAt.ledgerTime)])
        }
    }

    public func clearLock(scope: String) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("DELETE FROM locks WHERE scope = ? AND pid = ?", [.text(scope), .integer(Int64(getpid()))])
        }
    }
}
