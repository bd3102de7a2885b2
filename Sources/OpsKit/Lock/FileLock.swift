// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// An exclusive advisory lock (flock) on a file, with the holder written inside it so a
/// second run can say who is in the way. The kernel drops the lock when the holder dies,
/// so a crashed run never blocks the next one; its leftover holder record is reported.
public final class FileLock {
    public struct Holder: Codable, Sendable, Equatable {
        public var pid: Int32
        public var host: String
        public var command: String
        public var startedAt: Date

        public var description: String {
            "pid \(pid) on \(host) since \(TextFormat.timestamp(startedAt)) (\(command))"
        }
    }

    public let path: String
    public let holder: Holder
    /// A holder record left by a run that died without releasing (its pid is gone).
    public let staleHolder: Holder?
    private var descriptor: Int32

    private init(path: String, descriptor: Int32, holder: Holder, staleHolder: Holder?) {
        self.path = path
        self.descriptor = descriptor
        self.holder = holder
        self.staleHolder = staleHolder
    }

    deinit { release() }

    /// Takes the lock, or waits up to `wait` for it; exit 5 (`lock.held`) naming the holder otherwise.
    /// The wait blocks this thread: for short waits in synchronous code (a metrics update).
    /// A wait a user asks for (`--wait-lock`) goes through the async `acquire`.
    public static func acquire(path: String, what: String, command: String, wait: OpsDuration? = nil,
                               now: () -> Date = { Date() }) throws(OpsError) -> FileLock {
        let descriptor = try openLockFile(path)
        let deadline = ContinuousClock.now + .milliseconds(wait?.milliseconds ?? 0)
        while try !tryLock(descriptor, path: path) {
            if ContinuousClock.now >= deadline { throw held(descriptor, path: path, what: what) }
            usleep(100_000)
        }
        return claim(descriptor, path: path, command: command, now: now())
    }

    /// Takes the lock, or waits up to `wait` for it without holding a thread. The wait ends
    /// early, with the lock untouched, when the task is cancelled or `interruption` sees
    /// SIGINT/SIGTERM: an operator stopping a queued deploy must not wait minutes for it.
    public static func acquire(path: String, what: String, command: String, wait: OpsDuration?, interruption: Interruption?,
                               now: () -> Date = { Date() }) async throws(OpsError) -> FileLock {
        let descriptor = try openLockFile(path)
        let deadline = ContinuousClock.now + .milliseconds(wait?.milliseconds ?? 0)
        while try !tryLock(descriptor, path: path) {
            if ContinuousClock.now >= deadline { throw held(descriptor, path: path, what: what) }
            let stopped = (try? await Task.sleep(for: .milliseconds(100))) == nil ? "the run was cancelled" : interruption?.reason
            if let stopped {
                let holder = readHolder(descriptor)
                close(descriptor)
                throw OpsError(.lockHeld, code: "lock.wait_stopped",
                               "stopped waiting for the lock (\(stopped)): \(what) is still running: " + (holder?.description ?? "holder unknown"),
                               details: ["nothing was changed; lock file \(path)"])
            }
        }
        return claim(descriptor, path: path, command: command, now: now())
    }

    /// Whether a process holds the lock now (a shared probe that never blocks and never creates
    /// the file; a missing file is not held).
    public static func isHeld(path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }

    private static func openLockFile(_ path: String) throws(OpsError) -> Int32 {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw OpsError(.io, code: "lock.open", "\(path): cannot open lock file: \(String(cString: strerror(errno)))")
        }
        return descriptor
    }

    /// One non-blocking attempt; false while another process holds the lock.
    private static func tryLock(_ descriptor: Int32, path: String) throws(OpsError) -> Bool {
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return true }
        guard errno == EWOULDBLOCK || errno == EINTR else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw OpsError(.io, code: "lock.failed", "\(path): cannot lock: \(reason)")
        }
        return false
    }

    private static func held(_ descriptor: Int32, path: String, what: String) -> OpsError {
        let current = readHolder(descriptor)
        close(descriptor)
        return OpsError(.lockHeld, code: "lock.held", "\(what) is already running: " + (current?.description ?? "holder unknown"),
                        details: ["wait for it, or pass --wait-lock 5m to queue behind it; lock file \(path)"])
    }

    /// Records this process as the holder, noting a previous holder that died without releasing.
    private static func claim(_ descriptor: Int32, path: String, command: String, now: Date) -> FileLock {
        let previous = readHolder(descriptor)
        let stale = previous.flatMap { holder in
            holder.host == ProcessInfo.processInfo.hostName && !Ledger.isProcessAlive(holder.pid) ? holder : nil
        }
        let holder = Holder(pid: getpid(), host: ProcessInfo.processInfo.hostName, command: command, startedAt: now)
        writeHolder(holder, to: descriptor)
        return FileLock(path: path, descriptor: descriptor, holder: holder, staleHolder: stale)
    }

    public func release() {
        guard descriptor >= 0 else { return }
        ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    private static let coder: (JSONEncoder, JSONDecoder) = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return (encoder, decoder)
    }()

    static func readHolder(_ descriptor: Int32) -> Holder? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return try? coder.1.decode(Holder.self, from: Data(buffer[0..<count]))
    }

    static func writeHolder(_ holder: Holder, to descriptor: Int32) {
        guard let data = try? coder.0.encode(holder) else { return }
        ftruncate(descriptor, 0)
        _ = data.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }
}
