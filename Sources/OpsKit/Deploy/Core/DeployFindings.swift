// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What a part of a deploy or rollback found, for its report. The strategies and the shared
/// checks return it (a switch inside its `SwitchResult`) and `DeployRun.record` alone writes it
/// into the report, so every field of a report comes from one returned value.
struct DeployFindings: Sendable {
    var health: HealthWaitReport?
    var smoke: SmokeReport?
    /// The health-wait of the release restored after a failure.
    var recoveryHealth: HealthWaitReport?
    /// The failed release's last output, and when the failure was decided.
    var failed: FailedLogs?
    var hooks: [DeployHooks.Outcome] = []
    var pruned: [String] = []
    var warnings: [String] = []
    /// blue-green, canary: the slot the release ran on, whether the proxy routes to it, the
    /// upstream file as last written, the release kept on standby, each drain before a stop.
    var slot: String?
    var switched: Bool?
    var upstream: String?
    var standby: StandbyRecord?
    var drains: [DrainOutcome] = []
    var canary: CanaryReport?
    var swarm: SwarmDeployReport?
}

/// The failed release's last output, scrubbed, and when the failure was decided (the recovery starts there).
struct FailedLogs: Sendable {
    var text: String
    var at: Date
}
