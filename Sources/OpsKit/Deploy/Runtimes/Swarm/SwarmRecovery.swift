// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

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
        /// opsctl puts the previous release back (`SwarmGoingBack` says how); `last` is the
        /// last look at the service before that, if any.
        case rollback(last: SwarmSnapshot?)

        var changedSomething: Bool { if case .nothingChanged = self { false } else { true } }
    }

    /// The result carries `found` (what the checks found, if they ran) and what the recovery found.
    func recover(_ failed: ReleaseTarget, live: DeployedRelease?, reason: String, undo: Undo, run: DeployRun,
                 found: DeployFindings = DeployFindings(), report: inout SwarmDeployReport) async -> SwitchResult {
        var result = await undoFailure(failed, live: live, reason: reason, undo: undo, run: run, found: found, report: &report)
        // The failed release's new secret versions are unused now.
        if let removed = try? await driver.prune(keep: 0, protecting: []) { result.found.pruned += removed }
        return result
    }

    func undoFailure(_ failed: ReleaseTarget, live: DeployedRelease?, reason: String, undo: Undo, run: DeployRun,
                     found: DeployFindings, report: inout SwarmDeployReport) async -> SwitchResult {
        let recovery = ReleaseRecovery(deps: deps, run: run, failed: failed, reason: reason, logs: await failedLogs(failed, report: report), found: found)
        if case .rollback = undo, !run.rollbackEnabled { return recovery.leftForInspection(failed) }
        // A forced redeploy of the live version goes back too: to the previous spec, whose tasks worked.
        guard let live else {
            guard undo.changedSomething else { return recovery.failure("there is no previous release to go back to") }
            let stopped: String
            do { try await driver.stop(failed.ref); stopped = driver.stopped } catch { stopped = "could not be \(driver.stopped): \(error.message)" }
            return recovery.failure("there is no previous release to go back to (\(name) \(stopped))")
        }
        let recoveryStart = ContinuousClock.now
        let notBack: String? = switch undo {
        case .rollback(let last): await rollBack(to: live.version, last: last, report: &report)
        case .alreadyRolledBack: await settle(on: live.version, report: &report)
        case .nothingChanged: nil
        }
        if let notBack {
            run.step("swarm rollback", since: recoveryStart, "did not finish")
            return recovery.failure(notBack)
        }
        let step = !undo.changedSomething ? "health of \(live.version)" : "swarm rollback to \(live.version)"
        return await recovery.confirmBack(live, step: step, since: recoveryStart)
    }

    /// The failing tasks' last lines (or, when Swarm saw nothing fail, the release's running
    /// tasks'), read before anything is rolled back, scrubbed, for the report and the ledger.
    func failedLogs(_ failed: ReleaseTarget, report: SwarmDeployReport) async -> FailedLogs {
        let at = deps.context.now()
        let tasks = report.failingTasks.isEmpty ? report.tasks.filter { $0.version == failed.version } : report.failingTasks
        return FailedLogs(text: deps.redactor.scrub(await driver.logs(of: Array(tasks.prefix(3)), lines: 30)), at: at)
    }

    /// Puts `version` back the way `SwarmGoingBack` chooses from a fresh look at the service
    /// (else `last`), and waits for it; nil when the previous release runs again on every node
    /// that can run it, else why not.
    func rollBack(to version: String, last: SwarmSnapshot?, report: inout SwarmDeployReport) async -> String? {
        let before = await watch.snapshot(attempts: 3) ?? last
        let way = SwarmGoingBack.choose(before)
        let commands: [DriverCommand]
        do {
            switch way {
            case .awaitSwarm: return await settle(on: version, report: &report)
            case .rollback: commands = [driver.rollbackCommand()]
            case .updateBack(let allAtOnce):
                commands = try await driver.deployCommands(ReleaseTarget(version: version), failureAction: .pause, allAtOnce: allAtOnce)
            }
            try await DriverCommand.run(commands, runner: driver.runner)
        } catch {
            // Swarm may have begun its own rollback between the look and the command, which then
            // fails for want of a previous spec: that rollback is the way back, wait for it.
            if way == .rollback, let now = await watch.snapshot(attempts: 1), SwarmGoingBack.swarmIsGoingBack(now) {
                return await settle(on: version, report: &report)
            }
            return "\(way.describe(version)) failed too: \(error.message)"
        }
        guard let before else {
            // No look at the service before going back: the status Swarm shows may still be the
            // failed update's own `completed`, so only the tasks can say it is back.
            return await waitBack(on: version, report: &report) { SwarmVerdict.settled($0, version: version) }
        }
        let startedBefore = before.service?.updateStatus?.startedAt
        return await waitBack(on: version, report: &report) { SwarmVerdict.rollback($0, version: version, before: startedBefore) }
    }

    /// After Swarm's own rollback: every task it means to run is back on `version` and running
    /// (its word alone does not say the last task came up).
    func settle(on version: String, report: inout SwarmDeployReport) async -> String? {
        await waitBack(on: version, report: &report) { SwarmVerdict.settled($0, version: version) }
    }

    func waitBack(on version: String, report: inout SwarmDeployReport, _ verdict: @escaping @Sendable (SwarmSnapshot) -> SwarmWaitOutcome?) async -> String? {
        let outcome = await watch.wait(budget: await budget(), version: version, honourInterruption: false) { snapshot, _ in verdict(snapshot) }
        if let snapshot = outcome.snapshot {
            report.updateState = snapshot.service?.updateStatus?.state
            report.updateMessage = snapshot.service?.updateStatus?.message
            report.tasks = snapshot.current.map { SwarmTaskView($0, in: snapshot) }
            report.nodeProblems = snapshot.nodes.compactMap(\.problem)
        }
        switch outcome {
        case .done, .rolledBackBySwarm, .interrupted: return nil
        case .stuck(let why, _): return "going back to \(version) did not finish: \(why)"
        }
    }
}

