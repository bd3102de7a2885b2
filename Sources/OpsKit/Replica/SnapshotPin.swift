// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CSQLite
import Foundation

/// Two connections to the live database: one takes the write lock for a moment, the other
/// starts a read transaction under it. While the lock is held nothing can commit, so the read
/// transaction sees exactly the frames the WAL index then names, and the moment is an exact cut:
/// every transaction that committed before it is in, none after. Then the lock goes and the app
/// writes on; the read transaction alone keeps those frames (and the pages they cover in the
/// database file) from being overwritten until `release`.
///
/// Nothing is ever written: the write lock is taken with BEGIN IMMEDIATE and rolled back.
///
/// The database file and its WAL index are read through descriptors kept open for the pin's
/// whole life: closing any descriptor of a file drops every POSIX lock this process holds on it,
/// SQLite's own included (the read lock that pins, and the one that tells the app's last
/// connection it is not the last).
final class SnapshotPin {
    let databasePath: String
    /// Which file the connections and descriptors are on: a restore or a swap puts another one at the path.
    let identity: FileIdentity
    private var locker: SQLiteDatabase?
    private var reader: SQLiteDatabase?
    /// The database file and `-shm`, open until `deinit`, after the connections are closed.
    let databaseDescriptor: Int32
    private let shmDescriptor: Int32
    private var pinned = false

    /// How long to wait for the app's own write transaction to end before giving up a round.
    static let lockTimeout: Duration = .seconds(5)

    init(databasePath: String) throws(OpsError) {
        self.databasePath = databasePath
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw OpsError(.databaseMissing, code: "replica.no_database", "\(databasePath): no such database")
        }
        // Before any connection of ours exists: this check opens and closes the file.
        try OnlineSnapshot.requireSQLiteHeader(databasePath)
        let locker = try Self.open(databasePath)
        let reader = try Self.open(databasePath)
        let mode = try reader.query("PRAGMA journal_mode").first?.string(0)?.lowercased() ?? "unknown"
        guard mode == "wal" else {
            throw OpsError(.databaseMode, code: "replica.not_wal", "\(databasePath) is in journal mode \(mode): continuous replication reads the WAL",
                           details: ["switch it once with: sqlite3 \(databasePath) 'PRAGMA journal_mode=WAL' (the mode is stored in the file and the app keeps it)"])
        }
        // A read creates and maps the WAL index (-shm) if no connection had yet.
        _ = try reader.query("SELECT count(*) FROM sqlite_schema")
        databaseDescriptor = try ReplicaFiles.openForReading(databasePath)
        do { shmDescriptor = try ReplicaFiles.openForReading(databasePath + "-shm") } catch {
            close(databaseDescriptor)
            throw error
        }
        var info = stat()
        fstat(databaseDescriptor, &info)
        identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        self.locker = locker
        self.reader = reader
    }

    deinit {
        locker = nil
        reader = nil
        close(shmDescriptor)
        close(databaseDescriptor)
    }

    static func open(_ path: String) throws(OpsError) -> SQLiteDatabase {
        let database = try SQLiteDatabase(path: path, mode: .readWrite, busyTimeout: lockTimeout)
        // The last connection to close would otherwise checkpoint the app's WAL into its file.
        var ignored: Int32 = 0
        _ = opsctl_sqlite3_db_config_int(database.handle, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &ignored)
        return database
    }

    struct Cut {
        /// When the cut was made (the write lock was held then).
        var time: Date
        var header: WALIndexHeader
    }

    /// Pins the current state and returns it; `release()` must follow. A database busy past the
    /// lock timeout is `.databaseBusy`: the caller skips this round.
    func pin(now: () -> Date) throws(OpsError) -> Cut {
        precondition(!pinned, "pin() twice without release()")
        guard let locker, let reader else { preconditionFailure("pin() after deinit") }
        do {
            try locker.execute("BEGIN IMMEDIATE")
        } catch {
            throw OpsError(.databaseBusy, code: "replica.busy", "\(databasePath): the app held its write lock past \(Self.lockTimeout): \(error.message)")
        }
        defer { try? locker.execute("ROLLBACK") }
        try reader.execute("BEGIN")
        do {
            // The first read starts the transaction: from here on the reader's snapshot is fixed.
            _ = try reader.query("SELECT count(*) FROM sqlite_schema")
            pinned = true
            var header = try WALIndexHeader.read(descriptor: shmDescriptor, path: databasePath + "-shm")
            try header.withFileHeader(descriptor: databaseDescriptor, path: databasePath)
            return Cut(time: now(), header: header)
        } catch {
            release()
            throw error
        }
    }

    func release() {
        try? reader?.execute("COMMIT")
        pinned = false
    }

    /// The file's identity: a restore or a swap puts a new file at the same path.
    static func identity(of path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}

struct FileIdentity: Equatable, Codable {
    var device: UInt64
    var inode: UInt64
}
