// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl deploy` and `opsctl rollback`: the planner validates and settles what to do, the
/// environment's strategy moves traffic (stop-start, blue-green, canary), and around it this runs what
/// every strategy shares: the lock, the ledger row, the pre-deploy backup and hooks, pruning,
/// post-deploy hooks and metrics.
public struct DeployService: Sendable {
    public let config: OpsConfig
    public let environment: EnvironmentConfig
    public let context: OpsContext
    public let mode: DeployMode
    public let interruption: Interruption
    /// Tests shorten time with a virtual clock; the health-wait of a restored release uses the same settings.
    public var clock: any WaitClock = SystemWaitClock()
    /// One health probe; tests answer without a network.
    public var probe: @Sendable (HealthSettings) async -> HealthProbe = HealthWaiter.httpProbe
    /// strategy canary: called with each step while it is watched and when it ends (the terminal's step lines).
    public var canaryProgress: CanaryProgress?
    /// What is in flight to a release being drained; tests answer without a kernel.
    public var activity: any SlotActivityProbe = KernelSlotActivity()

    public init(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext, interruption: Interruption = Interruption(), mode: DeployMode) {
        self.config = config
        self.environment = environment
        self.context = context
        self.interruption = interruption
        self.mode = mode
    }

    /// The service on a runtime that runs slots: plain docker, or a test's fake.
    public init(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext, interruption: Interruption = Interruption(),
                driver: any SlotReleaseDriver) throws(OpsError) {
        self.init(config: config, environment: environment, context: context, interruption: interruption,
                  mode: try DeployMode.slotted(driver, config: config, environment: environment, context: context))
    }

    /// The service with the strategy and the runtime the environment names.
    public static func prepare(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext,
                               interruption: Interruption = Interruption()) async throws(OpsError) -> DeployService {
        DeployService(config: config, environment: environment, context: context, interruption: interruption,
                      mode: try await DeployMode.resolve(config: config, environment: environment, context: context))
    }

    /// What one command works with: made once per deploy or rollback.
    func parts() throws(OpsError) -> (DeployDependencies, any ReleaseSwitch, DeployPlanner) {
        guard let health = environment.health else {
            throw OpsError(.config, code: "config.missing", "\(config.sourcePath): environments.\(environment.name).health.url is required to deploy (opsctl never switches releases blind)")
        }
        let deps = DeployDependencies(config: config, environment: environment, context: context, mode: mode, health: health, interruption: interruption,
                                      clock: clock, probe: probe, canaryProgress: canaryProgress, activity: activity)
        let releaseSwitch = mode.releaseSwitch(deps)
        return (deps, releaseSwitch, DeployPlanner(deps: deps, releaseSwitch: releaseSwitch))
    }

    var standbyKeeper: StandbyKeeper { StandbyKeeper(config: config, environment: environment, context: context, mode: mode) }

    public func deploy(_ version: String, options: DeployOptions) async throws(OpsError) -> DeployReport {
        _ = try DeployPlanner.release(version)
        let parts = try parts()
        if !options.dryRun { await standbyKeeper.stopIfExpired() }
        return try await carryOut(try await parts.2.deploy(version, options: options), parts)
    }

    public func rollback(to version: String?, options: DeployOptions) async throws(OpsError) -> DeployReport {
        let parts = try parts()
        if !options.dryRun { await standbyKeeper.stopIfExpired() }
        return try await carryOut(try await parts.2.rollback(to: version, options: options), parts)
    }

    func carryOut(_ plan: DeployPlan) async throws(OpsError) -> DeployReport { try await carryOut(plan, try parts()) }

    /// Nothing to do, the dry run, or the real thing.
    func carryOut(_ plan: DeployPlan, _ parts: (DeployDependencies, any ReleaseSwitch, DeployPlanner)) async throws(OpsError) -> DeployReport {
        let (deps, releaseSwitch, planner) = parts
        var report = DeployReport(kind: plan.action, env: environment.name, version: plan.version, previousVersion: plan.live?.version, outcome: .planned,
                                  gitCommit: plan.commit, image: plan.image, durationMs: 0)
        report.strategy = environment.strategy
        if plan.isLive(plan.live) {
            report.outcome = .unchanged
            return report
        }
        try await releaseSwitch.refuseEarly(plan, live: plan.live)
        if plan.options.dryRun {
            report.plan = try await planner.dryRun(plan)
            report.slot = try await releaseSwitch.target(for: plan, live: plan.live).slot?.name
            return report
        }
        return try await execute(plan, report: report, deps: deps, releaseSwitch: releaseSwitch)
    }

    // MARK: - under the lock

