// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The app's database at a glance, for status, preflight and the handoff: the lines the
/// `database.maintenance` thresholds speak about (WAL, checkpoint, freelist), from a look that
/// takes no `quick_check` pass (`opsctl db ENV` has every line).
public struct DatabaseGlance: Sendable, Codable, Equatable {
    public var path: String
    public var fileBytes: Int64?
    public var walBytes: Int64?
    public var maxWAL: Int64
    public var freelistPercent: Double?
    /// The wal, checkpoint and freelist lines, whatever their verdict.
    public var checks: [DatabaseCheck]
    /// Why the database could not be looked at (missing, locked, not SQLite).
    public var error: String?

    public var warnings: [DatabaseCheck] { checks.filter { $0.verdict != .ok } }

    /// nil without `database.path`. Writes the database metrics when the environment has them.
    public static func look(_ environment: EnvironmentConfig, config: OpsConfig, context: OpsContext) -> DatabaseGlance? {
        guard let request = try? DatabaseRequest.forEnvironment(environment, config: config) else { return nil }
        var glance = DatabaseGlance(path: request.path, maxWAL: request.limits.maxWAL, checks: [])
        do {
            let facts = try DatabaseInspector.inspect(request.path, busyTimeout: request.limits.busyTimeout, quickCheck: false)
            (glance.fileBytes, glance.walBytes, glance.freelistPercent) = (facts.fileBytes, facts.walBytes, facts.freelistPercent)
            glance.checks = DatabaseChecks.thresholds(facts, request.checkContext(history: nil, now: context.now()))
            DatabaseService.writeMetrics(request, facts: facts, history: DatabaseService.history(request, context: context), context: context)
        } catch {
            glance.error = error.message
        }
        return glance
    }

    /// `13.1 MiB, WAL 4.0 MiB of max_wal 256.0 MiB, 2.1% free`.
    public var summary: String {
        if let error { return "UNREADABLE: \(error)" }
        return [fileBytes.map(ByteCount.format), walBytes.map { "WAL \(ByteCount.format($0)) of max_wal \(ByteCount.format(maxWAL))" },
                freelistPercent.map { "\(DatabaseChecks.percent($0)) free" }].compactMap { $0 }.joined(separator: ", ")
    }
}
