// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Keeps the app off its database while a vacuumed copy replaces the file.
///
/// This is the one seam for a maintenance mode: a pause behind the proxy (the proxy answers
/// "back soon" while the app stops, the file is swapped, the app starts again and the proxy
/// sends traffic back) is another `SwapPause`, chosen in `SwapPauses.choose`. Until it exists
/// the only pause there is, is none: `RefuseWhileInUse` lets the swap go ahead only when the app
/// is not running and no other process has the database open.
public protocol SwapPause: Sendable {
    /// Returns once nothing will write `database` until `resume`; throws, with nothing changed,
    /// when it cannot promise that.
    func pause(database: String, context: OpsContext) async throws(OpsError)
    /// Lets the app back: after the swap, or after a failure on the way to it.
    func resume(context: OpsContext) async
}

public enum SwapPauses {
    /// The pause for an environment. A proxy-fronted maintenance pause plugs in here (for
    /// environments with a `proxy:`); today every environment refuses while its database is in use.
    public static func choose(for environment: EnvironmentConfig,
                              runtime: @escaping @Sendable () async throws(OpsError) -> (any ReleaseDriver)?) -> any SwapPause {
        RefuseWhileInUse(env: environment.name, runtime: runtime)
    }
}

/// No pause: refuse while the runtime says the app runs (as `opsctl restore` does), and while
/// any other process has the database open, whoever it is (a worker, a cron job, an sqlite3 shell).
public struct RefuseWhileInUse: SwapPause {
    public var env: String
    /// Asked only when a swap is about to happen: an incremental vacuum never needs docker.
    public var runtime: @Sendable () async throws(OpsError) -> (any ReleaseDriver)?

    public init(env: String, runtime: @escaping @Sendable () async throws(OpsError) -> (any ReleaseDriver)?) {
        self.env = env
        self.runtime = runtime
    }

    public func pause(database: String, context: OpsContext) async throws(OpsError) {
        try await DatabaseSwap.refuseWhileAppRuns(env: env, runtime: try await runtime(), purpose: .vacuum)
        try Self.refuseWhileOpen(database)
    }

    public func resume(context: OpsContext) async {}

    /// A process with the database open would go on writing to the old file after the rename.
    static func refuseWhileOpen(_ database: String) throws(OpsError) {
        guard let holder = WALIndex.otherProcessHoldingOpen(database: database) else { return }
        throw OpsError(.checkFailed, code: "database.in_use",
                       "\(holder.description) has \(database) open; swapping a vacuumed copy in under it would lose its writes",
                       details: ["stop it (or the app it belongs to) and retry; with auto_vacuum=incremental a vacuum runs while the app does"])
    }
}
