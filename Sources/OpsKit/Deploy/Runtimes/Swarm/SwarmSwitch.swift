// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `driver: swarm`: Swarm rolls the release across the nodes (`docker service update` with
/// automatic rollback on a failed task); opsctl bounds every wait and reads what Swarm really
/// did, because the CLI exits 0 even when Swarm rolled the update back. Once Swarm says
/// `completed`, every task must run the release (no mixed versions), then opsctl's own
/// health-wait and smoke run. A failure after that is undone with `docker service rollback`.
struct SwarmSwitch: ReleaseSwitch {
    let deps: DeployDependencies
    let driver: SwarmReleaseDriver

    var checks: ReleaseChecks { ReleaseChecks(deps: deps) }
    var watch: SwarmWatch { SwarmWatch(client: driver.client, service: driver.serviceName, interruption: deps.interruption) }
    var name: String { driver.serviceName }

    func liveRelease() async throws(OpsError) -> DeployedRelease? { try await driver.releases().first }

    func refuseEarly(_ plan: DeployPlan, live: DeployedRelease?) async throws(OpsError) {}

    func target(for plan: DeployPlan, live: DeployedRelease?) async throws(OpsError) -> ReleaseTarget { ReleaseTarget(version: plan.version) }

    func failureAction(_ options: DeployOptions) -> SwarmServiceSpec.FailureAction { deps.rollbackEnabled(options) ? .rollback : .pause }

    /// How long Swarm gets for an update, a rollback or a new service.
    func budget() async -> OpsDuration {
        let settings = driver.settings
        let tasks = settings.mode == .replicated ? settings.replicas : ((try? await driver.client.nodes())?.filter(\.isUsable).count ?? 1)
        return settings.convergeBudget(tasks: tasks, stopTimeout: deps.environment.run.stopTimeout)
    }

    func planLines(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?) async throws(OpsError) -> [String] {
        var lines = try await driver.deployCommands(target, failureAction: failureAction(plan.options)).map { $0.display(redactor: deps.redactor) }
        lines.append("wait for Swarm (UpdateStatus, tasks, nodes every 400ms) within \(await budget()): completed, every task on \(plan.version)")
        lines += checkLines(health: deps.health, smoke: deps.environment.smoke, options: plan.options)
        let stop = driver.settings.mode == .replicated ? "scale \(name) to 0" : "remove \(name)"
        let undo = live.map { "docker service rollback --detach \(name) (back to \($0.version)), wait, health-wait it" } ?? "no previous release: \(stop)"
        lines.append("on failure: " + (deps.rollbackEnabled(plan.options) ? "Swarm rolls back a failed task by itself; after that, \(undo)"
            : "Swarm pauses the update; \(plan.version) is left for inspection (rollback manual)"))
        lines.append("afterwards: remove secret versions no service uses")
        return lines
    }

    func perform(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?, run: DeployRun) async -> SwitchResult {
        let before: SwarmSnapshot
        do { before = try await watch.snapshot() } catch {
            return SwitchResult(outcome: .aborted, reason: "could not read service \(name) before the update: \(error.message); nothing was changed")
        }
        var report = SwarmDeployReport(service: name, created: before.service == nil)
        var result = await update(plan, target: target, live: live, before: before, run: run, report: &report)
        result.found.swarm = report
        return result
    }

