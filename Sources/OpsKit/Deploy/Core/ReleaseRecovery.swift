// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What every runtime does once a release failed without a proxy in front: say so, and when
/// the previous release was put back (restarted on docker, rolled back by Swarm), health-wait it
/// and say how that went. The runtime-specific part (how to put it back) is the caller's.
struct ReleaseRecovery {
    let deps: DeployDependencies
    let run: DeployRun
    /// What the run found up to the failure, with the failed release's last output (read
    /// before anything was undone): every result below carries it.
    let found: DeployFindings
    /// Why the release failed, a signal first when one came.
    let reason: String
    /// A signal came before the failure was handled: the outcome is `interrupted`, not `rolled_back`.
    let interrupted: Bool

    init(deps: DeployDependencies, run: DeployRun, failed: ReleaseTarget, reason: String, logs: FailedLogs, found: DeployFindings) {
        self.deps = deps
        self.run = run
        var found = found
        found.failed = logs
        self.found = found
        self.reason = ReleaseChecks(deps: deps).reason(reason)
        interrupted = deps.interruption.signal != nil
        deps.context.logger.error("\(run.kind.rawValue) of \(failed.version) failed: \(deps.redactor.scrub(self.reason))")
    }

    /// `rollback: manual` or `--no-rollback`: the failed release stays as it is.
    func leftForInspection(_ failed: ReleaseTarget) -> SwitchResult {
        failure("rollback is off: \(failed.version) left as it is, run opsctl rollback \(deps.environment.name)")
    }

    /// Nothing was put back; `why` says what is left.
    func failure(_ why: String, found: DeployFindings? = nil) -> SwitchResult {
        SwitchResult(outcome: .failed, reason: "\(reason); \(why)", found: found ?? self.found)
    }

    /// `live` was put back: health-wait it (a signal no longer stops that) and record the step.
    func confirmBack(_ live: DeployedRelease, step: String, since start: ContinuousClock.Instant) async -> SwitchResult {
        let restored = await ReleaseChecks(deps: deps).waitHealthy(live.ref, health: deps.health, honourInterruption: false)
        run.step(step, since: start, restored.healthy ? "healthy" : "NOT healthy")
        var found = self.found
        found.recoveryHealth = restored
        guard restored.healthy else {
            let why = restored.abortedBecause ?? restored.last?.reason ?? "no answer"
            return failure("\(live.version) did not come back healthy either: \(why)", found: found)
        }
        return SwitchResult(outcome: interrupted ? .interrupted : .rolledBack, reason: reason, found: found)
    }
}
