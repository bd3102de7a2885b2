// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The parts of SQLite's WAL-index (`<db>-shm`) and WAL file (`<db>-wal`) the replicator reads,
/// as documented in https://www.sqlite.org/walformat.html and fileformat2.html#walformat.
/// Neither is ever written here.
struct WALIndexHeader: Equatable {
    /// The last committed frame: a reader that starts now sees frames 1...mxFrame.
    var mxFrame: UInt32
    /// The database size in pages after the last commit.
    var pageCount: UInt32
    var pageSize: Int
    /// The WAL's salts, as raw bytes. They change every time the WAL starts over from frame 1
    /// (a checkpoint that reset it, TRUNCATE or RESTART, or a writer after a full checkpoint).
    var salt: UInt64
    /// Frames already copied into the database file (the checkpoint's progress).
    var backfilled: UInt32

    static let byteCount = 136

    /// Two copies of the 48-byte header, then the checkpoint info (nBackfill at 96). Native byte
    /// order. A torn read (the copies differ) is nil; the caller holds the write lock, so it is not.
    init?(_ bytes: [UInt8]) {
        guard bytes.count >= Self.byteCount, bytes[0..<48] == bytes[48..<96], bytes[12] == 1 else { return nil }
        func u32(_ offset: Int) -> UInt32 {
            bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
        }
        let encodedSize = Int(u32(12) >> 16)
        pageSize = (encodedSize & 0xfe00) + ((encodedSize & 1) << 16)
        mxFrame = u32(16)
        pageCount = u32(20)
        salt = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 32, as: UInt64.self) }
        backfilled = u32(96)
        // An empty WAL records no page size: the database file alone says it (`withFileHeader`).
        guard mxFrame == 0 || (pageSize >= 512 && pageSize.nonzeroBitCount == 1) else { return nil }
    }

    /// With an empty WAL the database file is the whole state: its header's page size, and its
    /// page count (the header's when SQLite marks it valid, else the file's size).
    mutating func withFileHeader(descriptor: Int32, path: String) throws(OpsError) {
        guard mxFrame == 0 else { return }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw AtomicFile.failure("cannot stat \(path)") }
        guard info.st_size >= 100 else {
            pageSize = 4096
            pageCount = 0
            return
        }
        var bytes = [UInt8](repeating: 0, count: 100)
        try ReplicaFiles.read(descriptor, into: &bytes, count: 100, at: 0, path: path)
        var reader = BigEndianReader(bytes: bytes, offset: 16)
        let encoded = Int(UInt16(truncatingIfNeeded: reader.u32() >> 16))
        pageSize = encoded == 1 ? 65536 : encoded
        guard pageSize >= 512, pageSize.nonzeroBitCount == 1 else {
            throw OpsError(.databaseCorrupt, code: "replica.bad_header", "\(path): the header's page size \(encoded) is not one SQLite writes")
        }
        reader.offset = 24
        let changeCounter = reader.u32()
        let headerPages = reader.u32()
        reader.offset = 92
        let validFor = reader.u32()
        let filePages = UInt32(Int64(info.st_size) / Int64(pageSize))
        pageCount = headerPages > 0 && changeCounter == validFor ? headerPages : filePages
    }

    static func read(descriptor: Int32, path: String) throws(OpsError) -> WALIndexHeader {
        var bytes = [UInt8](repeating: 0, count: byteCount)
        try ReplicaFiles.read(descriptor, into: &bytes, count: byteCount, at: 0, path: path)
        guard let header = WALIndexHeader(bytes) else {
            throw OpsError(.databaseMode, code: "replica.wal_index", "\(path): the WAL index is not initialised or not in the layout this opsctl reads",
                           details: ["replication needs a WAL database that a normal (not exclusive-locking) connection has open"])
        }
        return header
    }
}

/// One frame header of the WAL file: the page it holds and the salts it was written with.
struct WALFrameHeader {
    var page: UInt32
    var salt: UInt64

    static let byteCount = 24
    static let fileHeaderCount = 32

    /// Byte offset of frame `index` (1-based) in a WAL of `pageSize`.
    static func offset(of index: UInt32, pageSize: Int) -> Int64 {
        Int64(fileHeaderCount) + Int64(index - 1) * Int64(pageSize + byteCount)
    }

    init(_ bytes: UnsafeRawBufferPointer) {
        page = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        salt = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
    }
}