/// How to put the previous release back after a failed update, from what Swarm is doing.
enum SwarmGoingBack: Equatable {
    /// Swarm is rolling back by itself (or has): wait for it. Its rollback makes the previous
    /// spec the spec and drops the previous one, so `docker service rollback` would fail.
    case awaitSwarm
    /// `docker service rollback`: back to the previous spec, one batch at a time.
    case rollback
    /// An update to the previous release. With a node down every task goes in one batch
    /// (one at a time would wait forever on a task that has nowhere to run); without a
    /// previous spec (Swarm's own rollback paused halfway) it is the only way back.
    case updateBack(allAtOnce: Bool)

    static func choose(_ snapshot: SwarmSnapshot?) -> SwarmGoingBack {
        guard let snapshot, let service = snapshot.service else { return .rollback }
        let nodeDown = !snapshot.downNodeIDs.isEmpty
        if service.updateStatus?.state == .rollbackCompleted { return .awaitSwarm }
        // Swarm's own rollback goes batch by batch too, and would wait forever on a task that
        // has nowhere to run: with a node down, an update in one batch replaces it.
        if service.updateStatus?.state == .rollbackStarted { return nodeDown ? .updateBack(allAtOnce: true) : .awaitSwarm }
        return nodeDown || service.previous == nil ? .updateBack(allAtOnce: nodeDown) : .rollback
    }

    /// Swarm is rolling back by itself, or has.
    static func swarmIsGoingBack(_ snapshot: SwarmSnapshot) -> Bool {
        guard let state = snapshot.service?.updateStatus?.state else { return false }
        return [.rollbackStarted, .rollbackCompleted].contains(state)
    }

    func describe(_ version: String) -> String {
        switch self {
        case .awaitSwarm: "Swarm's rollback to \(version)"
        case .rollback: "docker service rollback"
        case .updateBack: "updating back to \(version)"
        }
    }
}
