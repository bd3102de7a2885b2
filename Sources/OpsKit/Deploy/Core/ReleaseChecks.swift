// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What the checks of a release found: its health-wait, its smoke run when there was one, and
/// why it is not fit to serve (nil when it is).
struct ReleaseCheck: Sendable {
    var health: HealthWaitReport
    var smoke: SmokeReport?
    var failure: String?
}

extension DeployFindings {
    init(_ check: ReleaseCheck) {
        self.init()
        add(check)
    }

    mutating func add(_ check: ReleaseCheck) {
        health = check.health
        smoke = check.smoke
    }
}

/// Is a release fit to serve? The health-wait (an HTTP probe plus the runtime's own view each
/// round) and then the smoke checks, against wherever the strategy points them.
struct ReleaseChecks {
    let deps: DeployDependencies

    /// Health then smoke for `release`, each a step of `run` as it ends: what they found, and
    /// unless both passed (and no signal came), why not.
    func verify(_ release: ReleaseRef, health: HealthSettings, smoke: SmokeSettings?, run: DeployRun) async -> ReleaseCheck {
        let healthStart = ContinuousClock.now
        let healthReport = await waitHealthy(release, health: health)
        run.step("health", healthReport.healthy ? "\(healthReport.attempts) probe(s)" : "failed")
        guard healthReport.healthy else {
            return ReleaseCheck(health: healthReport, failure: healthReport.abortedBecause ?? "not healthy after \(health.timeout): \(healthReport.last?.reason ?? "no answer")")
        }
        guard !run.options.skipSmoke, let smoke, !smoke.checks.isEmpty else { return ReleaseCheck(health: healthReport, failure: deps.interruption.reason) }
        let recorded = await self.smoke(smoke, budget: remainingBudget(since: healthStart), ledger: run.ledger)
        writeJUnit(recorded, to: run.options.junitPath)
        run.step("smoke", "\(recorded.passed)/\(recorded.checks.count) passed")
        guard recorded.failed > 0 else { return ReleaseCheck(health: healthReport, smoke: recorded, failure: deps.interruption.reason) }
        let failures = recorded.checks.filter { !$0.passed }.map { "\($0.name): \($0.reason ?? "failed")" }.joined(separator: "; ")
        return ReleaseCheck(health: healthReport, smoke: recorded, failure: deps.interruption.reason ?? "smoke failed: \(failures)")
    }

    /// A report file must not fail a deploy that went well: a write error is a warning.
    func writeJUnit(_ report: SmokeReport, to path: String?) {
        guard let path else { return }
        do { try AtomicFile.write(report.junitXML(), to: path) } catch {
            deps.context.logger.warning("could not write the smoke JUnit report: \(error.message)")
        }
    }

    /// Smoke is retried until the rest of the health budget is spent, so warming caches get a chance.
    func remainingBudget(since healthStart: ContinuousClock.Instant) -> OpsDuration {
        OpsDuration(milliseconds: max(2_000, deps.health.timeout.milliseconds - Int64((ContinuousClock.now - healthStart).milliseconds)))
    }

    func smoke(_ settings: SmokeSettings, budget: OpsDuration, ledger: Ledger) async -> SmokeReport {
        let interruption = deps.interruption
        var report = await SmokeRunner(settings: settings, clock: deps.clock, now: deps.context.now, shouldStop: { interruption.signal != nil })
            .run(mode: .converge(budget: budget, interval: deps.health.interval))
        report.env = deps.environment.name
        report.scrub(with: deps.redactor)
        try? ledger.recordSmokeRun(env: deps.environment.name, report: report)
        return report
    }

    /// Probes every interval; the runtime's view (the container exited) and a signal end it early.
    func waitHealthy(_ release: ReleaseRef, health: HealthSettings, honourInterruption: Bool = true) async -> HealthWaitReport {
        let driver = deps.driver
        let interruption = deps.interruption
        var report = await HealthWaiter(settings: health, clock: deps.clock, probe: deps.probe, extraCheck: {
            if honourInterruption, let reason = interruption.reason { return reason }
            return await driver.fatalState(release)
        }).wait()
        // The last probe quotes the response body: a debug page must not carry a secret into the ledger.
        let scrubbed = report.last?.reason.map(deps.redactor.scrub)
        report.last?.reason = scrubbed
        return report
    }

    /// The failed release's last output, scrubbed, for the report and the ledger.
    func failedLogs(_ release: ReleaseRef) async -> FailedLogs {
        let at = deps.context.now()
        return FailedLogs(text: deps.redactor.scrub(await deps.driver.logs(release, lines: 50)), at: at)
    }

    /// A signal that arrived meanwhile goes first in the reason.
    func reason(_ reason: String) -> String {
        guard let signal = deps.interruption.reason, !reason.hasPrefix("interrupted") else { return reason }
        return "\(signal) (\(reason))"
    }
}
