// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CSQLite
import Foundation

/// A thin, typed wrapper over one sqlite3 connection. Every call holds the connection's lock
/// for its whole length (a query until its last row, a write transaction until its commit), so
/// one connection may be shared by the tasks of a command, as the ledger is; SQLite's own
/// locking coordinates processes.
public final class SQLiteDatabase: @unchecked Sendable {
    public enum Mode: Sendable { case readOnly, readWrite, readWriteCreate }

    let handle: OpaquePointer
    public let path: String
    /// Recursive: a write transaction's body runs queries on the same thread.
    private let lock = NSRecursiveLock()

    public init(path: String, mode: Mode = .readWriteCreate, busyTimeout: Duration = .seconds(10), uri: Bool = false) throws(OpsError) {
        var flags: Int32 = SQLITE_OPEN_NOMUTEX | (uri ? SQLITE_OPEN_URI : 0)
        switch mode {
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        case .readWrite: flags |= SQLITE_OPEN_READWRITE
        case .readWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        var connection: OpaquePointer?
        SideDescriptors.connectionOpening()
        let status = sqlite3_open_v2(path, &connection, flags, nil)
        guard status == SQLITE_OK, let connection else {
            let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            sqlite3_close_v2(connection)
            SideDescriptors.connectionClosed()
            throw OpsError(status == SQLITE_CANTOPEN ? .io : .software, code: "sqlite.open", "\(path): cannot open database: \(message)")
        }
        self.handle = connection
        self.path = path
        sqlite3_extended_result_codes(connection, 1)
        sqlite3_busy_timeout(connection, Int32(busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000))
    }

    deinit {
        sqlite3_close_v2(handle)
        SideDescriptors.connectionClosed()
    }

    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }

    var lastErrorMessage: String { String(cString: sqlite3_errmsg(handle)) }

    /// The result code and message of the last failed call through `failure`: callers that must
    /// tell corruption from other failures read the code, never the message text.
    public private(set) var lastFailure: (code: Int32, message: String)?

    /// SQLITE_CORRUPT or SQLITE_NOTADB (any extended form).
    public static func isCorruption(_ code: Int32) -> Bool {
        [SQLITE_CORRUPT, SQLITE_NOTADB].contains(code & 0xff)
    }

    func failure(_ status: Int32, _ what: String) -> OpsError {
        lastFailure = (status, lastErrorMessage)
        let primary = status & 0xff
        let kind: OpsError.Kind = switch primary {
        case SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_PERM: .io
        case SQLITE_CORRUPT, SQLITE_NOTADB: .checkFailed
        default: .software
        }
        return OpsError(kind, code: "sqlite.error", "\(path): \(what): \(lastErrorMessage) (sqlite code \(status))")
    }

