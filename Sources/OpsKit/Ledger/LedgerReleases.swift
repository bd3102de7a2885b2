// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The release kept running after a switch, for an instant rollback, and until when.
public struct StandbyRecord: Sendable, Codable, Equatable {
    public var env: String
    public var version: String
    /// nil: a release from before blue/green, running outside the slots.
    public var slot: String?
    public var container: String
    public var since: Date
    public var expiresAt: Date

    public init(env: String, version: String, slot: String?, container: String, since: Date, expiresAt: Date) {
        self.env = env
        self.version = version
        self.slot = slot
        self.container = container
        self.since = since
        self.expiresAt = expiresAt
    }
}

extension Ledger {
    /// Finished deploys and rollbacks of `env`, by kind and status.
    public func deploymentCounts(env: String) throws(OpsError) -> [(kind: String, status: String, count: Int)] {
        try database.query("SELECT kind, status, COUNT(*) FROM deployments WHERE env = ? AND status != 'running' GROUP BY kind, status ORDER BY kind, status",
                           [.text(env)]).map { ($0.string(0) ?? "deploy", $0.string(1) ?? "?", $0.int(2) ?? 0) }
    }

    /// Newest first, distinct: the versions that were live at some point in `env`.
    public func succeededVersions(env: String) throws(OpsError) -> [String] {
        var seen = Set<String>()
        return try database.query("SELECT version FROM deployments WHERE env = ? AND status = 'succeeded' ORDER BY started_at DESC, id DESC",
                                  [.text(env)]).compactMap { row in
            guard let version = row.string(0), seen.insert(version).inserted else { return nil }
            return version
        }
    }

    /// Who holds a lock, for the handoff and for humans reading the ledger (the flock is the lock itself).
    public func recordLock(scope: String, holder: FileLock.Holder) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("INSERT OR REPLACE INTO locks (scope, holder, pid, host, command, acquired_at) VALUES (?, ?, ?, ?, ?, ?)",
                               [.text(scope), .text(holder.description), .integer(Int64(holder.pid)), .text(holder.host), .text(holder.command),
                                .real(holder.startedAt.ledgerTime)])
        }
    }

    public func clearLock(scope: String) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("DELETE FROM locks WHERE scope = ? AND pid = ?", [.text(scope), .integer(Int64(getpid()))])
        }
    }

    public func setStandby(_ record: StandbyRecord) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("INSERT OR REPLACE INTO standby (env, version, slot, container, since, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                               [.text(record.env), .text(record.version), .optional(record.slot), .text(record.container),
                                .real(record.since.ledgerTime), .real(record.expiresAt.ledgerTime)])
        }
    }

    public func standby(env: String) throws(OpsError) -> StandbyRecord? {
        try database.query("SELECT env, version, slot, container, since, expires_at FROM standby WHERE env = ?", [.text(env)]).first.map { row in
            StandbyRecord(env: row.string(0) ?? env, version: row.string(1) ?? "", slot: row.string(2), container: row.string(3) ?? "",
                          since: Date(ledgerTime: row.double(4) ?? 0), expiresAt: Date(ledgerTime: row.double(5) ?? 0))
        }
    }

    public func clearStandby(env: String) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("DELETE FROM standby WHERE env = ?", [.text(env)])
        }
    }
}
