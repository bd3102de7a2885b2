// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

public enum MaintenanceOperation: String, Sendable, Codable, CaseIterable { case optimize, vacuum, checkpoint }

/// How an operation ran.
public enum MaintenanceMethod: String, Sendable, Codable, CaseIterable {
    /// optimize: `analysis_limit` statistics for the tables that need them, in place.
    case limited
    /// optimize --full: a complete ANALYZE on a snapshot, the statistics copied in.
    case full
    /// vacuum: `incremental_vacuum` in small batches while the app runs.
    case incremental
    /// vacuum: `VACUUM INTO` a new file, swapped in while nothing has the database open.
    case swap
    /// checkpoint modes.
    case passive, truncate
}

public enum MaintenanceStatus: String, Sendable, Codable, CaseIterable { case succeeded, failed }

/// One maintenance run as the ledger keeps it.
public struct DatabaseMaintenanceRecord: Sendable, Codable, Equatable {
    public var id: Int64 = 0
    public var env: String
    public var databasePath: String
    public var operation: MaintenanceOperation
    public var method: MaintenanceMethod
    public var status: MaintenanceStatus
    public var startedAt: Date
    public var finishedAt: Date
    public var bytesBefore: Int64?
    public var bytesAfter: Int64?
    public var freelistBefore: Int?
    public var freelistAfter: Int?
    public var writerHoldMs: Double?
    public var longestHoldMs: Double?
    /// Set when the database file was replaced (vacuum by swap): anything that ships the WAL
    /// elsewhere must start over from the new file.
    public var generation: String?
    public var safetyCopy: String?
    public var summary: String?
    public var error: String?
}

/// The newest run of each operation, for status and the handoff.
public struct MaintenanceHistory: Sendable, Codable, Equatable {
    public var lastOptimize: DatabaseMaintenanceRecord?
    public var lastVacuum: DatabaseMaintenanceRecord?
    public var lastCheckpoint: DatabaseMaintenanceRecord?
    /// The newest vacuum that replaced the file.
    public var lastSwap: DatabaseMaintenanceRecord?

    public init(lastOptimize: DatabaseMaintenanceRecord? = nil, lastVacuum: DatabaseMaintenanceRecord? = nil, lastCheckpoint: DatabaseMaintenanceRecord? = nil,
                lastSwap: DatabaseMaintenanceRecord? = nil) {
        self.lastOptimize = lastOptimize
        self.lastVacuum = lastVacuum
        self.lastCheckpoint = lastCheckpoint
        self.lastSwap = lastSwap
    }
}

extension Ledger {
    static let databaseMaintenanceColumns = """
        id, env, database_path, operation, method, status, started_at, finished_at, bytes_before, bytes_after, freelist_before, freelist_after,
        writer_hold_ms, longest_hold_ms, generation, safety_copy, summary, error
        """

    @discardableResult
    public func recordMaintenance(_ record: DatabaseMaintenanceRecord) throws(OpsError) -> Int64 {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("""
                INSERT INTO database_maintenance (env, database_path, operation, method, status, started_at, finished_at, bytes_before, bytes_after,
                    freelist_before, freelist_after, writer_hold_ms, longest_hold_ms, generation, safety_copy, summary, error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(record.env), .text(record.databasePath), .text(record.operation.rawValue), .text(record.method.rawValue),
                      .text(record.status.rawValue), .real(record.startedAt.ledgerTime), .real(record.finishedAt.ledgerTime),
                      .optional(record.bytesBefore), .optional(record.bytesAfter), .optional(record.freelistBefore.map(Int64.init)),
                      .optional(record.freelistAfter.map(Int64.init)), .optional(record.writerHoldMs), .optional(record.longestHoldMs),
                      .optional(record.generation), .optional(record.safetyCopy), .optional(record.summary), .optional(record.error)])
            return database.lastInsertRowID
        }
    }

    /// The newest succeeded run of each operation on `env`.
    public func maintenanceHistory(env: String) throws(OpsError) -> MaintenanceHistory {
        func newest(_ condition: String, _ values: [SQLiteValue]) throws(OpsError) -> DatabaseMaintenanceRecord? {
            try database.query("SELECT \(Self.databaseMaintenanceColumns) FROM database_maintenance WHERE env = ? AND status = 'succeeded' AND \(condition) "
                               + "ORDER BY finished_at DESC, id DESC LIMIT 1", [.text(env)] + values).first.flatMap(Self.maintenance)
        }
        return MaintenanceHistory(
            lastOptimize: try newest("operation = ?", [.text(MaintenanceOperation.optimize.rawValue)]),
            lastVacuum: try newest("operation = ?", [.text(MaintenanceOperation.vacuum.rawValue)]),
            lastCheckpoint: try newest("operation = ?", [.text(MaintenanceOperation.checkpoint.rawValue)]),
            lastSwap: try newest("generation IS NOT NULL", []))
    }

    /// Every run on `env` in the window, newest first.
    public func maintenanceRuns(env: String, from: Date, to: Date) throws(OpsError) -> [DatabaseMaintenanceRecord] {
        try database.query("SELECT \(Self.databaseMaintenanceColumns) FROM database_maintenance WHERE env = ? AND finished_at >= ? AND finished_at <= ? "
                           + "ORDER BY finished_at DESC, id DESC", [.text(env), .real(from.ledgerTime), .real(to.ledgerTime)]).compactMap(Self.maintenance)
    }

    static func maintenance(_ row: SQLiteRow) -> DatabaseMaintenanceRecord? {
        guard let operation = row.string(3).flatMap(MaintenanceOperation.init(rawValue:)), let method = row.string(4).flatMap(MaintenanceMethod.init(rawValue:)),
              let status = row.string(5).flatMap(MaintenanceStatus.init(rawValue:)) else { return nil }
        return DatabaseMaintenanceRecord(
            id: row.int64(0) ?? 0, env: row.string(1) ?? "", databasePath: row.string(2) ?? "", operation: operation, method: method, status: status,
            startedAt: Date(ledgerTime: row.double(6) ?? 0), finishedAt: Date(ledgerTime: row.double(7) ?? 0), bytesBefore: row.int64(8),
            bytesAfter: row.int64(9), freelistBefore: row.int(10), freelistAfter: row.int(11), writerHoldMs: row.double(12), longestHoldMs: row.double(13),
            generation: row.string(14), safetyCopy: row.string(15), summary: row.string(16), error: row.string(17))
    }
}