    /// Runs one or more statements without results.
    public func execute(_ sql: String) throws(OpsError) {
        lock.lock()
        defer { lock.unlock() }
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        if status != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? lastErrorMessage
            sqlite3_free(message)
            lastFailure = (status, text)
            let primary = status & 0xff
            throw OpsError(primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_READONLY ? .io : .software,
                           code: "sqlite.error", "\(path): \(text) (sqlite code \(status))")
        }
    }

    /// Callers hold `lock` (only `query` prepares).
    func prepare(_ sql: String) throws(OpsError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else { throw failure(status, "cannot prepare \"\(sql.prefix(60))\"") }
        return SQLiteStatement(statement, database: self)
    }

    /// Runs a statement with bound values; returns all rows.
    @discardableResult
    public func query(_ sql: String, _ values: [SQLiteValue] = []) throws(OpsError) -> [SQLiteRow] {
        lock.lock()
        defer { lock.unlock() }
        let statement = try prepare(sql)
        try statement.bind(values)
        var rows: [SQLiteRow] = []
        while let row = try statement.step() { rows.append(row) }
        return rows
    }

    public var lastInsertRowID: Int64 { lock.withLock { sqlite3_last_insert_rowid(handle) } }
    public var changes: Int { lock.withLock { Int(sqlite3_changes(handle)) } }

    public func pragmaInt(_ name: String) throws(OpsError) -> Int {
        try query("PRAGMA \(name)").first?.int(0) ?? 0
    }

    /// A write transaction taken with BEGIN IMMEDIATE: the write lock is acquired up front, where
    /// the busy timeout applies, instead of failing with SQLITE_BUSY when a reader upgrades.
    @discardableResult
    public func writeTransaction<T>(_ body: () throws(OpsError) -> T) throws(OpsError) -> T {
        lock.lock()
        defer { lock.unlock() }
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

public enum SQLiteValue: Sendable, Equatable {
    case null, integer(Int64), real(Double), text(String), blob([UInt8])

    public static func optional(_ text: String?) -> SQLiteValue { text.map(SQLiteValue.text) ?? .null }
    public static func optional(_ number: Int64?) -> SQLiteValue { number.map(SQLiteValue.integer) ?? .null }
    public static func optional(_ number: Double?) -> SQLiteValue { number.map(SQLiteValue.real) ?? .null }
}

public struct SQLiteRow: Sendable {
    public let values: [SQLiteValue]
    public func int(_ index: Int) -> Int? { int64(index).map(Int.init) }
    public func int64(_ index: Int) -> Int64? {
        switch values[index] {
        case .integer(let number): number
        case .real(let number): Int64(number)
        case .text(let text): Int64(text)
        default: nil
        }
    }
    public func double(_ index: Int) -> Double? {
        switch values[index] {
        case .integer(let number): Double(number)
        case .real(let number): number
        case .text(let text): Double(text)
        default: nil
        }
    }
    public func string(_ index: Int) -> String? {
        switch values[index] {
        case .text(let text): text
        case .integer(let number): String(number)
        case .real(let number): String(number)
        case .blob(let bytes): String(decoding: bytes, as: UTF8.self)
        case .null: nil
        }
    }
}

public final class SQLiteStatement {
    let handle: OpaquePointer
    let database: SQLiteDatabase

    init(_ handle: OpaquePointer, database: SQLiteDatabase) {
        self.handle = handle
        self.database = database
    }

    deinit { sqlite3_finalize(handle) }

    public func bind(_ values: [SQLiteValue]) throws(OpsError) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32 = switch value {
            case .null: sqlite3_bind_null(handle, index)
            case .integer(let number): sqlite3_bind_int64(handle, index, number)
            case .real(let number): sqlite3_bind_double(handle, index, number)
            case .text(let text): opsctl_sqlite3_bind_text_transient(handle, index, text, -1)
            case .blob(let bytes): bytes.withUnsafeBytes { opsctl_sqlite3_bind_blob_transient(handle, index, $0.baseAddress, Int32($0.count)) }
            }
            guard status == SQLITE_OK else { throw database.failure(status, "cannot bind parameter \(index)") }
        }
    }

    /// The next row, or nil when done.
    public func step() throws(OpsError) -> SQLiteRow? {
        let status = sqlite3_step(handle)
        switch status {
        case SQLITE_ROW:
            let count = sqlite3_column_count(handle)
            var values: [SQLiteValue] = []
            values.reserveCapacity(Int(count))
            for column in 0..<count {
                switch sqlite3_column_type(handle, column) {
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(handle, column)))
                case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(handle, column)))
                case SQLITE_TEXT: values.append(.text(String(cString: sqlite3_column_text(handle, column))))
                case SQLITE_BLOB:
                    let length = Int(sqlite3_column_bytes(handle, column))
                    let pointer = sqlite3_column_blob(handle, column)
                    values.append(.blob(pointer.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []))
                default: values.append(.null)
                }
            }
            return SQLiteRow(values: values)
        case SQLITE_DONE:
            return nil
        default:
            throw database.failure(status, "step failed")
        }
    }
}
