// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CSQLite
import Foundation
import Logging

/// `opsctl db ENV optimize [--full]`: fresh query-planner statistics without holding the app's
/// writers for long.
///
/// Default: `PRAGMA analysis_limit` and `PRAGMA optimize`, on the tables that need it. SQLite
/// before 3.46 has `PRAGMA optimize` skip every table a fresh connection has not queried, so
/// opsctl picks the tables itself by the same rule (an index without statistics, or a row count
/// ten times off what the statistics say) and runs ANALYZE on each under the same limit, one
/// short write transaction per table.
///
/// `--full`: a complete ANALYZE, on a snapshot of the database instead of the live file (a full
/// ANALYZE holds the write lock for as long as it reads every index); the statistics it finds are
/// then copied into the live database in one short transaction.
public struct OptimizeReport: Report {
    /// One table whose statistics changed.
    public struct TableChange: Sendable, Codable, Equatable {
        public var table: String
        /// Rows according to the statistics before (nil: none) and after.
        public var rowsBefore: Int?
        public var rowsAfter: Int?
        public var reason: String
    }

    public var env: String
    public var path: String
    public var method: MaintenanceMethod
    public var analysisLimit: Int
    public var changed: [TableChange]
    /// Indexed tables whose statistics were already current.
    public var current: [String]
    public var writersHeld: WriterHolds
    public var durationMs: Int

    public func renderText() -> String {
        var lines = ["optimized \(path) (\(env), \(method == .full ? "full ANALYZE on a snapshot" : "analysis_limit \(analysisLimit)"))"]
        if changed.isEmpty {
            lines.append("  changed   nothing: the statistics of all \(current.count) indexed table(s) were current")
        }
        for change in changed {
            lines.append("  analyzed  \(change.table): \(change.reason); rows per the statistics \(change.rowsBefore.map(String.init) ?? "none") -> \(change.rowsAfter.map(String.init) ?? "none")")
        }
        if !changed.isEmpty, !current.isEmpty { lines.append("  current   \(current.joined(separator: ", "))") }
        lines.append("  writers   held \(writersHeld.summary)")
        lines.append("  took      \(TextFormat.duration(milliseconds: durationMs))")
        return lines.joined(separator: "\n")
    }

    var summary: String {
        changed.isEmpty ? "nothing to analyze" : "analyzed " + changed.map(\.table).joined(separator: ", ")
    }
}

enum DatabaseOptimizer {
    /// Rows ANALYZE reads per index in the default mode (SQLite suggests 100-1000).
    static let analysisLimit = 400
    /// Statistics whose row count is this many times off count as stale.
    static let staleFactor = 10
    /// Between two tables' transactions the app's writers get the lock back for at least this long.
    static let pause: Duration = .milliseconds(20)

