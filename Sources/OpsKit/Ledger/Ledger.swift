// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// The state database: what opsctl did, when, and with what result.
/// WAL so readers never block the writer; a busy timeout plus BEGIN IMMEDIATE so
/// concurrent opsctl processes queue instead of failing with "database is locked".
/// Shared by the tasks of one command through `OpsContext.ledger(_:)`: its connection
/// serializes every call.
public final class Ledger: Sendable {
    public let database: SQLiteDatabase

    public var path: String { database.path }

    public init(path: String, busyTimeout: Duration = .seconds(30)) throws(OpsError) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw OpsError(.io, code: "ledger.unwritable", "\(directory): cannot create the state directory: \(YAMLReader.reason(error))")
        }
        database = try SQLiteDatabase(path: path, mode: .readWriteCreate, busyTimeout: busyTimeout)
        try database.execute("PRAGMA journal_mode = WAL")
        try database.execute("PRAGMA synchronous = NORMAL")
        try database.execute("PRAGMA foreign_keys = ON")
        try migrate()
    }

    public var schemaVersion: Int { (try? database.pragmaInt("user_version")) ?? 0 }

    /// Applies every migration newer than `user_version`, each in its own immediate transaction,
    /// re-reading the version inside it so two processes opening a new ledger don't both migrate.
    func migrate() throws(OpsError) {
        let current = try database.pragmaInt("user_version")
        guard current <= LedgerSchema.latestVersion else {
            throw OpsError(.config, code: "ledger.too_new",
                           "\(path): the state database has schema \(current), newer than this opsctl knows (\(LedgerSchema.latestVersion)); upgrade opsctl")
        }
        guard current < LedgerSchema.latestVersion else { return }
        try database.writeTransaction { () throws(OpsError) in
            let version = try database.pragmaInt("user_version")
            for index in version..<LedgerSchema.latestVersion {
                try database.execute(LedgerSchema.migrations[index])
            }
            try database.execute("PRAGMA user_version = \(LedgerSchema.latestVersion)")
        }
    }
}

/// Seconds since 1970, as stored in the ledger's REAL time columns.
extension Date {
    var ledgerTime: Double { timeIntervalSince1970 }
    init(ledgerTime: Double) { self.init(timeIntervalSince1970: ledgerTime) }
}

/// One open ledger per state file for the life of a command's context.
public final class LedgerConnections: Sendable {
    private let open = Mutex<[String: Ledger]>([:])

    public init() {}

    func ledger(_ path: String) throws(OpsError) -> Ledger {
        try open.withLock { (ledgers) throws(OpsError) -> Ledger in
            if let ledger = ledgers[path] { return ledger }
            let ledger = try Ledger(path: path)
            ledgers[path] = ledger
            return ledger
        }
    }
}
