// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What the WAL-index (`DB-shm`) says, read without a transaction of our own, so looking never
/// pins the WAL: how many frames the WAL holds, how many a checkpoint has copied back, and which
/// processes read from old snapshots. The layout and the lock bytes are SQLite's documented
/// file format (sqlite.org/walformat.html): two copies of a 48-byte header, then the checkpoint
/// info (nBackfill, five read marks), then one lock byte per lock from offset 120.
public struct WALIndex: Sendable, Codable, Equatable {
    /// A process holding one of the five read locks.
    public struct Reader: Sendable, Codable, Equatable {
        /// 0 when the holder lives in a PID namespace this one cannot see (another container).
        public var pid: Int32
        /// Its `/proc/PID/comm`, when readable.
        public var command: String?
        public var slot: Int
        /// The newest WAL frame its snapshot includes (0: it reads the database file alone).
        public var snapshotFrame: Int
        /// Its snapshot is older than the WAL's newest frame: no checkpoint can copy frames
        /// past it, and the WAL cannot start over while it reads.
        public var pinsWAL: Bool

        public var description: String {
            (pid == 0 ? "a process in another PID namespace" : "pid \(pid)") + (command.map { " (\($0))" } ?? "")
        }
    }

    /// Frames in the WAL (mxFrame).
    public var frames: Int
    /// Frames already copied into the database file (nBackfill).
    public var backfilled: Int
    public var pageSize: Int
    public var readers: [Reader]

    /// Frames a checkpoint has not copied back yet: what "pages since the last checkpoint" means.
    public var pendingFrames: Int { max(0, frames - backfilled) }
    public var pinningReaders: [Reader] { readers.filter(\.pinsWAL) }

    static let headerSize = 136
    static let readLockOffset = 123   // 120 + WAL_READ_LOCK(0)
    static let deadManSwitchOffset = 128

    /// nil when there is no usable `-shm` (no connection has opened the WAL, or it is unreadable).
    public static func read(database path: String) -> WALIndex? {
        // This process may have a connection open on the database: see SideDescriptors.
        (try? SideDescriptors.reading(path + "-shm") { descriptor in read(descriptor) }) ?? nil
    }

    static func read(_ descriptor: Int32) -> WALIndex? {
        guard let header = consistentHeader(descriptor) else { return nil }
        func u32(_ offset: Int) -> Int { Int(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }) }
        guard header[12] == 1 else { return nil }   // isInit
        let frames = u32(16)
        let rawPageSize = Int(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 14, as: UInt16.self) })
        let backfilled = u32(96)
        var readers: [Reader] = []
        for slot in 0..<5 {
            guard let pid = lockHolder(descriptor, offset: readLockOffset + slot) else { continue }
            let mark = u32(100 + 4 * slot)
            let snapshot = mark == 0xFFFF_FFFF ? frames : mark
            let pins = slot == 0 ? frames > backfilled : snapshot < frames
            readers.append(Reader(pid: pid, command: command(of: pid), slot: slot, snapshotFrame: slot == 0 ? 0 : snapshot, pinsWAL: pins))
        }
        return WALIndex(frames: frames, backfilled: backfilled, pageSize: rawPageSize == 1 ? 65_536 : rawPageSize, readers: readers)
    }

    /// The processes other than this one that have the database open: each connection holds a
    /// shared lock on the `-shm` dead-man-switch byte while it is open (as SQLite itself asks
    /// with F_GETLK before it decides it is alone). Only one holder is named, the one the kernel reports.
    public static func otherProcessHoldingOpen(database path: String) -> Reader? {
        let holder = try? SideDescriptors.reading(path + "-shm") { descriptor in lockHolder(descriptor, offset: deadManSwitchOffset) }
        return (holder ?? nil).map { Reader(pid: $0, command: command(of: $0), slot: -1, snapshotFrame: 0, pinsWAL: false) }
    }

    /// Every other process holding a POSIX lock on the `-shm` dead-man-switch byte, from
    /// /proc/locks (F_GETLK names only one); nil when /proc/locks cannot be read.
    static func processesHoldingOpen(database path: String) -> [Int32]? {
        var info = stat()
        guard stat(path + "-shm", &info) == 0, let text = ProcFile.read("/proc/locks") else { return nil }
        let dev = UInt64(info.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000)
        let minor = (dev & 0xff) | ((dev >> 12) & 0xffff_ff00)
        let device = String(format: "%02x:%02x:", major, minor) + String(info.st_ino)
        var pids: [Int32] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 8, fields[1] == "POSIX", fields[5] == device, let pid = Int32(fields[4]), pid != getpid(),
                  let start = Int(fields[6]), start <= deadManSwitchOffset, fields[7] == "EOF" || (Int(fields[7]) ?? -1) >= deadManSwitchOffset else { continue }
            if !pids.contains(pid) { pids.append(pid) }
        }
        return pids
    }

    static func reader(pid: Int32) -> Reader { Reader(pid: pid, command: command(of: pid), slot: -1, snapshotFrame: 0, pinsWAL: false) }

    /// Both header copies agree (a writer may be halfway through updating them): retried a few times.
    static func consistentHeader(_ descriptor: Int32) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: headerSize)
        for _ in 0..<10 {
            let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, headerSize, 0) }
            guard count == headerSize else { return nil }
            if bytes[0..<48] == bytes[48..<96] { return bytes }
            usleep(1000)
        }
        return bytes
    }

    /// The pid of another process holding a lock on one byte of the `-shm` file, or nil.
    static func lockHolder(_ descriptor: Int32, offset: Int) -> Int32? {
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        probe.l_start = off_t(offset)
        probe.l_len = 1
        guard fcntl(descriptor, F_GETLK, &probe) == 0, probe.l_type != Int16(F_UNLCK) else { return nil }
        return probe.l_pid
    }

    static func command(of pid: Int32) -> String? {
        guard pid > 0, let text = ProcFile.read("/proc/\(pid)/comm") else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }
}
