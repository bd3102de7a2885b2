// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The pause gate as a process of its own (`opsctl maintenance-gate`), so a pause outlives the
/// command that started it. Its life is bounded on every path: it refuses what it holds and
/// exits when the bound passes, exits `linger` after a release, and exits on SIGTERM; the
/// ledger records its pid and address; `resume` and `off` end it; nothing else keeps it.
public enum GateProcess {
    /// After a release the gate keeps answering this long at most (nginx's old workers may still
    /// ask about requests they accepted before the reload that took the gate out).
    public static let linger = OpsDuration.minutes(2)
    /// The fd the gate finds its listener on.
    static let listenerFD: Int32 = 3

    public struct Spawned: Sendable {
        public var pid: pid_t
        /// `host:port` nginx reaches it at.
        public var address: String
    }

    public struct Files: Sendable {
        public var status: String
        public var log: String

        /// Beside the ledger: `maintenance-<env>.gate.json` (its tally) and `.gate.log`.
        public init(state: String, env: String) {
            let directory = URL(fileURLWithPath: state).deletingLastPathComponent().path
            status = "\(directory)/maintenance-\(env).gate.json"
            log = "\(directory)/maintenance-\(env).gate.log"
        }
    }

    /// Binds the gate's listener on `host` (where nginx reaches the app, so it reaches the gate
    /// the same way; loopback when that host is not this machine's), spawns the gate detached in
    /// its own session with the listener as fd 3, and returns its pid and address.
    public static func spawn(host: String, token: String, holdUntil: Date, files: Files) throws(OpsError) -> Spawned {
        let (listener, address) = try listen(preferring: host)
        defer { close(listener) }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let argv = [executable, "maintenance-gate", "--token", token, "--hold-until", String(format: "%.3f", holdUntil.timeIntervalSince1970),
                    "--linger", linger.description, "--status", files.status]
        let pid = try DetachedProcess.spawn(argv, passing: listener, as: listenerFD, log: files.log)
        return Spawned(pid: pid, address: address)
    }

    /// Whether `pid` is still the gate with `token` (a pid may have been reused since).
    public static func isRunning(_ pid: pid_t, token: String) -> Bool {
        guard pid > 0, let text = ProcFile.read("/proc/\(pid)/cmdline") else { return false }
        let words = text.split(separator: "\0").map(String.init)
        return words.contains("maintenance-gate") && words.contains(token)
    }

    /// SIGUSR1: every held request goes to the app.
    @discardableResult
    public static func release(_ pid: pid_t, token: String) -> Bool { signal(pid, token: token, SIGUSR1) }

    /// SIGTERM: it refuses what it still holds (the maintenance page) and exits; reaped when it is our child.
    @discardableResult
    public static func stop(_ pid: pid_t, token: String) -> Bool {
        let sent = signal(pid, token: token, SIGTERM)
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
        return sent
    }

    static func signal(_ pid: pid_t, token: String, _ number: Int32) -> Bool {
        guard isRunning(pid, token: token) else { return false }
        return kill(pid, number) == 0
    }

    public static func tally(_ files: Files) -> GateTally? {
        FileManager.default.contents(atPath: files.status).flatMap { try? JSONDecoder.gate.decode(GateTally.self, from: $0) }
    }

