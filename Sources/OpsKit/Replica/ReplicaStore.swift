// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The local replica directory: `<dir>/<generation>/<point files>`, the lock `replicate` holds,
/// and `replicate.json`, the heartbeat status and the metrics read.
public struct ReplicaStore: Sendable {
    public let directory: String
    /// Recipients every new file is encrypted to (`backup.encryption`).
    let encryption: BackupEncryption?

    static let temporaryPrefix = ".tmp-"
    static let lockName = "replicate.lock"
    static let statusName = "replicate.json"

    public init(directory: String, encryption: BackupEncryption?) {
        self.directory = directory
        self.encryption = encryption
    }

    var lockPath: String { "\(directory)/\(Self.lockName)" }
    var statusPath: String { "\(directory)/\(Self.statusName)" }

    func path(of point: ReplicaPoint) -> String { "\(directory)/\(point.key)" }

    public func catalog() throws(OpsError) -> ReplicaCatalog {
        guard FileManager.default.fileExists(atPath: directory) else { return ReplicaCatalog(files: []) }
        var files: [(key: String, bytes: Int64)] = []
        for generation in try contents(of: directory) where ReplicaGeneration.isValid(generation) {
            for file in try contents(of: "\(directory)/\(generation)") where !file.hasPrefix(Self.temporaryPrefix) {
                var info = stat()
                guard stat("\(directory)/\(generation)/\(file)", &info) == 0 else { continue }
                files.append(("\(generation)/\(file)", Int64(info.st_size)))
            }
        }
        return ReplicaCatalog(files: files)
    }

    func contents(of path: String) throws(OpsError) -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw OpsError(.io, code: "replica.unreadable", "\(path): cannot list: \(YAMLReader.reason(error))")
        }
    }

    func createDirectory(_ path: String) throws(OpsError) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw OpsError(.io, code: "replica.dir_unwritable", "\(path): cannot create the replica directory: \(YAMLReader.reason(error))")
        }
    }

    /// gzip (and age) of `image` into the point's file: temp name, fsync, rename, fsync the
    /// directory. A crash leaves a temp file (removed at the next start), never a short point.
    func write(_ point: ReplicaPoint, image: [UInt8], threads: Int = 1) throws(OpsError) -> ReplicaPoint {
        let result = image.withUnsafeBytes { bytes in Result { () throws(OpsError) in try write(point, image: bytes, threads: threads) } }
        return try result.get()
    }

    func write(_ point: ReplicaPoint, image: UnsafeRawBufferPointer, threads: Int = 1) throws(OpsError) -> ReplicaPoint {
        let generationDirectory = "\(directory)/\(point.generation)"
        try createDirectory(generationDirectory)
        let temporary = "\(generationDirectory)/\(Self.temporaryPrefix)\(getpid())-\(point.fileName)"
        var keep = false
        defer { if !keep { unlink(temporary) } }
        let sink = try BackupSink(file: try HashingFile(creating: temporary), encryption: encryption)
        var gzip = ParallelGzip(level: 6, threads: threads)
        gzip.yieldsToOtherWork = true
        _ = try BackupService.compress(image, into: sink, gzip: gzip, modificationTime: UInt32(point.timeMs / 1000), progress: nil).get()
        let final = path(of: point)
        guard rename(temporary, final) == 0 else { throw AtomicFile.failure("cannot move \(temporary) to \(final)") }
        keep = true
        AtomicFile.syncDirectory(generationDirectory)
        var written = point
        written.bytes = sink.file.bytesWritten
        return written
    }

    /// Where a snapshot too large for memory is assembled: here, or beside the database when
    /// the replica is encrypted (plaintext never lands beside the replica).
    func scratchDirectory(databasePath: String) -> String {
        encryption == nil ? directory : URL(fileURLWithPath: databasePath).deletingLastPathComponent().path
    }

    /// Temp files of runs that died (kill -9, a full disk): never a point, removed at start; and
    /// a dead run's snapshot scratch file, which may be as large as the database.
    func removeTemporaryFiles(databasePath: String) -> [String] {
        var removed: [String] = []
        for folder in Set([directory, scratchDirectory(databasePath: databasePath), URL(fileURLWithPath: databasePath).deletingLastPathComponent().path]) {
            for file in (try? contents(of: folder)) ?? [] {
                guard let pid = SnapshotImage.scratchOwner(file), pid != getpid(), !Ledger.isProcessAlive(pid) else { continue }
                if unlink("\(folder)/\(file)") == 0 { removed.append("\(folder)/\(file)") }
            }
        }
        let generations = (try? contents(of: directory)) ?? []
        for generation in generations where ReplicaGeneration.isValid(generation) {
            for file in (try? contents(of: "\(directory)/\(generation)")) ?? [] where file.hasPrefix(Self.temporaryPrefix) {
                if unlink("\(directory)/\(generation)/\(file)") == 0 { removed.append("\(generation)/\(file)") }
            }
        }
        return removed
    }

    /// Deletes whole generations: the snapshot last, so a half-deleted one is never usable
    /// (it has no snapshot) rather than usable with a hole.
    func delete(_ generation: ReplicaGeneration) {
        for point in generation.points.reversed() { unlink(path(of: point)) }
        rmdir("\(directory)/\(generation.name)")
    }
}

/// `replicate.json`: what the running `opsctl replicate` last did, rewritten every round. Status,
/// handoff, preflight and the metrics read it for the lag.
public struct ReplicaStatus: Codable, Sendable, Equatable {
    public var pid: Int32
    public var host: String
    public var database: String
    public var generation: String
    public var seq: UInt64
    /// The last round that finished (every commit before it is in the replica, or in a point
    /// that a round would have written had anything changed).
    public var lastSync: Date
    public var lastError: String?
    /// Off-site: the newest point copied, and how many wait.
    public var offsiteLatest: Date?
    public var offsitePending: Int?

    /// The pid of the `opsctl replicate` running on this host for the replica in `directory`, if one is.
    static func runningReplicator(directory: String) -> Int32? {
        let store = ReplicaStore(directory: directory, encryption: nil)
        guard FileLock.isHeld(path: store.lockPath), let status = read(store.statusPath), status.host == ProcessInfo.processInfo.hostName,
              Ledger.isProcessAlive(status.pid) else { return nil }
        return status.pid
    }

    static func read(_ path: String) -> ReplicaStatus? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try? decoder.decode(ReplicaStatus.self, from: data)
    }

    /// Rewritten every second: atomic (rename), not fsynced; a crash loses a heartbeat, nothing else.
    func write(to path: String) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        guard let data = try? encoder.encode(self) else { return }
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else { return }
        if rename(temporary, path) != 0 { unlink(temporary) }
    }
}
