// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Stop the live release (kept), start the new one, check it; on failure start the previous
/// one again. A short outage on every deploy, and a long one while a bad release is checked.
struct StopStartSwitch: ReleaseSwitch {
    let deps: DeployDependencies
    var checks: ReleaseChecks { ReleaseChecks(deps: deps) }

    func liveRelease() async throws(OpsError) -> DeployedRelease? {
        try newestRunningOrLastGood(try await deps.driver.releases(), deps: deps)
    }

    func refuseEarly(_ plan: DeployPlan, live: DeployedRelease?) async throws(OpsError) {}

    func target(for plan: DeployPlan, live: DeployedRelease?) async throws(OpsError) -> ReleaseTarget {
        ReleaseTarget(version: plan.version)
    }

    func planLines(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?) async throws(OpsError) -> [String] {
        var lines: [String] = []
        if let live, live.running { lines += deps.driver.stopCommands(live.ref).map { $0.display(redactor: deps.redactor) } }
        lines += try await deps.driver.startCommands(target, fresh: plan.action == .deploy).map { $0.display(redactor: deps.redactor) }
        lines += checkLines(health: deps.health, smoke: deps.environment.smoke, options: plan.options)
        lines.append("on failure: " + (!deps.rollbackEnabled(plan.options) ? "leave \(plan.version) for inspection (rollback manual)"
            : live.map { "stop \(plan.version), start \($0.version) again, health-wait it" } ?? "stop \(plan.version); there is no previous release"))
        return lines
    }

    func perform(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?, run: DeployRun) async -> SwitchResult {
        do {
            if let live, live.running {
                try await deps.driver.stop(live.ref)
                run.step("stop \(live.version)", deps.driver.keepsStoppedReleases ? "kept for rollback" : nil)
            }
            try await deps.driver.start(target, fresh: plan.action == .deploy)
            run.step("start \(plan.version)")
        } catch {
            run.step("start \(plan.version)", "failed")
            return await recover(from: target, live: live, reason: "could not start \(plan.version): \(error.message)", run: run)
        }
        let check = await checks.verify(target.ref, health: deps.health, smoke: deps.environment.smoke, run: run)
        if let failure = check.failure {
            return await recover(from: target, live: live, reason: failure, run: run, found: DeployFindings(check))
        }
        return .succeeded(DeployFindings(check))
    }

    /// The new release failed: keep its logs, put the previous good release back, and say how
    /// that went; the result carries `found` (what the checks found) and what the recovery found.
    func recover(from failed: ReleaseTarget, live: DeployedRelease?, reason: String, run: DeployRun,
                 found: DeployFindings = DeployFindings()) async -> SwitchResult {
        let recovery = ReleaseRecovery(deps: deps, run: run, failed: failed, reason: reason, logs: await checks.failedLogs(failed.ref), found: found)
        guard run.rollbackEnabled else { return recovery.leftForInspection(failed) }
        guard let live, live.version != failed.version else {
            try? await deps.driver.stop(failed.ref)
            return recovery.failure("there is no previous release to go back to")
        }
        let start = ContinuousClock.now
        // Kept, stopped, for the post-mortem; it may never have been created (docker run failed).
        try? await deps.driver.stop(failed.ref)
        do {
            try await deps.driver.start(ReleaseTarget(version: live.version), fresh: false)
        } catch {
            return recovery.failure("restarting \(live.version) failed too: \(error.message)")
        }
        return await recovery.confirmBack(live, step: "restore \(live.version)", since: start)
    }
}
