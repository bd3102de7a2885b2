// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Whether a run brings a new release or goes back to one that ran before.
public enum ReleaseAction: String, Sendable, Codable {
    case deploy, rollback
}

public struct DeployOptions: Sendable {
    public var dryRun = false
    /// `--no-rollback`: a failed release stays for inspection, whatever `rollback:` says (stop-start
    /// and swarm exit 4; blue-green and canary never switched users to it, so exit 3).
    public var noRollback = false
    public var skipSmoke = false
    public var force = false
    public var waitLock: OpsDuration?
    public var message: String?
    /// `--junit FILE`: the deploy's smoke run as JUnit XML, for CI's test results.
    public var junitPath: String?

    public init() {}
}

/// What the planner settled before the lock: which release, from which commit, replacing what.
struct DeployPlan: Sendable {
    var action: ReleaseAction
    var version: String
    /// deploy: the release tag and the commit it names.
    var tag: String?
    var commit: String?
    var image: String
    /// What served when the plan was made (re-read under the lock after `--wait-lock`).
    var live: DeployedRelease?
    var options: DeployOptions

    func isLive(_ live: DeployedRelease?) -> Bool {
        live?.version == version && live?.running == true && !options.force
    }
}

/// What every part of a deploy shares: the environment, the runtime, and the outside world
/// (clock, health probe, signals), all injectable so the switch paths run without Docker in tests.
struct DeployDependencies: Sendable {
    let config: OpsConfig
    let environment: EnvironmentConfig
    let context: OpsContext
    /// The strategy and the runtime it runs on.
    let mode: DeployMode
    /// Required to deploy (opsctl never switches releases blind): checked when the service starts.
    let health: HealthSettings
    let interruption: Interruption
    let clock: any WaitClock
    let probe: @Sendable (HealthSettings) async -> HealthProbe
    /// Each canary step as it is watched (throttled) and once more when it ends.
    var canaryProgress: CanaryProgress? = nil
    /// What is still in flight to a release nginx stopped routing to (`proxy.drain: until-idle`).
    var activity: any SlotActivityProbe = KernelSlotActivity()

    var driver: any ReleaseDriver { mode.driver }
    var redactor: Redactor { config.redactor }
    var lockPath: String { DeployLock.path(config: config, environment: environment) }

    func imageReference(_ version: String) -> String {
        ReleaseIdentity(config: config, environment: environment).imageReference(version)
    }

    func rollbackEnabled(_ options: DeployOptions) -> Bool { environment.rollback == .auto && !options.noRollback }
}

/// The per-environment deploy lock: one deploy, rollback or standby stop at a time.
public enum DeployLock {
    public static func path(config: OpsConfig, environment: EnvironmentConfig) -> String {
        URL(fileURLWithPath: config.state).deletingLastPathComponent().path + "/.deploy-\(environment.name).lock"
    }

    public static func scope(_ environment: EnvironmentConfig) -> String { "deploy:\(environment.name)" }
}