    /// The create or update, Swarm's verdict, every task on the release, then health and smoke;
    /// what Swarm did is kept in `report` as it is seen.
    func update(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?, before: SwarmSnapshot, run: DeployRun,
                report: inout SwarmDeployReport) async -> SwitchResult {
        let creating = before.service == nil
        do {
            try await DriverCommand.run(try await driver.deployCommands(target, failureAction: failureAction(plan.options)), runner: driver.runner)
            run.step("\(creating ? "create" : "update") service \(name)")
        } catch {
            run.step("\(creating ? "create" : "update") service \(name)", "failed")
            return await recover(target, live: live, reason: "could not \(creating ? "create" : "update") service \(name): \(error.message)",
                                 undo: await undoAfterFailedCommand(before: before, version: plan.version), run: run, report: &report)
        }
        let since = creating ? nil : before.service?.updatedAt
        let outcome = await waitForRelease(plan.version, creating: creating, before: before)
        record(outcome.snapshot, version: plan.version, since: since, into: &report)
        run.step("swarm \(creating ? "start" : "update")", outcome.summary)
        switch outcome {
        case .done: break
        case .rolledBackBySwarm(let snapshot):
            let why = (snapshot.service?.updateStatus?.message).map { " (\($0))" } ?? ""
            let failing = snapshot.failures(of: plan.version, since: since)
            return await recover(target, live: live, reason: "Swarm rolled the update back\(why)" + (failing.isEmpty ? "" : "; failing: \(snapshot.explain(failing))"),
                                 undo: .alreadyRolledBack, run: run, report: &report)
        case .stuck(let reason, let snapshot), .interrupted(let reason, let snapshot):
            return await recover(target, live: live, reason: reason, undo: .rollback(last: snapshot), run: run, report: &report)
        }
        if let mixed = await mixedVersions(plan.version, since: since, report: &report) {
            return await recover(target, live: live, reason: mixed, undo: .rollback(last: nil), run: run, report: &report)
        }
        let check = await checks.verify(target.ref, health: deps.health, smoke: deps.environment.smoke, run: run)
        if let failure = check.failure {
            return await recover(target, live: live, reason: failure, undo: .rollback(last: nil), run: run, found: DeployFindings(check), report: &report)
        }
        return .succeeded(DeployFindings(check))
    }

    /// A create or update that failed (timed out, or the CLI failed after the manager took
    /// it) may still have reached Swarm: look again before assuming nothing changed.
    func undoAfterFailedCommand(before: SwarmSnapshot, version: String) async -> Undo {
        guard let after = await watch.snapshot(attempts: 3) else { return .nothingChanged }
        return SwarmVerdict.reachedSwarm(before: before.service, after: after.service, version: version) ? .rollback(last: after) : .nothingChanged
    }

    func waitForRelease(_ version: String, creating: Bool, before: SwarmSnapshot) async -> SwarmWaitOutcome {
        let startedBefore = before.service?.updateStatus?.startedAt
        let downBefore = before.downNodeIDs
        return await watch.wait(budget: await budget(), version: version, honourInterruption: true) { snapshot, previous in
            creating ? SwarmVerdict.create(snapshot, previous: previous, version: version, since: nil, downBefore: downBefore)
                : SwarmVerdict.update(snapshot, previous: previous, version: version, before: startedBefore, downBefore: downBefore)
        }
    }

    /// After Swarm said completed: every task it means to run must run the release, on its node.
    func mixedVersions(_ version: String, since: Date?, report: inout SwarmDeployReport) async -> String? {
        let snapshot: SwarmSnapshot
        do { snapshot = try await watch.snapshot() } catch { return "could not read the tasks after the update: \(error.message)" }
        record(snapshot, version: version, since: since, into: &report)
        let off = snapshot.notOn(version)
        let wanted = snapshot.service?.replicas
        if off.isEmpty, wanted.map({ $0 == snapshot.current.count }) ?? !snapshot.current.isEmpty { return nil }
        return "Swarm reported the update complete, but not every task runs \(version): \(snapshot.progress(toward: version))"
    }

    func record(_ snapshot: SwarmSnapshot?, version: String, since: Date?, into report: inout SwarmDeployReport) {
        guard let snapshot else { return }
        report.updateState = snapshot.service?.updateStatus?.state
        report.updateMessage = snapshot.service?.updateStatus?.message
        report.failingTasks = snapshot.failures(of: version, since: since).map { SwarmTaskView($0, in: snapshot) }
        report.tasks = snapshot.current.map { SwarmTaskView($0, in: snapshot) }
        report.nodeProblems = snapshot.nodes.compactMap(\.problem)
    }
}

extension SwarmWaitOutcome {
    var snapshot: SwarmSnapshot? {
        switch self {
        case .done(let snapshot), .rolledBackBySwarm(let snapshot): snapshot
        case .stuck(_, let snapshot), .interrupted(_, let snapshot): snapshot
        }
    }

    var summary: String {
        switch self {
        case .done(let snapshot): snapshot.service?.updateStatus?.state.rawValue ?? "running"
        case .rolledBackBySwarm: "rolled back by Swarm"
        case .stuck: "did not finish"
        case .interrupted: "interrupted"
        }
    }
}