    func execute(_ plan: DeployPlan, report initial: DeployReport, deps: DeployDependencies, releaseSwitch: any ReleaseSwitch) async throws(OpsError) -> DeployReport {
        var report = initial
        let ledger = try context.ledger(config.state)   // creates the state directory the lock file lives in
        let lock = try await FileLock.acquire(path: deps.lockPath, what: "a deploy or rollback of \(environment.name)",
                                              command: "\(plan.action.rawValue) \(environment.name) \(plan.version)", wait: plan.options.waitLock,
                                              interruption: interruption, now: context.now)
        defer {
            try? ledger.clearLock(scope: DeployLock.scope(environment))
            lock.release()
        }
        // What runs, asked again under the lock: a run that held it while we planned (pulled an
        // image, waited with --wait-lock) may have switched releases meanwhile.
        let live = try await releaseSwitch.liveRelease()
        report.previousVersion = live?.version
        if plan.isLive(live) {
            report.outcome = .unchanged
            return report
        }
        if let maintenance = try ledger.activeMaintenance(env: environment.name) {
            throw OpsError(.checkFailed, code: "deploy.maintenance",
                           "\(environment.name) is \(maintenance.state == .paused ? "paused" : "in maintenance") since \(TextFormat.timestamp(maintenance.startedAt)): a switch would put users back on the app behind opsctl's back; nothing was changed",
                           details: ["end it first: opsctl maintenance \(environment.name) \(maintenance.state == .paused ? "resume" : "off")"])
        }
        report.staleLockHolder = lock.staleHolder?.description
        if let stale = lock.staleHolder { context.logger.warning("cleared a stale deploy lock: \(stale.description)") }
        try ledger.recordLock(scope: DeployLock.scope(environment), holder: lock.holder)
        let target = try await releaseSwitch.target(for: plan, live: live)
        let recorder = DeployRecorder(ledger: ledger, deps: deps)
        let run = DeployRun(report: report, recorder: recorder, id: try recorder.begin(plan, target: target, previous: live), options: plan.options)
        try await prepareSwitch(plan, live: live, run: run)
        let result = await releaseSwitch.perform(plan, target: target, live: live, run: run)
        run.record(result.found)
        guard result.outcome == .succeeded else { return try run.finish(result.outcome, result.reason, logs: result.logs) }
        run.record(await afterSuccess(plan, target: target, live: live, run: run))
        return try run.finish(.succeeded, nil)
    }

    /// Before anything changes: backup, pre_deploy hooks. A failure here leaves the live release
    /// alone and is recorded `aborted` (not `failed`: nothing stopped serving).
    func prepareSwitch(_ plan: DeployPlan, live: DeployedRelease?, run: DeployRun) async throws(OpsError) {
        let serving = live?.version ?? "nothing"
        func stopIfInterrupted() throws(OpsError) {
            guard let reason = interruption.reason else { return }
            _ = try run.finish(.aborted, "\(reason) before anything changed")
            throw OpsError(.checkFailed, code: "deploy.interrupted", "\(reason) before anything changed; \(serving) still serves")
        }
        try stopIfInterrupted()
        if plan.action == .deploy, environment.backup?.beforeDeploy == true, environment.database != nil {
            do {
                var request = try BackupRequest.forEnvironment(environment, config: config)
                // Uploads (a backlog after an outage, a dead endpoint's retries) must not hold the
                // deploy lock: the next scheduled `opsctl backup` takes this one off-site.
                request.offsite = nil
                let backup = try BackupService.run(request, context: context)
                run.step("pre-deploy backup", URL(fileURLWithPath: backup.file).lastPathComponent)
            } catch {
                run.step("pre-deploy backup", "failed")
                _ = try run.finish(.aborted, "pre-deploy backup failed: \(error.message); nothing was changed")
                throw OpsError(error.kind, code: "deploy.backup_failed", "pre-deploy backup failed: \(error.message); \(serving) still serves, nothing was changed")
            }
        }
        try stopIfInterrupted()
        if plan.action == .deploy, !environment.hooks.preDeploy.isEmpty {
            let outcomes = await hooks().run(environment.hooks.preDeploy, env: environment.name, version: plan.version, previous: live?.version)
            run.record(DeployFindings(hooks: outcomes))
            run.step("pre_deploy hooks")
            if let failed = outcomes.first(where: { !$0.ok }) {
                _ = try run.finish(.aborted, "pre_deploy hook failed: \(failed.command): \(failed.detail ?? "")")
                throw OpsError(.checkFailed, code: "deploy.hook_failed", "pre_deploy hook failed: \(failed.command): \(failed.detail ?? ""); \(serving) still serves, nothing was changed")
            }
        }
        try stopIfInterrupted()
    }

    /// The release serves: old stopped releases beyond `keep_releases` go, post_deploy hooks run.
    func afterSuccess(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?, run: DeployRun) async -> DeployFindings {
        var found = DeployFindings()
        do {
            found.pruned = try await mode.driver.prune(keep: environment.keepReleases, protecting: Set([live?.ref, target.ref].compactMap { $0 }))
        } catch {
            found.warnings.append("could not remove old releases: \(error.message)")
        }
        if plan.action == .deploy, !environment.hooks.postDeploy.isEmpty {
            let outcomes = await hooks().run(environment.hooks.postDeploy, env: environment.name, version: plan.version, previous: live?.version)
            found.hooks = outcomes
            for failed in outcomes where !failed.ok { found.warnings.append("post_deploy hook failed (the deploy stands): \(failed.command)") }
            run.step("post_deploy hooks")
        }
        return found
    }

    func hooks() -> DeployHooks {
        DeployHooks(runner: context.runner, workingDirectory: URL(fileURLWithPath: config.sourcePath).deletingLastPathComponent().path, redactor: config.redactor)
    }
}
