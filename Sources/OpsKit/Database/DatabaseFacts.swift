// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What one look at the app's database finds. Reading it takes only short read transactions
/// (and `quick_check`'s one pass, when asked): the app's writers never wait for it.
public struct DatabaseFacts: Sendable, Codable, Equatable {
    public struct Schema: Sendable, Codable, Equatable {
        public var tables: Int
        public var indexes: Int
        public var views: Int
        public var triggers: Int
        /// Tables with at least one index: the ones ANALYZE's statistics steer queries on.
        public var indexedTables: Int
        /// Those of them with statistics in sqlite_stat1.
        public var analyzedTables: Int
    }

    public var path: String
    public var fileBytes: Int64
    public var walBytes: Int64
    public var pageSize: Int
    public var pageCount: Int
    public var freelistPages: Int
    public var journalMode: JournalMode
    public var autoVacuum: AutoVacuum
    public var schema: Schema
    /// The WAL-index, when the database is in WAL mode and it could be read.
    public var wal: WALIndex?
    /// `quick_check`'s findings (["ok"] when clean); nil when not run.
    public var quickCheck: [String]?

    public var freelistPercent: Double { pageCount > 0 ? Double(freelistPages) / Double(pageCount) * 100 : 0 }
    public var quickCheckPassed: Bool? { quickCheck.map { $0 == ["ok"] } }
}

public enum DatabaseInspector {
    /// Looks at `path`. `quickCheck` adds one read pass over the whole file, on a low-priority thread.
    public static func inspect(_ path: String, busyTimeout: OpsDuration, quickCheck: Bool) throws(OpsError) -> DatabaseFacts {
        guard quickCheck else { return try inspect(DatabaseFile.open(path, busyTimeout: busyTimeout), busyTimeout: busyTimeout, quickCheck: false) }
        return try LowPriority.run { () throws(OpsError) in
            try inspect(DatabaseFile.open(path, busyTimeout: busyTimeout), busyTimeout: busyTimeout, quickCheck: true)
        }
    }

    static func inspect(_ database: SQLiteDatabase, busyTimeout: OpsDuration, quickCheck: Bool) throws(OpsError) -> DatabaseFacts {
        try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in
            let journal = try DatabaseFile.journalMode(database)
            let sizes = DatabaseFile.sizes(database.path)
            var facts = DatabaseFacts(
                path: database.path, fileBytes: sizes.file, walBytes: sizes.wal, pageSize: try database.pragmaInt("page_size"),
                pageCount: try database.pragmaInt("page_count"), freelistPages: try database.pragmaInt("freelist_count"), journalMode: journal,
                autoVacuum: AutoVacuum(pragma: try database.pragmaInt("auto_vacuum")), schema: try schema(database),
                wal: journal == .wal ? WALIndex.read(database: database.path) : nil)
            if quickCheck { facts.quickCheck = try database.query("PRAGMA quick_check").compactMap { $0.string(0) } }
            return facts
        }
    }

    static func schema(_ database: SQLiteDatabase) throws(OpsError) -> DatabaseFacts.Schema {
        let counts = try database.query("""
            SELECT COALESCE(SUM(type = 'table' AND name NOT LIKE 'sqlite_%'), 0), COALESCE(SUM(type = 'index'), 0),
                   COALESCE(SUM(type = 'view'), 0), COALESCE(SUM(type = 'trigger'), 0) FROM sqlite_schema
            """).first
        let indexed = try indexedTables(database)
        let analyzed = try statisticsRows(database).reduce(into: Set<String>()) { $0.insert($1.table) }
        return DatabaseFacts.Schema(tables: counts?.int(0) ?? 0, indexes: counts?.int(1) ?? 0, views: counts?.int(2) ?? 0, triggers: counts?.int(3) ?? 0,
                                    indexedTables: indexed.count, analyzedTables: indexed.filter(analyzed.contains).count)
    }

    /// Tables (not SQLite's own) with at least one index, automatic ones included.
    static func indexedTables(_ database: SQLiteDatabase) throws(OpsError) -> [String] {
        try database.query("""
            SELECT t.name FROM sqlite_schema t WHERE t.type = 'table' AND t.name NOT LIKE 'sqlite_%'
            AND EXISTS (SELECT 1 FROM sqlite_schema i WHERE i.type = 'index' AND i.tbl_name = t.name) ORDER BY t.name
            """).compactMap { $0.string(0) }
    }

    /// sqlite_stat1's rows (none when ANALYZE never ran).
    static func statisticsRows(_ database: SQLiteDatabase) throws(OpsError) -> [StatisticsRow] {
        guard try database.query("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'").first != nil else { return [] }
        return try database.query("SELECT tbl, idx, stat FROM sqlite_stat1").compactMap { row in
            row.string(0).map { StatisticsRow(table: $0, index: row.string(1), stat: row.string(2) ?? "") }
        }
    }
}

/// One row of sqlite_stat1: `stat` starts with the row count ANALYZE saw.
struct StatisticsRow: Sendable, Equatable {
    var table: String
    var index: String?
    var stat: String

    var rows: Int? { stat.split(separator: " ").first.flatMap { Int($0) } }
}
