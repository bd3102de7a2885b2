// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What every runtime does once a release failed without a proxy in front: say so, and when
/// the previous release was put back (restarted on docker, rolled back by Swarm), health-wait it
/// and say how that went. The runtime-specific part (how to put it back) is the caller's.
struct ReleaseRecovery {
    let deps: DeployDependencies
    let run: DeployRun
    /// The failed release's last output, read before anything was undone.
    let logs: String
    /// Why the release failed, a signal first when one came.
    let reason: String
    /// A signal came before the failure was handled: the outcome is `interrupted`, not `rolled_back`.
    let interrupted: Bool

    init(deps: DeployDependencies, run: DeployRun, failed: ReleaseTarget, reason: String, logs: String) {
        self.deps = deps
        self.run = run
        self.logs = logs
        self.reason = ReleaseChecks(deps: deps).reason(reason)
        interrupted = deps.interruption.signal != nil
        deps.context.logger.error("\(run.report.kind.rawValue) of \(failed.version) failed: \(deps.redactor.scrub(self.reason))")
    }

    /// `rollback: manual` or `--no-rollback`: the failed release stays as it is.
    func leftForInspection(_ failed: ReleaseTarget) -> SwitchResult {
        failure("rollback is off: \(failed.version) left as it is, run opsctl rollback \(deps.environment.name)")
    }

    /// Nothing was put back; `why` says what is left.
    func failure(_ why: String) -> SwitchResult {
        SwitchResult(outcome: .failed, reason: "\(reason); \(why)", logs: logs)
    }

    /// `live` was put back: health-wait it (a signal no longer stops that) and record the step.
    func confirmBack(_ live: DeployedRelease, step: String, since start: ContinuousClock.Instant) async -> SwitchResult {
        let restored = await ReleaseChecks(deps: deps).waitHealthy(live.ref, health: deps.health, honourInterruption: false)
        run.report.recoveryHealth = restored
        run.report.steps.append(.init(name: step, ms: (ContinuousClock.now - start).milliseconds, detail: restored.healthy ? "healthy" : "NOT healthy"))
        guard restored.healthy else {
            let why = restored.abortedBecause ?? restored.last?.reason ?? "no answer"
            return failure("\(live.version) did not come back healthy either: \(why)")
        }
        return SwitchResult(outcome: interrupted ? .interrupted : .rolledBack, reason: reason, logs: logs)
    }
}
