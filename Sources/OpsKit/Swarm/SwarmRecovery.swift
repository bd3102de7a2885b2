import Foundation

/// A release that failed on Swarm: keep its tasks' last lines, put the previous release back on
/// every node it can run on, health-wait it, and say how that went.
extension SwarmSwitch {
    /// What is left to undo when the failure is found.
    enum Undo {
        /// The create/update command failed: the spec never changed.
        case nothingChanged
        /// Swarm already went back (`rollback_completed`).
        case alreadyRolledBack
        /// opsctl asks Swarm to go back: `docker service rollback`.
        case rollback
    }

    func recover(_ failed: ReleaseTarget, live: DeployedRelease?, reason: String, undo: Undo, options: DeployOptions, run: DeployRun,
                 report: inout SwarmDeployReport) async -> SwitchResult {
        let result = await undoFailure(failed, live: live, reason: reason, undo: undo, options: options, run: run, report: &report)
        // The failed release's new secret versions are unused now.
        if let removed = try? await driver.prune(keep: 0, protecting: []) { run.report.pruned += removed }
        return result
    }

    func undoFailure(_ failed: ReleaseTarget, live: DeployedRelease?, reason: String, undo: Undo, options: DeployOptions, run: DeployRun,
                     report: inout SwarmDeployReport) async -> SwitchResult {
        let logs = await failedLogs(failed, report: report, run: run)
        let interrupted = deps.interruption.signal != nil
        let reason = checks.reason(reason)
        deps.context.logger.error("\(run.report.kind.rawValue) of \(failed.version) failed: \(deps.redactor.scrub(reason))")
        if undo == .rollback, !deps.rollbackEnabled(options) {
            return SwitchResult(outcome: .failed, reason: "\(reason); rollback is off: \(failed.version) left as it is, run opsctl rollback \(deps.environment.name)", logs: logs)
        }
        guard let live, live.version != failed.version else {
            if undo != .nothingChanged { try? await driver.stop(failed.ref) }
            return SwitchResult(outcome: .failed, reason: "\(reason); there is no previous release to go back to" + (undo != .nothingChanged ? " (\(name) scaled to 0)" : ""), logs: logs)
        }
        let recoveryStart = ContinuousClock.now
        if undo == .rollback, let failure = await rollBack(to: live.version, report: &report) {
            run.report.steps.append(.init(name: "swarm rollback", ms: (ContinuousClock.now - recoveryStart).milliseconds, detail: "did not finish"))
            return SwitchResult(outcome: .failed, reason: "\(reason); \(failure)", logs: logs)
        }
        let restored = await checks.waitHealthy(live.ref, health: deps.health, honourInterruption: false)
        run.report.recoveryHealth = restored
        let step = undo == .rollback ? "swarm rollback to \(live.version)" : "health of \(live.version)"
        run.report.steps.append(.init(name: step, ms: (ContinuousClock.now - recoveryStart).milliseconds, detail: restored.healthy ? "healthy" : "NOT healthy"))
        guard restored.healthy else {
            let why = restored.abortedBecause ?? restored.last?.reason ?? "no answer"
            return SwitchResult(outcome: .failed, reason: "\(reason); \(live.version) did not come back healthy either: \(why)", logs: logs)
        }
        return SwitchResult(outcome: interrupted ? .interrupted : .rolledBack, reason: reason, logs: logs)
    }

    /// The failing tasks' last lines (or, when Swarm saw nothing fail, the release's running
    /// tasks'), read before anything is rolled back, scrubbed, kept in the report and the ledger.
    func failedLogs(_ failed: ReleaseTarget, report: SwarmDeployReport, run: DeployRun) async -> String {
        run.report.failedAt = deps.context.now()
        let tasks = report.failingTasks.isEmpty ? report.tasks.filter { $0.version == failed.version } : report.failingTasks
        let logs = deps.redactor.scrub(await driver.logs(of: Array(tasks.prefix(3)), lines: 30))
        run.report.failedLogs = logs.isEmpty ? nil : logs
        return logs
    }

    /// `docker service rollback` and the wait for it; nil when the previous release runs again
    /// on every node that can run it, else why not.
    func rollBack(to version: String, report: inout SwarmDeployReport) async -> String? {
        let before = try? await watch.snapshot()
        do { try await driver.rollbackCommand().run(runner: driver.runner) } catch {
            return "docker service rollback failed too: \(error.message)"
        }
        let startedBefore = before?.service?.updateStatus?.startedAt
        let outcome = await watch.wait(budget: await budget(), version: version, honourInterruption: false) { snapshot in
            SwarmVerdict.rollback(snapshot, version: version, before: startedBefore)
        }
        if let snapshot = outcome.snapshot {
            report.updateState = snapshot.service?.updateStatus?.state
            report.updateMessage = snapshot.service?.updateStatus?.message
            report.tasks = snapshot.current.map { SwarmTaskView($0, in: snapshot) }
            report.nodeProblems = snapshot.nodes.compactMap(\.problem)
        }
        switch outcome {
        case .done: return nil
        case .stuck(let why, _): return "Swarm's rollback to \(version) did not finish: \(why)"
        case .rolledBackBySwarm, .interrupted: return nil
        }
    }
}
