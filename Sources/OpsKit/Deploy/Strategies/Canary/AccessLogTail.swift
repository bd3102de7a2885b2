// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Follows an access log from where it ends now: each `read()` returns the whole lines appended
/// since the last one. It survives rotation:
/// - **rename** (logrotate's default, then `nginx -s reopen`): the renamed file is read to its
///   end, and kept open a while longer because nginx writes there until it reopens; the new
///   file at the path is read from its start.
/// - **truncation** (logrotate's `copytruncate`): the size falls below the offset, reading
///   starts again at 0 (lines written between the copy and the truncation are lost to any reader).
/// A line still being written (no newline yet) waits for the next read.
public final class AccessLogTail {
    public let path: String
    private var current: Follower
    /// The file before a rename, and when it last grew.
    private var previous: (follower: Follower, lastGrowth: ContinuousClock.Instant)?
    /// How long a renamed file is still read after it stopped growing.
    static let renamedGrace: Duration = .seconds(3)
    /// Renames and truncations seen, for the report.
    public private(set) var rotations = 0

    /// Opens `path` at its current end. Throws when it cannot be read.
    public init(path: String) throws(OpsError) {
        self.path = path
        current = try Follower(path: path, fromEnd: true)
    }

    deinit {
        current.close()
        previous?.follower.close()
    }

    /// The whole lines appended since the last call, in order.
    public func read(now: ContinuousClock.Instant = .now) -> [Substring] {
        var lines: [Substring] = []
        if var old = previous {
            let more = old.follower.readLines()
            lines += more
            if !more.isEmpty { old.lastGrowth = now }
            if now - old.lastGrowth > Self.renamedGrace {
                old.follower.close()
                previous = nil
            } else {
                previous = old
            }
        }
        lines += current.readLines()
        switch current.changeAtPath() {
        case .same:
            break
        case .truncated:
            rotations += 1
            current.restart()
            lines += current.readLines()
        case .replaced:
            guard let fresh = try? Follower(path: path, fromEnd: false) else { break }
            rotations += 1
            previous?.follower.close()
            previous = (current, now)
            current = fresh
            lines += current.readLines()
        }
        return lines
    }

    /// One open file and how far it was read.
    struct Follower {
        let path: String
        let descriptor: Int32
        let inode: UInt64
        let device: UInt64
        var offset: Int64
        var pending = Data()

        init(path: String, fromEnd: Bool) throws(OpsError) {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw OpsError(.config, code: "proxy.access_log", "proxy.access_log \(path) cannot be read: \(String(cString: strerror(errno)))")
            }
            var info = stat()
            guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                Glibc.close(descriptor)
                throw OpsError(.config, code: "proxy.access_log", "proxy.access_log \(path) is not a regular file")
            }
            self.path = path
            self.descriptor = descriptor
            inode = UInt64(info.st_ino)
            device = UInt64(info.st_dev)
            offset = fromEnd ? Int64(info.st_size) : 0
        }

        func close() { Glibc.close(descriptor) }

        mutating func restart() {
            offset = 0
            pending.removeAll()
        }

        enum Change { case same, truncated, replaced }

        /// Whether the path still names this file, and whether it shrank below what was read.
        func changeAtPath() -> Change {
            var info = stat()
            // Gone (renamed, not yet recreated): keep reading what is open.
            guard stat(path, &info) == 0 else { return .same }
            if UInt64(info.st_ino) != inode || UInt64(info.st_dev) != device { return .replaced }
            return Int64(info.st_size) < offset ? .truncated : .same
        }

        mutating func readLines() -> [Substring] {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = pread(descriptor, &chunk, chunk.count, off_t(offset))
                guard count > 0 else { break }
                pending.append(contentsOf: chunk[0..<count])
                offset += Int64(count)
            }
            guard let lastNewline = pending.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
            let complete = String(decoding: pending[pending.startIndex..<lastNewline], as: UTF8.self)
            pending = Data(pending[(lastNewline + 1)...])
            return complete.split(separator: "\n", omittingEmptySubsequences: true)
        }
    }
}
