// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CSQLite
import Foundation

/// The app's database as `opsctl db` meets it: each bad input becomes its own error and exit
/// code before anything is changed (missing 66, not SQLite or corrupt 65, locked past the busy
/// timeout 75, not in WAL mode 9).
public enum DatabaseFile {
    /// A connection for inspection or maintenance. Read-write (never create): a WAL database
    /// needs its `-shm` writable even to be read.
    public static func open(_ path: String, busyTimeout: OpsDuration) throws(OpsError) -> SQLiteDatabase {
        guard FileManager.default.fileExists(atPath: path) else {
            throw OpsError(.databaseMissing, code: "database.missing", "\(path): no such database file",
                           details: ["check database.path (and that the volume holding it is mounted)"])
        }
        try requireSQLiteHeader(path)
        let database: SQLiteDatabase
        do {
            database = try SQLiteDatabase(path: path, mode: .readWrite, busyTimeout: busyTimeout.swiftDuration)
        } catch {
            throw classify(error, path: path, code: nil, busyTimeout: busyTimeout)
        }
        // A schema read touches page 1: an unreadable header or a lock held past the timeout shows here.
        _ = try run(database, busyTimeout: busyTimeout) { () throws(OpsError) in try database.query("SELECT count(*) FROM sqlite_schema") }
        return database
    }

    /// Runs `body`, turning SQLite's busy and corruption results into their own errors.
    public static func run<T>(_ database: SQLiteDatabase, busyTimeout: OpsDuration, _ body: () throws(OpsError) -> T) throws(OpsError) -> T {
        do {
            return try body()
        } catch {
            throw classify(error, path: database.path, code: database.lastFailure?.code, busyTimeout: busyTimeout)
        }
    }

    static func classify(_ error: OpsError, path: String, code: Int32?, busyTimeout: OpsDuration) -> OpsError {
        guard let code else { return error }
        if [SQLITE_BUSY, SQLITE_LOCKED].contains(code & 0xff) {
            return OpsError(.databaseBusy, code: "database.busy", "\(path) stayed locked past the busy timeout (\(busyTimeout)): another connection holds it",
                            details: ["a long write transaction or an exclusive lock in the app (or an sqlite3 shell); retry when it ends",
                                      "database.maintenance.busy_timeout sets how long opsctl waits"])
        }
        if SQLiteDatabase.isCorruption(code) {
            return OpsError(.databaseCorrupt, code: "database.corrupt", "\(path) is corrupt: \(error.message)",
                            details: ["nothing was changed; `opsctl verify ENV` checks the backups, `opsctl restore ENV` puts the newest verified one back"])
        }
        return error
    }

    /// A clear error for "this is not a database" before SQLite says "file is not a database" halfway through.
    static func requireSQLiteHeader(_ path: String) throws(OpsError) {
        // A connection of this process may be open on it: see SideDescriptors.
        let read = try SideDescriptors.reading(path) { descriptor in
            var bytes = [UInt8](repeating: 0, count: 16)
            let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 16, 0) }
            return Array(bytes.prefix(max(0, count)))
        }
        guard let header = read else {
            throw OpsError(.io, code: "database.unreadable", "\(path): cannot open for reading: \(String(cString: strerror(errno)))")
        }
        if header.isEmpty { return }   // SQLite's empty database
        guard header == Array("SQLite format 3\0".utf8) else {
            throw OpsError(.databaseCorrupt, code: "database.not_sqlite", "\(path) is not an SQLite 3 database (its header is not \"SQLite format 3\")",
                           details: ["check database.path: it names another file"])
        }
    }

    /// Maintenance is online only in WAL mode: readers never block the app's writer there, and
    /// the WAL is what a checkpoint works on.
    public static func requireWAL(_ database: SQLiteDatabase, busyTimeout: OpsDuration) throws(OpsError) {
        let mode = try run(database, busyTimeout: busyTimeout) { () throws(OpsError) in try journalMode(database) }
        guard mode == .wal else {
            throw OpsError(.databaseMode, code: "database.not_wal",
                           "\(database.path) is in \(mode.rawValue) journal mode, not WAL: opsctl maintains a database online only in WAL mode",
                           details: ["switch once, with the app stopped: sqlite3 \(database.path) 'PRAGMA journal_mode=WAL' (it stays set in the file)"])
        }
    }

    static func journalMode(_ database: SQLiteDatabase) throws(OpsError) -> JournalMode {
        let text = try database.query("PRAGMA journal_mode").first?.string(0) ?? ""
        return JournalMode(rawValue: text.lowercased()) ?? .delete
    }

    /// The database file and its WAL, as `ls` shows them.
    static func sizes(_ path: String) -> (file: Int64, wal: Int64) {
        func size(_ path: String) -> Int64 {
            var info = stat()
            return stat(path, &info) == 0 ? Int64(info.st_size) : 0
        }
        return (size(path), size(path + "-wal"))
    }
}

public enum JournalMode: String, Sendable, Codable, CaseIterable { case wal, delete, truncate, persist, memory, off }

/// `PRAGMA auto_vacuum`: whether free pages can be given back without rewriting the file.
public enum AutoVacuum: String, Sendable, Codable, CaseIterable {
    case none, full, incremental

    init(pragma value: Int) { self = value == 1 ? .full : value == 2 ? .incremental : .none }
}

/// opsctl's own write transactions on the app's database, timed: while one is open the app's
/// writers wait, so the total and the longest are what the app felt.
public struct WriterHolds: Sendable, Codable, Equatable {
    public var transactions = 0
    public var totalMs: Double = 0
    public var longestMs: Double = 0
    /// The newest one, for pacing.
    var last: Duration = .zero

    enum CodingKeys: String, CodingKey { case transactions, totalMs, longestMs }

    public init() {}

    /// `body` inside BEGIN IMMEDIATE ... COMMIT: the write lock is taken up front, waiting at
    /// most the busy timeout for the app's own transaction (then exit 75, nothing changed).
    mutating func write<T>(_ database: SQLiteDatabase, busyTimeout: OpsDuration, _ body: () throws(OpsError) -> T) throws(OpsError) -> T {
        try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in try database.execute("BEGIN IMMEDIATE") }
        let started = ContinuousClock.now
        defer { record(ContinuousClock.now - started) }
        do {
            let value = try DatabaseFile.run(database, busyTimeout: busyTimeout, body)
            try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in try database.execute("COMMIT") }
            return value
        } catch {
            try? database.execute("ROLLBACK")
            throw error
        }
    }

    mutating func record(_ held: Duration) {
        let milliseconds = Double(held.components.seconds) * 1000 + Double(held.components.attoseconds) / 1e15
        transactions += 1
        last = held
        totalMs += milliseconds
        longestMs = max(longestMs, milliseconds)
    }

    /// `3 transactions, 4.2 ms in all, longest 2.1 ms`.
    public var summary: String {
        transactions == 0 ? "never" : "\(transactions) transaction(s), \(Self.milliseconds(totalMs)) in all, longest \(Self.milliseconds(longestMs))"
    }

    static func milliseconds(_ value: Double) -> String { value < 10 ? String(format: "%.1f ms", value) : "\(Int(value.rounded())) ms" }
}