    static func optimize(_ database: SQLiteDatabase, full: Bool, busyTimeout: OpsDuration, context: OpsContext) throws(OpsError)
        -> (changed: [OptimizeReport.TableChange], current: [String], holds: WriterHolds) {
        let before = try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in try DatabaseInspector.statisticsRows(database) }
        let tables = try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in try DatabaseInspector.indexedTables(database) }
        var holds = WriterHolds()
        var reasons: [String: String] = [:]
        if full {
            try copyFullStatistics(into: database, tables: tables, busyTimeout: busyTimeout, holds: &holds, context: context)
            for table in tables { reasons[table] = "full ANALYZE" }
        } else {
            try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in try database.execute("PRAGMA analysis_limit = \(analysisLimit)") }
            reasons = try staleTables(database, tables: tables, statistics: before, busyTimeout: busyTimeout)
            for table in tables where reasons[table] != nil {
                if holds.transactions > 0 { Thread.sleep(forTimeInterval: pause.seconds) }
                try holds.write(database, busyTimeout: busyTimeout) { () throws(OpsError) in try database.execute("ANALYZE \(quoted(table))") }
                context.logger.info("analyzed \(table) (\(reasons[table]!))")
            }
            // What SQLite itself finds to do (3.46+ looks at every table; older versions at the ones this connection used).
            try holds.write(database, busyTimeout: busyTimeout) { () throws(OpsError) in try database.execute("PRAGMA optimize") }
        }
        let after = try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in try DatabaseInspector.statisticsRows(database) }
        let changed = tables.compactMap { table -> OptimizeReport.TableChange? in
            let old = before.filter { $0.table == table }, new = after.filter { $0.table == table }
            guard let reason = reasons[table] ?? (old != new ? "PRAGMA optimize" : nil) else { return nil }
            return .init(table: table, rowsBefore: old.compactMap(\.rows).max(), rowsAfter: new.compactMap(\.rows).max(), reason: reason)
        }
        return (changed, tables.filter { table in !changed.contains { $0.table == table } }, holds)
    }

    /// The tables that need statistics, with why: an index without any, or a row count ten
    /// times off. Counting reads the table's smallest index (a read: the app's writers go on).
    static func staleTables(_ database: SQLiteDatabase, tables: [String], statistics: [StatisticsRow], busyTimeout: OpsDuration) throws(OpsError) -> [String: String] {
        var reasons: [String: String] = [:]
        for table in tables {
            let rows = statistics.filter { $0.table == table && $0.index != nil }
            let indexes = try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in
                try database.query("SELECT name FROM pragma_index_list(?)", [.text(table)]).compactMap { $0.string(0) }
            }
            let analyzed = Set(rows.compactMap(\.index))
            if let missing = indexes.first(where: { !analyzed.contains($0) }) {
                reasons[table] = rows.isEmpty ? "never analyzed" : "index \(missing) has no statistics"
                continue
            }
            guard let estimate = rows.compactMap(\.rows).max() else { continue }
            let count = try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in
                try database.query("SELECT count(*) FROM \(quoted(table))").first?.int(0) ?? 0
            }
            if (count + 1) >= (estimate + 1) * staleFactor || (estimate + 1) >= (count + 1) * staleFactor {
                reasons[table] = "\(count) rows now, the statistics say \(estimate)"
            }
        }
        return reasons
    }

    /// ANALYZE on a snapshot (`VACUUM INTO` another file: a read, the app's writers go on), then
    /// the statistics copied in: the app's writers wait only for the copy of a few rows.
    static func copyFullStatistics(into database: SQLiteDatabase, tables: [String], busyTimeout: OpsDuration, holds: inout WriterHolds,
                                   context: OpsContext) throws(OpsError) {
        let path = database.path, logger = context.logger
        let (statistics, stat4) = try LowPriority.run { () throws(OpsError) -> ([StatisticsRow], [SQLiteRow]) in
            let scratch = "\(URL(fileURLWithPath: path).deletingLastPathComponent().path)/\(BackupNaming.temporaryPrefix)analyze-\(getpid()).db"
            defer { for suffix in ["", "-journal", "-wal", "-shm"] { unlink(scratch + suffix) } }
            let copy = try snapshot(path, scratch: scratch, busyTimeout: busyTimeout, logger: logger)
            try copy.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA analysis_limit = 0; ANALYZE")
            return (try DatabaseInspector.statisticsRows(copy),
                    try hasTable(copy, "sqlite_stat4") ? try copy.query("SELECT tbl, idx, neq, nlt, ndlt, sample FROM sqlite_stat4") : [])
        }
        // Rows for every table still in the live schema (tables without an index keep their row count too).
        let known = Set(try database.query("SELECT name FROM sqlite_schema WHERE type = 'table'").compactMap { $0.string(0) })
        try holds.write(database, busyTimeout: busyTimeout) { () throws(OpsError) in
            // ANALYZE of sqlite_schema (which has no index) only creates sqlite_stat1 when it is missing.
            if try !hasTable(database, "sqlite_stat1") { try database.execute("ANALYZE sqlite_schema") }
            try database.execute("DELETE FROM sqlite_stat1")
            for row in statistics where known.contains(row.table) {
                try database.query("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", [.text(row.table), .optional(row.index), .text(row.stat)])
            }
            guard try hasTable(database, "sqlite_stat4") else { return }
            try database.execute("DELETE FROM sqlite_stat4")
            for row in stat4 where row.string(0).map(known.contains) == true {
                try database.query("INSERT INTO sqlite_stat4 (tbl, idx, neq, nlt, ndlt, sample) VALUES (?, ?, ?, ?, ?, ?)", row.values)
            }
        }
    }

    /// A vacuumed copy of `path` to analyze, through a connection of its own: in memory when the
    /// database fits (a quarter of RAM, at most 8 GiB, as a backup's snapshot), so nothing but
    /// the app writes to the disk meanwhile; else the scratch file next to the database.
    static func snapshot(_ path: String, scratch: String, busyTimeout: OpsDuration, logger: Logger) throws(OpsError) -> SQLiteDatabase {
        // VACUUM INTO reads its target as a URI only on a connection opened with URIs on.
        let source = try SQLiteDatabase(path: path, mode: .readOnly, busyTimeout: busyTimeout.swiftDuration, uri: true)
        guard case .memory = OnlineSnapshot.destination(forDatabase: path, scratchFile: scratch) else {
            logger.info("VACUUM INTO \(scratch) for a full ANALYZE")
            try DatabaseFile.run(source, busyTimeout: busyTimeout) { () throws(OpsError) in try source.execute("VACUUM INTO \(sqlString(scratch))") }
            return try SQLiteDatabase(path: scratch, mode: .readWrite)
        }
        // A shared in-memory database lives while a connection has it open: this one, opened first.
        let name = "file:/opsctl-analyze-\(getpid())?vfs=memdb"
        let copy = try SQLiteDatabase(path: name, mode: .readWriteCreate, uri: true)
        var limit: sqlite3_int64 = 8 << 30
        sqlite3_file_control(copy.handle, "main", SQLITE_FCNTL_SIZE_LIMIT, &limit)
        logger.info("VACUUM INTO memory for a full ANALYZE")
        try DatabaseFile.run(source, busyTimeout: busyTimeout) { () throws(OpsError) in try source.execute("VACUUM INTO \(sqlString(name))") }
        return copy
    }

    static func hasTable(_ database: SQLiteDatabase, _ name: String) throws(OpsError) -> Bool {
        try database.query("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", [.text(name)]).first != nil
    }

    /// A string literal for SQL text: 'text' with inner quotes doubled.
    static func sqlString(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    /// An identifier for SQL text: "name" with inner quotes doubled.
    static func quoted(_ identifier: String) -> String { "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