/// The frames of one WAL generation, read without any lock: every frame checked against the
/// pinned salts, so one a restarted WAL overwrote is noticed, never used.
struct WALFrames {
    let walPath: String
    let header: WALIndexHeader

    /// The last frame of each page among frames `range` (1-based, inclusive). nil when a frame
    /// in the range carries other salts: the WAL started over since the pin.
    func latestFrames(_ range: ClosedRange<UInt32>) throws(OpsError) -> [UInt32: UInt32]? {
        let frameSize = header.pageSize + WALFrameHeader.byteCount
        var latest: [UInt32: UInt32] = [:]
        let descriptor = open(walPath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }   // deleted meanwhile: those frames are gone too
        defer { close(descriptor) }
        // A window of frames at a time: one pread per MiB or so rather than one per frame.
        let batch = UInt32(max(1, (1 << 20) / frameSize))
        var buffer = [UInt8](repeating: 0, count: Int(batch) * frameSize)
        var first = range.lowerBound
        while first <= range.upperBound {
            let count = min(batch, range.upperBound - first + 1)
            let length = Int(count) * frameSize
            // Shorter than the frames: a reader pinned on slot 0 (everything was checkpointed) does
            // not stop the app's TRUNCATE, so the WAL may be cut under us. Those frames are gone.
            guard try ReplicaFiles.readIfPresent(descriptor, into: &buffer, count: length,
                                                 at: WALFrameHeader.offset(of: first, pageSize: header.pageSize), path: walPath) else { return nil }
            let intact = buffer.withUnsafeBytes { bytes -> Bool in
                for index in 0..<Int(count) {
                    let frame = WALFrameHeader(UnsafeRawBufferPointer(rebasing: bytes[(index * frameSize)...]))
                    guard frame.salt == header.salt else { return false }
                    latest[frame.page] = first + UInt32(index)
                }
                return true
            }
            guard intact else { return nil }
            first += count
        }
        return latest
    }

    /// The page image in frame `index`, then a second look at its header: a frame rewritten by a
    /// restarted WAL changes its header before its page, so matching salts after the read mean
    /// the page read is the pinned one.
    func page(inFrame index: UInt32, descriptor: Int32) throws(OpsError) -> [UInt8]? {
        let offset = WALFrameHeader.offset(of: index, pageSize: header.pageSize)
        var page = [UInt8](repeating: 0, count: header.pageSize)
        try ReplicaFiles.read(descriptor, into: &page, count: header.pageSize, at: offset + Int64(WALFrameHeader.byteCount), path: walPath)
        var frameHeader = [UInt8](repeating: 0, count: WALFrameHeader.byteCount)
        try ReplicaFiles.read(descriptor, into: &frameHeader, count: WALFrameHeader.byteCount, at: offset, path: walPath)
        let frame = frameHeader.withUnsafeBytes { WALFrameHeader($0) }
        return frame.salt == header.salt ? page : nil
    }
}

/// Small positioned reads with errors that name the file. Only the WAL may be opened and
/// closed freely: SQLite holds no lock on it (see `SnapshotPin` for the database and `-shm`).
enum ReplicaFiles {
    /// As `read`, but a file that ends before the bytes wanted is false, not an error.
    static func readIfPresent(_ descriptor: Int32, into buffer: inout [UInt8], count: Int, at offset: Int64, path: String) throws(OpsError) -> Bool {
        var done = 0
        while done < count {
            let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + Int64(done))) }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw OpsError(.io, code: "replica.short_read", "\(path): \(String(cString: strerror(errno)))") }
            if got == 0 { return false }
            done += got
        }
        return true
    }

    static func openForReading(_ path: String) throws(OpsError) -> Int32 {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            throw OpsError(code == ENOENT ? .databaseMissing : .io, code: "replica.unreadable", "\(path): cannot open: \(String(cString: strerror(code)))")
        }
        return descriptor
    }

    /// Exactly `count` bytes at `offset`; a shorter file is an error.
    static func read(_ descriptor: Int32, into buffer: inout [UInt8], count: Int, at offset: Int64, path: String) throws(OpsError) {
        var done = 0
        while done < count {
            let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + Int64(done))) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else {
                throw OpsError(.io, code: "replica.short_read", "\(path): " + (got == 0 ? "ends before byte \(offset + Int64(count))" : String(cString: strerror(errno))))
            }
            done += got
        }
    }
}
