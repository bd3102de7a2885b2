// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One maintenance (or pause) of an environment, from `on`/`pause` to `off`/`resume`.
public struct MaintenanceRecord: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        /// Every request gets the maintenance page.
        case on
        /// Requests wait at the gate (and get the page once `holdUntil` passed).
        case paused
    }

    public enum Source: String, Sendable, Codable {
        case maintenance
        /// `opsctl restore --pause`.
        case restore
        /// `opsctl db ENV vacuum` swapping a vacuumed copy in behind the proxy.
        case vacuum
    }

    public var id: Int64
    public var env: String
    public var state: State
    public var source: Source
    public var message: String
    public var retryAfterSeconds: Int
    public var upstreamFile: String
    /// The upstream file's exact text before: what `off` and `resume` put back.
    public var replacedUpstream: String
    public var token: String
    public var holdUntil: Date?
    public var gatePid: Int32?
    public var gateAddress: String?
    public var startedAt: Date
    public var actor: String?
    public var endedAt: Date?
    public var endReason: String?

    public var page: MaintenancePage {
        var page = MaintenancePage(message: message)
        page.retryAfterSeconds = retryAfterSeconds
        return page
    }
}

extension Ledger {
    static let maintenanceColumns = """
        id, env, state, source, message, retry_after, upstream_file, replaced_upstream, token, hold_until, gate_pid, gate_address,
        started_at, actor, ended_at, end_reason
        """

    /// Records a maintenance before the upstream file is touched, synchronously to disk: the
    /// text it replaces must survive anything that happens after (a crash, a power cut), since
    /// `off` puts back exactly that.
    public func beginMaintenance(env: String, state: MaintenanceRecord.State, source: MaintenanceRecord.Source, page: MaintenancePage,
                                 upstreamFile: String, replaced: String, token: String, holdUntil: Date?, gatePid: Int32?, gateAddress: String?,
                                 actor: String?, at date: Date) throws(OpsError) -> Int64 {
        try durably { () throws(OpsError) in
            try database.writeTransaction { () throws(OpsError) in
                try database.query("""
                    INSERT INTO maintenance (env, state, source, message, retry_after, upstream_file, replaced_upstream, token, hold_until, gate_pid,
                                             gate_address, started_at, actor)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.text(env), .text(state.rawValue), .text(source.rawValue), .text(page.message), .integer(Int64(page.retryAfterSeconds)),
                          .text(upstreamFile), .text(replaced), .text(token), .optional(holdUntil?.ledgerTime), .optional(gatePid.map(Int64.init)),
                          .optional(gateAddress), .real(date.ledgerTime), .optional(actor)])
                return database.lastInsertRowID
            }
        }
    }

    /// A new page (and token) for the maintenance that is on.
    public func updateMaintenancePage(id: Int64, page: MaintenancePage, token: String) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("UPDATE maintenance SET message = ?, retry_after = ?, token = ? WHERE id = ?",
                               [.text(page.message), .integer(Int64(page.retryAfterSeconds)), .text(token), .integer(id)])
        }
    }

    public func endMaintenance(id: Int64, reason: String, at date: Date) throws(OpsError) {
        try durably { () throws(OpsError) in
            try database.writeTransaction { () throws(OpsError) in
                try database.query("UPDATE maintenance SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
                                   [.real(date.ledgerTime), .text(reason), .integer(id)])
            }
        }
    }

    /// The maintenance or pause of `env` that has not ended, if any.
    public func activeMaintenance(env: String) throws(OpsError) -> MaintenanceRecord? {
        try database.query("SELECT \(Self.maintenanceColumns) FROM maintenance WHERE env = ? AND ended_at IS NULL ORDER BY id DESC LIMIT 1",
                           [.text(env)]).first.map(Self.maintenance)
    }

    /// Maintenance periods of `env` that overlap [from, to], oldest first.
    public func maintenances(env: String, from: Date, to: Date) throws(OpsError) -> [MaintenanceRecord] {
        try database.query("""
            SELECT \(Self.maintenanceColumns) FROM maintenance
            WHERE env = ? AND started_at <= ? AND (ended_at IS NULL OR ended_at >= ?) ORDER BY started_at
            """, [.text(env), .real(to.ledgerTime), .real(from.ledgerTime)]).map(Self.maintenance)
    }

    /// The ledger runs `synchronous = NORMAL` (a commit may be lost on power loss, never torn);
    /// these rows are worth a sync each.
    func durably<T>(_ body: () throws(OpsError) -> T) throws(OpsError) -> T {
        try database.execute("PRAGMA synchronous = FULL")
        defer { try? database.execute("PRAGMA synchronous = NORMAL") }
        return try body()
    }

    static func maintenance(_ row: SQLiteRow) -> MaintenanceRecord {
        MaintenanceRecord(id: row.int64(0) ?? 0, env: row.string(1) ?? "", state: MaintenanceRecord.State(rawValue: row.string(2) ?? "") ?? .on,
                          source: MaintenanceRecord.Source(rawValue: row.string(3) ?? "") ?? .maintenance, message: row.string(4) ?? "",
                          retryAfterSeconds: row.int(5) ?? 0, upstreamFile: row.string(6) ?? "", replacedUpstream: row.string(7) ?? "",
                          token: row.string(8) ?? "", holdUntil: row.double(9).map { Date(ledgerTime: $0) }, gatePid: row.int(10).map(Int32.init),
                          gateAddress: row.string(11), startedAt: Date(ledgerTime: row.double(12) ?? 0), actor: row.string(13),
                          endedAt: row.double(14).map { Date(ledgerTime: $0) }, endReason: row.string(15))
    }
}
