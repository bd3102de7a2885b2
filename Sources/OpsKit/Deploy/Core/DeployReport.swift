// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What a deploy or rollback did, step by step.
public struct DeployReport: Report {
    public enum Outcome: String, Sendable, Codable {
        case succeeded
        /// The requested version already runs; nothing was done (`--force` redeploys).
        case unchanged
        /// `--dry-run`: the plan, nothing changed.
        case planned
        /// Failed; the previous release serves again (exit 3).
        case rolledBack = "rolled_back"
        /// SIGINT/SIGTERM; the previous release serves again (exit 3).
        case interrupted
        /// Stopped before anything changed (pre-deploy backup, hook, signal); thrown as an error.
        case aborted
        /// Failed and nothing healthy serves (exit 4).
        case failed
    }

    public struct Step: Sendable, Codable, Equatable {
        public var name: String
        public var ms: Int
        public var detail: String?
    }

    public var kind: ReleaseAction
    public var env: String
    public var version: String
    public var previousVersion: String?
    public var outcome: Outcome
    public var reason: String?
    public var ledgerId: Int64?
    public var gitCommit: String?
    public var image: String
    public var durationMs: Int
    public var steps: [Step] = []
    /// `--dry-run`: the commands, exactly as they would run (secret values never appear).
    public var plan: [String] = []
    public var health: HealthWaitReport?
    public var smoke: SmokeReport?
    /// The health-wait of the release restored after a failure.
    public var recoveryHealth: HealthWaitReport?
    /// The failed release's last output lines, scrubbed of secrets.
    public var failedLogs: String?
    /// When the failure was decided (the recovery starts here).
    public var failedAt: Date?
    public var hooks: [DeployHooks.Outcome] = []
    public var pruned: [String] = []
    public var staleLockHolder: String?
    public var warnings: [String] = []
    public var strategy: DeployStrategy = .stopStart
    /// blue-green: the slot the release ran on.
    public var slot: String?
    /// blue-green: whether the proxy routes to the release now (false: users never reached it,
    /// or were switched back).
    public var switched: Bool?
    /// blue-green: the upstream file as written at the switch.
    public var upstream: String?
    /// blue-green: the release kept running afterwards for an instant rollback, and until when.
    public var standby: StandbyRecord?
    /// blue-green, canary: each wait between "nginx no longer routes to a release" and its stop.
    public var drains: [DrainOutcome] = []
    /// canary: every step watched, its figures and verdict, and how the canary ended.
    public var canary: CanaryReport?
    /// swarm: what Swarm did (its update state, the failing tasks, where every task runs).
    public var swarm: SwarmDeployReport?

    public var exitCode: Int32 {
        switch outcome {
        case .succeeded, .unchanged, .planned: 0
        case .rolledBack, .interrupted: OpsError.Kind.deployRolledBack.exitCode
        case .failed: OpsError.Kind.serviceMayBeDown.exitCode
        case .aborted: OpsError.Kind.checkFailed.exitCode
        }
    }

    public func renderText() -> String {
        var lines: [String] = []
        let what = "\(kind.rawValue) \(env) \(previousVersion ?? "(nothing)") -> \(version)"
        if let staleLockHolder { lines.append("note: cleared a stale lock left by \(staleLockHolder)") }
        switch outcome {
        case .planned:
            lines.append("plan for \(what) (dry run, nothing changed):")
            lines += plan.map { "  \($0)" }
            return lines.joined(separator: "\n")
        case .unchanged:
            return "\(env): \(version) is already live; nothing to do (--force deploys it again)"
        default: break
        }
        // Wide enough for the longest step (`start 2.0.0-rc.1 on green`), never cut.
        let width = max(20, steps.map(\.name.count).max() ?? 0)
        for step in steps {
            let ms = String(step.ms)
            lines.append("  " + step.name.padding(toLength: width, withPad: " ", startingAt: 0) + String(repeating: " ", count: max(0, 7 - ms.count)) + ms + " ms"
                         + (step.detail.map { "  \($0)" } ?? ""))
        }
        if let canary, !canary.steps.isEmpty { lines += canary.lines() }
        for hook in hooks where !hook.ok { lines.append("  hook failed: \(hook.command): \(hook.detail ?? "")") }
        if let smoke, smoke.failed > 0 {
            for check in smoke.checks where !check.passed { lines.append("  smoke \(check.name): \(check.reason ?? "failed")") }
        }
        if !pruned.isEmpty { lines.append("  removed old releases: " + pruned.joined(separator: ", ")) }
        for warning in warnings { lines.append("  warning: \(warning)") }
        if let failedLogs, !failedLogs.isEmpty {
            lines.append("  last output of the failed release:")
            lines += failedLogs.split(separator: "\n", omittingEmptySubsequences: false).suffix(10).map { "    | \($0)" }
        }
        let took = String(format: "%.1f s", Double(durationMs) / 1000)
        switch outcome {
        case .succeeded: lines.append("ok: \(what) in \(took)" + (slot.map { " (slot \($0)" + (standby.map { "; \($0.version) on standby until \(TextFormat.timestamp($0.expiresAt))" } ?? "") + ")" } ?? ""))
        case .rolledBack: lines.append("FAILED: \(what): \(reason ?? "")\n\(safeNow) (exit 3)")
        case .interrupted: lines.append("INTERRUPTED: \(what): \(reason ?? "")\n\(safeNow) (exit 3)")
        case .failed:
            lines.append("""
                !!! FAILED: \(what): \(reason ?? "")
                !!! THE SERVICE MAY BE DOWN: nothing healthy is known to serve \(env). Check now: opsctl status \(env)
                """)
        case .planned, .unchanged: break
        case .aborted: lines.append("ABORTED: \(what): \(reason ?? "") (nothing was changed)")
        }
        return lines.joined(separator: "\n")
    }

    /// After a failure the previous release serves: restored (stop-start), never left (blue-green),
    /// or took all traffic back (a withdrawn canary).
    var safeNow: String {
        let previous = previousVersion ?? "?"
        guard strategy.needsProxy else { return "rolled back: \(previous) serves again" }
        if canary?.outcome == .withdrawn { return "canary withdrawn: \(previous) takes all traffic again" }
        return switched == false && steps.contains { $0.name == "switch back" } ? "switched back: \(previous) serves again"
            : "\(previous) still serves"
    }
}
