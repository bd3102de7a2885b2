// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

extension HandoffReport {
    /// Every run in the window with its time, and the recent series the trends draw: what the
    /// timeline, the sparklines and the one-line lanes are drawn from (deploys are `deploys`).
    public struct Activity: Sendable, Codable, Equatable {
        public struct BackupRun: Sendable, Codable, Equatable {
            public var at: Date
            public var status: BackupRunStatus
            public var bytes: Int64?
            /// The file name, without its directory.
            public var file: String?
            public var error: String?
        }

        /// A verification or a smoke run.
        public struct CheckRun: Sendable, Codable, Equatable {
            public var at: Date
            public var passed: Bool
            /// Verify: the backup file and, when it failed, why. Smoke: checks passed of all.
            public var detail: String
            /// Smoke: the 95th percentile of the run's check times.
            public var p95Ms: Double?
        }

        public struct NoteMark: Sendable, Codable, Equatable {
            public var id: Int64
            public var at: Date
            public var text: String
            public var by: String?
            public var closedAt: Date?
        }

        public struct Point: Sendable, Codable, Equatable {
            public var at: Date
            public var value: Double
        }

        public var backups: [BackupRun] = []
        public var verifications: [CheckRun] = []
        public var smokeRuns: [CheckRun] = []
        /// Notes written in the window, closed or not.
        public var notes: [NoteMark] = []
        /// Sizes of the newest good backups up to the window's end, oldest first.
        public var backupSizes: [Point] = []
        /// p95 of each of the newest smoke runs up to the window's end, oldest first.
        public var smokeP95Ms: [Point] = []

        public init() {}

        /// How many recent runs the trends show.
        static let trendRuns = 30

        /// Everything in [from, to] of `env`, oldest first. Handoff and status both read it here.
        public static func load(_ ledger: Ledger, env: String, from: Date, to: Date, redactor: Redactor) throws(OpsError) -> Activity {
            var activity = Activity()
            activity.backups = try ledger.backupRuns(env: env, from: from, to: to).map { record in
                BackupRun(at: record.startedAt, status: record.status, bytes: record.bytes,
                          file: record.file.map(Self.fileName), error: record.error.map(redactor.scrub))
            }
            activity.verifications = try ledger.verificationRuns(env: env, from: from, to: to).map { record in
                let file = Self.fileName(record.file) + (record.deep ? " (deep)" : "")
                return CheckRun(at: record.checkedAt, passed: record.status == .ok,
                                detail: record.reason.map { "\(file): \(redactor.scrub($0))" } ?? file)
            }
            activity.smokeRuns = try ledger.smokeRuns(env: env, from: from, to: to).map { run in
                CheckRun(at: run.record.startedAt, passed: run.record.status == .passed,
                         detail: "\(run.record.passed) of \(run.record.passed + run.record.failed) checks passed", p95Ms: Self.p95(run.checkMs))
            }
            activity.notes = try ledger.notesWritten(env: env, from: from, to: to)
            activity.backupSizes = try ledger.backupSizes(env: env, to: to, limit: trendRuns)
            activity.smokeP95Ms = try ledger.smokeRuns(env: env, to: to, limit: trendRuns).compactMap { run in
                p95(run.checkMs).map { Point(at: run.record.startedAt, value: $0) }
            }
            return activity
        }

        /// The last component of a path the ledger recorded: thousands of them per report, where
        /// URL's parsing would cost more than the rest of the row.
        static func fileName(_ path: String) -> String {
            path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
        }

        /// Nearest-rank 95th percentile; nil for no values.
        static func p95(_ values: [Double]) -> Double? {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            return sorted[max(0, Int((0.95 * Double(sorted.count)).rounded(.up)) - 1)]
        }
    }
}

extension HandoffService {
    func activity(_ ledger: Ledger, from: Date, to: Date) throws(OpsError) -> HandoffReport.Activity {
        try .load(ledger, env: environment.name, from: from, to: to, redactor: config.redactor)
    }
}

