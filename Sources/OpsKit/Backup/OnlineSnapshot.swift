// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

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

    /// Where the copy goes. Memory avoids writing (and re-reading) a scratch file, which both
    /// halves the copy time and keeps 200 MB of dirty pages from slowing the app's fsyncs.
    public enum Destination: Sendable {
        case memory
        case file(String)
    }

    /// Memory when the database comfortably fits (a quarter of RAM, at most 8 GiB), else a file.
    public static func destination(forDatabase path: String, scratchFile: String,
                                   physicalMemory: UInt64 = ProcessInfo.processInfo.physicalMemory) -> Destination {
        var info = stat()
        let size = stat(path, &info) == 0 ? UInt64(info.st_size) : 0
        var walInfo = stat()
        let wal = stat(path + "-wal", &walInfo) == 0 ? UInt64(walInfo.st_size) : 0
        return size + wal <= min(physicalMemory / 4, 8 << 30) ? .memory : .file(scratchFile)
    }

    /// The finished copy: an open database whose bytes can be read as one buffer.
    public final class Copy {
        public let result: Result
        let database: SQLiteDatabase
        let scratchPath: String?
        private var mapped: Data?

        init(result: Result, database: SQLiteDatabase, scratchPath: String?) {
            self.result = result
            self.database = database
            self.scratchPath = scratchPath
        }

        /// The database image, valid while this object lives.
        public func withBytes<T>(_ body: (UnsafeRawBufferPointer) -> T) throws(OpsError) -> T {
            if let scratchPath {
                if mapped == nil {
                    do { mapped = try Data(contentsOf: URL(fileURLWithPath: scratchPath), options: .alwaysMapped) } catch {
                        throw OpsError(.io, code: "backup.read_failed", "\(scratchPath): cannot read the snapshot: \(YAMLReader.reason(error))")
                    }
                }
                return mapped!.withUnsafeBytes(body)
            }
            var size: sqlite3_int64 = 0
            // NOCOPY: the memdb VFS keeps the image contiguous; this is a pointer to it, not a copy.
            guard let pointer = sqlite3_serialize(database.handle, "main", &size, UInt32(SQLITE_SERIALIZE_NOCOPY)) else {
                if size == 0 { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
                throw OpsError(.software, code: "backup.serialize", "cannot read the in-memory snapshot")
            }
            return body(UnsafeRawBufferPointer(start: pointer, count: Int(size)))
        }
    }

    /// Copies the source into memory or into a scratch file (created; overwritten if present).
    public func copy(to destination: Destination) throws(OpsError) -> Copy {
        guard FileManager.default.fileExists(atPath: sourcePath) else {
            throw OpsError(.io, code: "backup.source_missing", "\(sourcePath): no such database")
        }
        try Self.requireSQLiteHeader(sourcePath)
        // Read-write open (never create): a WAL database needs its -shm to be writable to read.
        let source = try SQLiteDatabase(path: sourcePath, mode: .readWrite, busyTimeout: busyTimeout)
        let journalMode = try source.query("PRAGMA journal_mode").first?.string(0) ?? "unknown"
        // Read the source through mmap rather than one pread per page: the copy (and so the
        // lock window of a rollback-journal database) gets shorter.
        _ = try? source.query("PRAGMA mmap_size = 8589934592")
        let target: SQLiteDatabase
        let scratchPath: String?
        switch destination {
        case .memory:
            // A private memdb database; raise its 1 GiB default size limit to what we may hold.
            target = try SQLiteDatabase(path: "file:opsctl-snapshot-\(getpid())?vfs=memdb", mode: .readWriteCreate, uri: true)
            var limit: sqlite3_int64 = 8 << 30
            sqlite3_file_control(target.handle, "main", SQLITE_FCNTL_SIZE_LIMIT, &limit)
            scratchPath = nil
        case .file(let path):
            target = try SQLiteDatabase(path: path, mode: .readWriteCreate, busyTimeout: busyTimeout)
            scratchPath = path
        }
        // The copy is scratch: no journal, no fsync. Durability comes from the .gz.
        try target.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")

        let lockStart = ContinuousClock.now
        try source.execute("BEGIN")
        // Reading the schema starts the read transaction: from here on the snapshot is pinned.
        _ = try source.query("SELECT count(*) FROM sqlite_schema")
        guard let backup = sqlite3_backup_init(target.handle, "main", source.handle, "main") else {
            try? source.execute("ROLLBACK")
            throw target.failure(sqlite3_errcode(target.handle), "cannot start the online backup")
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
            let side = [SQLITE_FULL, SQLITE_IOERR].contains(failed & 0xff) ? target : source
            throw side.failure(failed, "online backup failed")
        }
        let pageSize = try target.pragmaInt("page_size")
        let result = Result(pageSize: pageSize, pageCount: pageCount, bytes: Int64(pageSize) * Int64(pageCount), journalMode: journalMode,
                            lockWindowMilliseconds: lockWindow.milliseconds)
        return Copy(result: result, database: target, scratchPath: scratchPath)
    }

    /// A clear error for "this is not a database" before SQLite says "file is not a database"
    /// halfway through.
    static func requireSQLiteHeader(_ path: String) throws(OpsError) {
        // Another part of this process may have the database open (a deploy's ledger is another
        // file, a db command's connection is not): see SideDescriptors.
        let read = try SideDescriptors.reading(path) { descriptor in
            var bytes = [UInt8](repeating: 0, count: 16)
            let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 16, 0) }
            return Array(bytes.prefix(max(0, count)))
        }
        guard let header = read else {
            throw OpsError(.io, code: "backup.source_unreadable", "\(path): cannot open for reading: \(String(cString: strerror(errno)))")
        }
        if header.isEmpty { return }   // an empty file is a valid, empty database
        guard header == Array("SQLite format 3\0".utf8) else {
            throw OpsError(.checkFailed, code: "backup.not_sqlite", "\(path): not an SQLite 3 database (bad header)")
        }
    }
}
