// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The release kept running after a blue/green switch, and what became of it.
public struct StandbyState: Sendable, Codable, Equatable {
    public var version: String
    public var slot: String?
    public var container: String
    public var expiresAt: Date
    /// Whether its container still runs.
    public var running: Bool
    /// This command stopped it: its time was up.
    public var stoppedNow: Bool
}

/// opsctl is not a daemon: the release on standby is stopped by the next opsctl command on the
/// environment (deploy, rollback, status, backup) once `proxy.standby` has passed.
public struct StandbyKeeper: Sendable {
    public let config: OpsConfig
    public let environment: EnvironmentConfig
    public let context: OpsContext
    /// The slots and their proxy; nil for a mode without slots (nothing is ever on standby there).
    let slots: (driver: any SlotReleaseDriver, proxy: NginxProxy)?

    public init(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext, mode: DeployMode?) {
        self.config = config
        self.environment = environment
        self.context = context
        slots = mode?.slots
    }

    /// For commands that only look after the standby (status, handoff, backup): slots run on
    /// plain docker containers, the one runtime that has them.
    public init(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext) {
        let mode = environment.driver == .docker
            ? try? DeployMode.slotted(DockerReleaseDriver(config: config, environment: environment, docker: context.docker), config: config, environment: environment, context: context)
            : nil
        self.init(config: config, environment: environment, context: context, mode: mode)
    }

    /// The standby as it stands after stopping it if expired; nil when there is none (or the
    /// environment is not blue/green). Never throws: a command must not fail over housekeeping.
    @discardableResult
    public func stopIfExpired() async -> StandbyState? {
        guard let seen = await current(), let (driver, proxy) = slots, let ledger = try? context.ledger(config.state) else { return nil }
        guard seen.expiresAt <= context.now() else { return seen }
        // A deploy or rollback in progress owns the slots (it stops the standby itself).
        guard let lock = try? FileLock.acquire(path: DeployLock.path(config: config, environment: environment), what: "a standby stop",
                                               command: "stop the standby of \(environment.name)") else { return seen }
        defer { lock.release() }
        // A deploy may have finished between the first look and the lock, with a standby of its
        // own: act only on the record still there, never clear a newer one.
        guard var state = await current() else { return nil }
        guard state.container == seen.container, state.expiresAt == seen.expiresAt else { return state }
        let record = state
        // Never stop what the proxy routes to, whoever switched it there.
        let live = try? proxy.liveSlot()
        if state.running, record.slot == nil || live?.name != record.slot {
            do {
                try await driver.stop(ReleaseRef(version: record.version, slot: record.slot))
                state.running = false
                state.stoppedNow = true
                context.logger.info("stopped \(record.container): on standby until \(TextFormat.timestamp(record.expiresAt)); kept for a rollback")
            } catch {
                context.logger.warning("could not stop the expired standby \(record.container): \(error.message)")
                return state
            }
        }
        try? ledger.clearStandby(env: environment.name)
        if let directory = environment.metrics?.textfileDir {
            try? MetricsFile.update(directory: directory, env: environment.name, samples: [StandbyMetrics.expiry(env: environment.name, standby: nil)])
        }
        return state
    }

    /// The standby as the ledger and docker see it now; changes nothing.
    public func current() async -> StandbyState? {
        guard let driver = slots?.driver, let ledger = try? context.ledger(config.state),
              let record = try? ledger.standby(env: environment.name) else { return nil }
        let releases = try? await driver.releases()
        let running = releases?.contains { $0.container == record.container && $0.running } ?? false
        return StandbyState(version: record.version, slot: record.slot, container: record.container, expiresAt: record.expiresAt,
                            running: running, stoppedNow: false)
    }
}