extension Ledger {
    struct SmokeRunTimes {
        var record: SmokeRunRecord
        /// Each check's total time (libcurl's, ms), read from the run's recorded details.
        var checkMs: [Double]
    }

    func backupRuns(env: String, from: Date, to: Date) throws(OpsError) -> [BackupRecord] {
        try database.query("SELECT \(Self.backupColumns) FROM backups WHERE env = ? AND started_at >= ? AND started_at <= ? ORDER BY started_at, id",
                           [.text(env), .real(from.ledgerTime), .real(to.ledgerTime)]).map(Self.backup)
    }

    func verificationRuns(env: String, from: Date, to: Date) throws(OpsError) -> [VerificationRecord] {
        try database.query("""
            SELECT \(Self.verificationColumns) FROM verifications
            WHERE env = ? AND checked_at >= ? AND checked_at <= ? ORDER BY checked_at, id
            """, [.text(env), .real(from.ledgerTime), .real(to.ledgerTime)]).map(Self.verification)
    }

    /// SQLite's JSON functions pick the check times out of `details`, so 10,000 runs need no JSON decoding here.
    static let smokeRunTimesColumns = """
        \(smokeRunColumns),
        CASE WHEN json_valid(details) THEN (SELECT group_concat(json_extract(value, '$.timings.total_ms')) FROM json_each(details)) END
        """

    static func smokeRunTimes(_ row: SQLiteRow) -> SmokeRunTimes {
        SmokeRunTimes(record: smokeRun(row), checkMs: (row.string(7) ?? "").split(separator: ",").compactMap { Double($0) })
    }

    func smokeRuns(env: String, from: Date, to: Date) throws(OpsError) -> [SmokeRunTimes] {
        try database.query("SELECT \(Self.smokeRunTimesColumns) FROM smoke_runs WHERE env = ? AND started_at >= ? AND started_at <= ? ORDER BY started_at, id",
                           [.text(env), .real(from.ledgerTime), .real(to.ledgerTime)]).map(Self.smokeRunTimes)
    }

    /// The newest `limit` runs up to `to`, oldest first.
    func smokeRuns(env: String, to: Date, limit: Int) throws(OpsError) -> [SmokeRunTimes] {
        try database.query("SELECT \(Self.smokeRunTimesColumns) FROM smoke_runs WHERE env = ? AND started_at <= ? ORDER BY started_at DESC, id DESC LIMIT ?",
                           [.text(env), .real(to.ledgerTime), .integer(Int64(limit))]).map(Self.smokeRunTimes).reversed()
    }

    func backupSizes(env: String, to: Date, limit: Int) throws(OpsError) -> [HandoffReport.Activity.Point] {
        try database.query("""
            SELECT started_at, bytes FROM backups WHERE env = ? AND status = 'succeeded' AND bytes IS NOT NULL AND started_at <= ?
            ORDER BY started_at DESC, id DESC LIMIT ?
            """, [.text(env), .real(to.ledgerTime), .integer(Int64(limit))]).reversed().map { row in
            .init(at: Date(ledgerTime: row.double(0) ?? 0), value: row.double(1) ?? 0)
        }
    }

    func notesWritten(env: String, from: Date, to: Date) throws(OpsError) -> [HandoffReport.Activity.NoteMark] {
        try database.query("""
            SELECT id, text, author, created_at, resolved_at FROM notes WHERE env = ? AND created_at >= ? AND created_at <= ? ORDER BY created_at, id
            """, [.text(env), .real(from.ledgerTime), .real(to.ledgerTime)]).map { row in
            .init(id: row.int64(0) ?? 0, at: Date(ledgerTime: row.double(3) ?? 0), text: row.string(1) ?? "", by: row.string(2),
                  closedAt: row.double(4).map(Date.init(ledgerTime:)))
        }
    }
}
