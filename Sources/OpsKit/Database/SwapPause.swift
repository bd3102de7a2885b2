// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Keeps the app off its database while a vacuumed copy replaces the file.
///
/// Two ways, chosen in `SwapPauses.choose`: behind a proxy (blue-green, canary) `PausedSwap`
/// holds users' requests in nginx while the app is stopped, the file swapped and the app
/// started again, as `opsctl restore --pause` does; without one (or with `--no-pause`)
/// `RefuseWhileInUse` lets the swap go ahead only when the app is not running. Either way no
/// other process may have the database open.
public protocol SwapPause: Sendable {
    /// Returns once nothing will write `database` until `resume`; throws, with nothing changed
    /// (users let through again), when it cannot promise that.
    func pause(database: String, context: OpsContext) async throws(OpsError)
    /// Lets the app back: after the swap, or after a failure on the way to it. Returns what
    /// users met while they were held (nil when nobody was held).
    func resume(context: OpsContext) async -> PauseOutcome?
}

/// `db vacuum`'s `--pause BOUND` and `--no-pause`.
public enum SwapPauseChoice: Sendable, Equatable {
    /// Neither flag: a pause of `SwapPauses.defaultBound` behind a proxy, a refusal without one.
    case automatic
    case pause(OpsDuration)
    case refuse
}

public enum SwapPauses {
    /// As `opsctl maintenance ENV pause` without a bound.
    public static let defaultBound: OpsDuration = .seconds(30)

    /// The pause for an environment. `mode` is called only when a swap is about to happen: an
    /// incremental vacuum never needs docker.
    public static func choose(for environment: EnvironmentConfig, _ choice: SwapPauseChoice, config: OpsConfig, context: OpsContext,
                              mode: @escaping @Sendable () async throws(OpsError) -> DeployMode) throws(OpsError) -> any SwapPause {
        let bound: OpsDuration
        var refuse = RefuseWhileInUse(env: environment.name, runtime: { () async throws(OpsError) in try await mode().driver })
        refuse.replicaDirectory = environment.backup?.replica?.dir
        switch choice {
        case .refuse:
            return refuse
        case .automatic:
            guard environment.strategy.needsProxy else { return refuse }
            bound = defaultBound
        case .pause(let asked):
            guard environment.strategy.needsProxy else { throw MaintenanceService.noProxy(environment) }
            try MaintenanceService.requireBound(asked)
            bound = asked
        }
        let paused = PausedSwap(bound: bound) { () async throws(OpsError) -> (any RestorePause)? in
            let mode = try await mode()
            let service = try MaintenanceService(config: config, environment: environment, context: context, mode: mode)
            // A pause ends by health-waiting the app: one stopped by hand would leave users on the page.
            guard try await mode.driver.releases().contains(where: \.running) else { return nil }
            return PausedRestart(service: service, bound: bound, purpose: .vacuum)
        }
        paused.replicaDirectory = refuse.replicaDirectory
        return paused
    }
}

/// Behind the proxy: users' new requests wait in nginx while every release is stopped, the
/// vacuumed copy swapped in and the live release started again (`PausedRestart`, the pause of
/// `restore --pause`); past the bound they get the maintenance page.
public final class PausedSwap: SwapPause, @unchecked Sendable {
    public let bound: OpsDuration
    /// `backup.replica.dir`: its running replicator does not count as a process in the way.
    public var replicaDirectory: String?
    /// Builds the restart when a swap is about to happen (it resolves the deploy mode, which asks
    /// docker); nil when the app is not running: nobody to hold, the swap goes ahead as without a proxy.
    let makeRestart: @Sendable () async throws(OpsError) -> (any RestorePause)?
    private let lock = NSLock()
    private var restart: (any RestorePause)?

    public init(bound: OpsDuration, makeRestart: @escaping @Sendable () async throws(OpsError) -> (any RestorePause)?) {
        self.bound = bound
        self.makeRestart = makeRestart
    }

    /// Holds users and stops the app; then a worker, a cron job or a shell that still has the
    /// file open refuses the swap as without a proxy, and the app is started again at once.
    public func pause(database: String, context: OpsContext) async throws(OpsError) {
        guard let restart = try await makeRestart() else {
            try RefuseWhileInUse.refuseWhileOpen(database, replicaDirectory: replicaDirectory)
            return
        }
        try await restart.stopApp()
        do {
            try RefuseWhileInUse.refuseWhileOpen(database, replicaDirectory: replicaDirectory)
        } catch {
            let outcome = await restart.startApp()
            throw OpsError(error.kind, code: error.code, error.message + "; " + outcome.afterUndo, details: error.details)
        }
        lock.withLock { self.restart = restart }
    }

    /// Starts the app and, once it is healthy, lets the held requests through.
    public func resume(context: OpsContext) async -> PauseOutcome? {
        let restart = lock.withLock {
            defer { self.restart = nil }
            return self.restart
        }
        return await restart?.startApp()
    }
}

/// No pause: refuse while the runtime says the app runs (as `opsctl restore` does), and while
/// any other process has the database open, whoever it is (a worker, a cron job, an sqlite3 shell).
public struct RefuseWhileInUse: SwapPause {
    public var env: String
    /// `backup.replica.dir`: its running replicator does not count as a process in the way.
    public var replicaDirectory: String?
    /// Asked only when a swap is about to happen: an incremental vacuum never needs docker.
    public var runtime: @Sendable () async throws(OpsError) -> (any ReleaseDriver)?

    public init(env: String, runtime: @escaping @Sendable () async throws(OpsError) -> (any ReleaseDriver)?) {
        self.env = env
        self.runtime = runtime
    }

    public func pause(database: String, context: OpsContext) async throws(OpsError) {
        try await DatabaseSwap.refuseWhileAppRuns(env: env, runtime: try await runtime(), purpose: .vacuum)
        try Self.refuseWhileOpen(database, replicaDirectory: replicaDirectory)
    }

    public func resume(context: OpsContext) async -> PauseOutcome? { nil }

    /// A process with the database open would go on writing to the old file after the rename.
    /// `opsctl replicate` only reads it, and notices the new file at its next round: not a reason
    /// to refuse (its pid comes from the replica's lock and heartbeat).
    static func refuseWhileOpen(_ database: String, replicaDirectory: String?) throws(OpsError) {
        let replicator = replicaDirectory.flatMap(ReplicaStatus.runningReplicator(directory:))
        let holder: WALIndex.Reader? = if let pids = WALIndex.processesHoldingOpen(database: database) {
            pids.first { $0 != replicator }.map(WALIndex.reader(pid:))
        } else {
            WALIndex.otherProcessHoldingOpen(database: database).flatMap { $0.pid == replicator ? nil : $0 }
        }
        guard let holder else { return }
        throw OpsError(.checkFailed, code: "database.in_use",
                       "\(holder.description) has \(database) open; swapping a vacuumed copy in under it would lose its writes",
                       details: ["stop it (or the app it belongs to) and retry; with auto_vacuum=incremental a vacuum runs while the app does"])
    }
}