    /// The gate's side (`opsctl maintenance-gate`): SIGUSR1 releases, SIGTERM/SIGINT stop. The
    /// runtime's threads do not all block signals, so a handler on whichever thread gets one
    /// writes its number to a pipe the gate reads between polls.
    public static func serve(token: String, holdUntil: Date, linger: OpsDuration, statusPath: String) -> Int32 {
        guard fcntl(listenerFD, F_GETFD) >= 0 else {
            FileHandle.standardError.write(Data("maintenance-gate: no listener on fd \(listenerFD)\n".utf8))
            return 70
        }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return 71 }
        _ = fcntl(ends[0], F_SETFL, O_NONBLOCK)
        _ = fcntl(ends[1], F_SETFL, O_NONBLOCK)
        gateSignalPipe = ends[1]
        for number in [SIGUSR1, SIGTERM, SIGINT] {
            _ = Glibc.signal(number) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(gateSignalPipe, &byte, 1)
            }
        }
        _ = Glibc.signal(SIGHUP, SIG_IGN)
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for number in [SIGUSR1, SIGTERM, SIGINT] { sigaddset(&unblock, number) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        let gate = PauseGate(listener: listenerFD, token: token, holdUntil: holdUntil, linger: linger.swiftDuration, statusPath: statusPath)
        gate.serve {
            var byte: UInt8 = 0
            var command: PauseGate.Command?
            while read(ends[0], &byte, 1) == 1 {
                command = Int32(byte) == SIGUSR1 ? (command ?? .release) : .stop
            }
            return command
        }
        FileHandle.standardError.write(Data("maintenance-gate: \(gate.tally.state.rawValue); held \(gate.tally.held), released \(gate.tally.released), refused \(gate.tally.refused), longest hold \(gate.tally.longestHoldMs) ms\n".utf8))
        return 0
    }

    /// A TCP listener on `host` (numeric, or loopback when `host` cannot be bound here) at a free
    /// port below the ephemeral range.
    static func listen(preferring host: String) throws(OpsError) -> (Int32, String) {
        let hosts = Array(Set([host, "127.0.0.1"])).sorted { first, _ in first == host }
        for candidate in hosts {
            for _ in 0..<100 {
                let port = Int.random(in: 20_000...32_000)
                if let fd = bindListener(host: candidate, port: port) { return (fd, "\(candidate):\(port)") }
            }
        }
        throw OpsError(.unavailable, code: "maintenance.gate_listen", "cannot open a port for the pause gate on \(host) or 127.0.0.1: \(String(cString: strerror(errno)))")
    }

    static func bindListener(host: String, port: Int) -> Int32? {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(bare, String(port), &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), first.pointee.ai_protocol)
        guard fd >= 0 else { return nil }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0, Glibc.listen(fd, 4096) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }
}

/// The write end of the gate's signal pipe: set once before the handlers, read by them.
nonisolated(unsafe) var gateSignalPipe: Int32 = -1

/// A process that outlives opsctl: its own session (no terminal's hangup reaches it), stdin
/// from /dev/null, stdout and stderr appended to `log`, one inherited descriptor, nothing else
/// of ours (a lock's descriptor must not outlive the command that took it).
enum DetachedProcess {
    static let setsid: Int16 = 0x80   // POSIX_SPAWN_SETSID (glibc), not imported into Swift

    static func spawn(_ argv: [String], passing original: Int32, as target: Int32, log: String) throws(OpsError) -> pid_t {
        // dup2 onto itself would keep FD_CLOEXEC: hand over a copy under another number.
        let descriptor = original == target ? dup(original) : original
        defer { if descriptor != original { close(descriptor) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap(Int32.init) ?? []
        for fd in open where fd > 2 && fd != descriptor { posix_spawn_file_actions_addclose(&actions, fd) }
        posix_spawn_file_actions_adddup2(&actions, descriptor, target)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        if descriptor != target { posix_spawn_file_actions_addclose(&actions, descriptor) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The control signals arrive blocked, so none can kill it before it reads them.
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for number in [SIGUSR1, SIGTERM, SIGINT, SIGHUP] { sigaddset(&blocked, number) }
        posix_spawnattr_setsigmask(&attributes, &blocked)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) | setsid)

        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArgs { free(pointer) } }
        let status = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, environ)
        guard status == 0 else {
            throw OpsError(.unavailable, code: "maintenance.gate_spawn", "cannot start the pause gate (\(argv[0])): \(String(cString: strerror(status)))")
        }
        return pid
    }
}
