// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

extension Ledger {
    static let canaryColumns = """
        step, share, started_at, watched_ms, requests_old, requests_new, errors_old, errors_new, p99_old_ms, p99_new_ms,
        verdict, reason, extended, failing_paths
        """

    /// One finished canary step of deploy `deploymentId`, written as it ends (a run killed later keeps it).
    public func recordCanaryStep(deploymentId: Int64, _ step: CanaryStepReport) throws(OpsError) {
        let paths = step.failingPaths.isEmpty ? nil : (try? JSONEncoder().encode(step.failingPaths)).map { String(decoding: $0, as: UTF8.self) }
        try database.writeTransaction { () throws(OpsError) in
            try database.query("INSERT INTO canary_steps (deployment_id, \(Self.canaryColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               [.integer(deploymentId), .integer(Int64(step.step)), .integer(Int64(step.share)), .real(step.startedAt.ledgerTime),
                                .integer(Int64(step.watchedMs)), .integer(Int64(step.old.requests)), .integer(Int64(step.new.requests)),
                                .integer(Int64(step.old.errors)), .integer(Int64(step.new.errors)), .optional(step.old.p99Ms), .optional(step.new.p99Ms),
                                .text(step.verdict.rawValue), .optional(step.reason), .integer(step.extended ? 1 : 0), .optional(paths)])
        }
    }

    /// The canary steps of each of `deploymentIds` that had any, in step order.
    public func canarySteps(deploymentIds: [Int64]) throws(OpsError) -> [Int64: [CanaryStepReport]] {
        guard !deploymentIds.isEmpty else { return [:] }
        let placeholders = Array(repeating: "?", count: deploymentIds.count).joined(separator: ", ")
        let rows = try database.query("SELECT deployment_id, \(Self.canaryColumns) FROM canary_steps WHERE deployment_id IN (\(placeholders)) ORDER BY deployment_id, step",
                                      deploymentIds.map { .integer($0) })
        var steps: [Int64: [CanaryStepReport]] = [:]
        for row in rows {
            guard let id = row.int64(0) else { continue }
            steps[id, default: []].append(Self.canaryStep(row))
        }
        return steps
    }

    static func canaryStep(_ row: SQLiteRow) -> CanaryStepReport {
        var step = CanaryStepReport(step: row.int(1) ?? 0, share: row.int(2) ?? 0, startedAt: Date(ledgerTime: row.double(3) ?? 0))
        step.watchedMs = row.int(4) ?? 0
        step.old = CanaryFigures(requests: row.int(5) ?? 0, errors: row.int(7) ?? 0, p99Ms: row.double(9))
        step.new = CanaryFigures(requests: row.int(6) ?? 0, errors: row.int(8) ?? 0, p99Ms: row.double(10))
        step.verdict = CanaryStepVerdict(rawValue: row.string(11) ?? "") ?? .failed
        step.reason = row.string(12)
        step.extended = row.int(13) == 1
        step.failingPaths = row.string(14).flatMap { try? JSONDecoder().decode([PathCount].self, from: Data($0.utf8)) } ?? []
        return step
    }
}
