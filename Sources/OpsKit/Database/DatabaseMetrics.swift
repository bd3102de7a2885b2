// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl_database_*`: written by every `opsctl db` command and by the handoff, so the alert
/// rules see the WAL and the freelist between maintenance runs.
enum DatabaseMetrics {
    static func samples(env: String, facts: DatabaseFacts, checks: [DatabaseCheck], limits: DatabaseMaintenance,
                        history: MaintenanceHistory?) -> [MetricSample] {
        let labels = [("env", env)]
        var samples = [
            MetricSample("opsctl_database_bytes", "Size of the database file.", labels: labels, Double(facts.fileBytes)),
            MetricSample("opsctl_database_wal_bytes", "Size of the database's WAL file.", labels: labels, Double(facts.walBytes)),
            MetricSample("opsctl_database_wal_max_bytes", "database.maintenance.max_wal.", labels: labels, Double(limits.maxWAL)),
            MetricSample("opsctl_database_wal_pending_frames", "WAL frames not yet checkpointed into the database file.", labels: labels,
                         Double(facts.wal?.pendingFrames ?? 0)),
            MetricSample("opsctl_database_wal_pinned", "1 when a reader on an old snapshot keeps the WAL from being checkpointed.", labels: labels,
                         facts.wal.map { $0.pinningReaders.isEmpty ? 0 : 1 } ?? 0),
            MetricSample("opsctl_database_freelist_ratio", "Free pages as a share of the database file (0-1).", labels: labels, facts.freelistPercent / 100),
            MetricSample("opsctl_database_freelist_max_ratio", "database.maintenance.max_freelist (0-1).", labels: labels, limits.maxFreelist / 100),
        ]
        samples += checks.map { check in
            MetricSample("opsctl_database_check", "A line of opsctl db: 0 ok, 1 warn, 2 fail.", labels: labels + [("check", check.id.rawValue)],
                         Double(check.verdict.rank))
        }
        let runs: [(String, DatabaseMaintenanceRecord?)] = [("optimize", history?.lastOptimize), ("vacuum", history?.lastVacuum)]
        for (operation, record) in runs {
            guard let record else { continue }
            samples.append(MetricSample("opsctl_database_last_maintenance_timestamp_seconds", "When opsctl last ran this maintenance successfully.",
                                        labels: labels + [("operation", operation)], record.finishedAt.timeIntervalSince1970.rounded()))
        }
        return samples
    }
}
