import CSQLite
import Foundation

/// A consistent copy of a live SQLite database, taken through the online backup API.
///
/// The source connection opens a read transaction first and the copy runs as ONE
/// `sqlite3_backup_step(-1)` inside it, so it sees a single snapshot and never restarts.
/// (`sqlite3 .backup` steps 100 pages at a time and starts over whenever another process
/// writes, so on a busy database it may never finish.) In WAL mode writers carry on during
/// the copy; with a rollback journal they wait for it: that window is measured and reported.
public struct OnlineSnapshot: Sendable {
    public struct Result: Sendable, Codable {
        public var pageSize: Int
        public var pageCount: Int
        public var bytes: Int64
        public var journalMode: String
        /// How long the source's read lock was held (writers wait for it unless in WAL mode).
        public var lockWindowMilliseconds: Int
    }

    public let sourcePath: String
    public var busyTimeout: Duration = .seconds(30)

    public init(sourcePath: String) { self.sourcePath = sourcePath }

    /// Copies the source into `destinationPath` (created; overwritten if present).
    public func copy(to destinationPath: String) throws(OpsError) -> Result {
        guard FileManager.default.fileExists(atPath: sourcePath) else {
            throw OpsError(.io, code: "backup.source_missing", "\(sourcePath): no such database")
        }
        try Self.requireSQLiteHeader(sourcePath)
        // Read-write open (never create): a WAL database needs its -shm to be writable to read.
        let source = try SQLiteDatabase(path: sourcePath, mode: .readWrite, busyTimeout: busyTimeout)
        let journalMode = try source.query("PRAGMA journal_mode").first?.string(0) ?? "unknown"
        let destination = try SQLiteDatabase(path: destinationPath, mode: .readWriteCreate, busyTimeout: busyTimeout)
        // The copy is a scratch file: no journal, no fsync. Durability comes from the .gz.
        try destination.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")

        let lockStart = ContinuousClock.now
        try source.execute("BEGIN")
        // Reading the schema starts the read transaction: from here on the snapshot is pinned.
        _ = try source.query("SELECT count(*) FROM sqlite_schema")
        guard let backup = sqlite3_backup_init(destination.handle, "main", source.handle, "main") else {
            try? source.execute("ROLLBACK")
            throw destination.failure(sqlite3_errcode(destination.handle), "cannot start the online backup")
        }
        var status = sqlite3_backup_step(backup, -1)
        while status == SQLITE_BUSY || status == SQLITE_LOCKED {
            // Only the destination can be busy here (the source lock is already held): wait.
            usleep(10_000)
            status = sqlite3_backup_step(backup, -1)
        }
        let pageCount = Int(sqlite3_backup_pagecount(backup))
        let finish = sqlite3_backup_finish(backup)
        try? source.execute("COMMIT")
        let lockWindow = ContinuousClock.now - lockStart
        guard status == SQLITE_DONE, finish == SQLITE_OK else {
            let failed = status == SQLITE_DONE ? finish : status
            let side = [SQLITE_FULL, SQLITE_IOERR].contains(failed & 0xff) ? destination : source
            throw side.failure(failed, "online backup failed")
        }
        let pageSize = try destination.pragmaInt("page_size")
        return Result(pageSize: pageSize, pageCount: pageCount, bytes: Int64(pageSize) * Int64(pageCount), journalMode: journalMode,
                      lockWindowMilliseconds: Int(lockWindow.components.seconds * 1000 + lockWindow.components.attoseconds / 1_000_000_000_000_000))
    }

    /// A clear error for "this is not a database" before SQLite says "file is not a database"
    /// halfway through.
    static func requireSQLiteHeader(_ path: String) throws(OpsError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw OpsError(.io, code: "backup.source_unreadable", "\(path): cannot open for reading: \(String(cString: strerror(errno)))")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        if header.isEmpty { return }   // an empty file is a valid, empty database
        guard header == Data("SQLite format 3\0".utf8) else {
            throw OpsError(.checkFailed, code: "backup.not_sqlite", "\(path): not an SQLite 3 database (bad header)")
        }
    }
}
