// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// How the switch ended, and what it found on the way (the report gets it in `DeployService`).
struct SwitchResult: Sendable {
    var outcome: DeployReport.Outcome
    var reason: String?
    var found = DeployFindings()

    /// The failed release's last output, for the ledger.
    var logs: String? { found.failed?.text }

    static func succeeded(_ found: DeployFindings) -> SwitchResult { SwitchResult(outcome: .succeeded, found: found) }
}

/// How traffic moves from the live release to another, one type per strategy (stop-start,
/// blue-green, canary). Everything around it (validation, lock,
/// ledger, backup, hooks, pruning) is the same for all and lives in DeployService.
protocol ReleaseSwitch: Sendable {
    /// What serves now, as this strategy sees it.
    func liveRelease() async throws(OpsError) -> DeployedRelease?
    /// Refusals that must come before the lock, while nothing has started.
    func refuseEarly(_ plan: DeployPlan, live: DeployedRelease?) async throws(OpsError)
    /// Where the release will run.
    func target(for plan: DeployPlan, live: DeployedRelease?) async throws(OpsError) -> ReleaseTarget
    /// The dry run: every command from the lock to the switch, as it would run.
    func planLines(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?) async throws(OpsError) -> [String]
    /// The switch, under the lock, the ledger row open: from "nothing changed" to an outcome.
    func perform(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?, run: DeployRun) async -> SwitchResult
}

extension ReleaseSwitch {
    /// Without a proxy to ask: the newest running release; when nothing runs (a crash, a manual
    /// stop), the newest succeeded release the ledger knows, as the one to come back to.
    func newestRunningOrLastGood(_ releases: [DeployedRelease], deps: DeployDependencies) throws(OpsError) -> DeployedRelease? {
        let running = releases.filter(\.running)
        if running.count > 1 {
            deps.context.logger.warning("\(running.count) releases run at once: \(running.map(\.container).joined(separator: ", ")); the newest counts as live")
        }
        if let newest = running.sorted(by: { $0.created > $1.created }).first { return newest }
        let ledger = try deps.context.ledger(deps.config.state)
        guard let version = try ledger.lastDeployment(env: deps.environment.name, status: .succeeded)?.version else { return nil }
        return releases.first { $0.version == version }
    }

    /// The health-wait and smoke lines of a dry run.
    func checkLines(health: HealthSettings, smoke: SmokeSettings?, options: DeployOptions) -> [String] {
        var lines = ["health-wait \(Redactor.redactURLCredentials(health.url)) every \(health.interval), \(health.successes) pass(es) in a row, timeout \(health.timeout), docker inspect each round"]
        if !options.skipSmoke, let smoke, !smoke.checks.isEmpty {
            lines.append("smoke: \(smoke.checks.count) check(s) against \(smoke.baseURL.map(Redactor.redactURLCredentials) ?? "their URLs"), converge within the health budget")
        }
        return lines
    }
}
