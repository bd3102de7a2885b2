// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What the gate did, written to its status file as it goes (the pause's report and the
/// benchmark read it).
public struct GateTally: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        /// Holding every request it is asked about.
        case holding
        /// Resumed: every request passes, held ones first.
        case released
        /// The bound passed before a resume: every held request was refused (the maintenance page).
        case expired
        /// Stopped (after a release, or told to stop while holding: held requests were refused).
        case stopped
    }

    public var state: State = .holding
    /// Requests held (asked about while holding).
    public var held = 0
    /// Held requests let through at the release.
    public var released = 0
    /// Held requests refused: the bound passed, or the gate was stopped while holding.
    public var refused = 0
    /// Requests asked about after the release (let through at once).
    public var passed = 0
    /// Held requests whose client gave up (nginx closed the subrequest).
    public var abandoned = 0
    /// opsctl's own confirmation probes.
    public var probes = 0
    /// The longest a request was held, ms.
    public var longestHoldMs = 0
    public var updatedAt = Date()
}

/// opsctl's gate for a pause. nginx's `auth_request` asks it about every request before passing
/// it to the app: while holding, the question is simply not answered yet (the request waits in
/// nginx, which holds no queue of its own); at the release the held questions get 204 in the
/// order they came, paced (twice the rate they arrived at, at least `minimumReleaseRate` a
/// second) so an app that just started is not hit by all of them at once, and requests that
/// arrive meanwhile queue behind them; past the bound, or stopped while holding, they get 403,
/// which nginx turns into the maintenance page. One thread, `poll(2)`, no request ever read
/// past its headers.
public final class PauseGate {
    public enum Command: Sendable { case release, stop }

    /// Held requests go on to the app at no less than this many a second.
    static let minimumReleaseRate = 500.0

    let listener: Int32
    let token: String
    /// While holding: when the bound passes (wall clock, shared with the command that spawned it).
    let holdUntil: Date
    /// After the release: the longest it keeps answering (nginx's old workers may still ask).
    let linger: Duration
    let statusPath: String?
    public private(set) var tally = GateTally()

    private struct Waiting {
        var fd: Int32
        var buffer: [UInt8] = []
        var arrived = ContinuousClock.now
        /// The request's headers are in: it is being held.
        var asked = false
    }

    private var waiting: [Int32: Waiting] = [:]
    /// Asked, not answered yet: in the order they came.
    private var queue: [Int32] = []
    private var lingerUntil: ContinuousClock.Instant?
    private let holdStarted = ContinuousClock.now
    /// After the release: held requests let through per second, and how many may go now.
    private var releaseRate = PauseGate.minimumReleaseRate
    private var allowance = 0.0
    private var lastRelease = ContinuousClock.now
    /// Out of descriptors: the listener is left alone until then (it would stay readable and spin the loop).
    private var acceptAgainAt: ContinuousClock.Instant?

    public init(listener: Int32, token: String, holdUntil: Date, linger: Duration, statusPath: String?) {
        self.listener = listener
        self.token = token
        self.holdUntil = holdUntil
        self.linger = linger
        self.statusPath = statusPath
    }

    /// Serves until the bound passes, or a `.stop` (or the linger after a `.release`) ends it.
    /// `commands` is polled between reads: at most every 50 ms.
    public func serve(commands: () -> Command?) {
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
        Self.raiseDescriptorLimit()
        writeStatus(force: true)
        while true {
            switch commands() {
            case .release?: release()
            case .stop?:
                finish(refusing: true)
                return
            case nil: break
            }
            if tally.state == .holding, Date() >= holdUntil {
                tally.state = .expired
                finish(refusing: true)
                return
            }
            if let lingerUntil, ContinuousClock.now >= lingerUntil {
                finish(refusing: false)
                return
            }
            letThroughDue()
            pollOnce()
            if statusBehind { writeStatus() }
        }
    }

    /// Every held request is a descriptor: a pause of 30 s at 100 requests a second holds 3,000,
    /// past the usual soft limit of 1,024. Up to the hard limit, which needs no privilege.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }

    private func pollOnce() {
        if let again = acceptAgainAt, ContinuousClock.now >= again { acceptAgainAt = nil }
        let listening = acceptAgainAt == nil ? [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)] : []
        var fds = listening + waiting.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&fds, nfds_t(fds.count), tally.state == .released && !queue.isEmpty ? 5 : 50)
        guard ready > 0 else { return }
        for entry in fds where entry.revents != 0 {
            if entry.fd == listener { acceptAll() } else { read(entry.fd) }
        }
    }

    private func acceptAll() {
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else {
                // Out of descriptors: nginx's connections wait in the listen backlog until a held one ends.
                if errno == EMFILE || errno == ENFILE { acceptAgainAt = ContinuousClock.now + .milliseconds(50) }
                return
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            waiting[fd] = Waiting(fd: fd)
        }
    }

    private func read(_ fd: Int32) {
        guard var entry = waiting[fd] else { return }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &chunk, chunk.count, 0)
        if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) {
            // nginx closed the subrequest: its client went away.
            if entry.asked { tally.abandoned += 1 }
            close(fd)
            waiting[fd] = nil
            queue.removeAll { $0 == fd }
            writeStatus()
            return
        }
        guard count > 0, !entry.asked else { return }
        entry.buffer += chunk[0..<count]
        guard let head = Self.head(entry.buffer) else {
            // A request head this large is not nginx's subrequest.
            if entry.buffer.count > 65_536 { answer(fd, Self.refused); waiting[fd] = nil } else { waiting[fd] = entry }
            return
        }
        if Self.header("x-opsctl-probe", in: head) == token {
            tally.probes += 1
            answer(fd, Self.allowed(echo: token))
            waiting[fd] = nil
            return
        }
        switch tally.state {
        case .holding:
            entry.asked = true
            tally.held += 1
            waiting[fd] = entry
            queue.append(fd)
        case .released where !queue.isEmpty:
            // Behind the held ones, in order.
            entry.asked = true
            tally.passed += 1
            waiting[fd] = entry
            queue.append(fd)
        case .released:
            tally.passed += 1
            answer(fd, Self.allowed(echo: nil))
            waiting[fd] = nil
        case .expired, .stopped:
            answer(fd, Self.refused)
            waiting[fd] = nil
        }
        writeStatus()
    }

    /// The held requests go on to the app, paced, oldest first; from now on every request does.
    func release() {
        guard tally.state == .holding else { return }
        tally.state = .released
        lingerUntil = ContinuousClock.now + linger
        let held = Double((ContinuousClock.now - holdStarted).milliseconds) / 1000
        releaseRate = max(Self.minimumReleaseRate, held > 0 ? 2 * Double(queue.count) / held : 0)
        (allowance, lastRelease) = (0, ContinuousClock.now)
        letThroughDue()
        writeStatus(force: true)
    }

    /// As many queued requests as the release rate allows since the last ones.
    private func letThroughDue() {
        guard tally.state == .released, !queue.isEmpty else { return }
        let now = ContinuousClock.now
        allowance = min(allowance + releaseRate * Double((now - lastRelease).milliseconds) / 1000, max(1, releaseRate / 20))
        lastRelease = now
        var due = Int(allowance)
        allowance -= Double(due)
        while due > 0, !queue.isEmpty {
            let fd = queue.removeFirst()
            due -= 1
            guard let entry = waiting.removeValue(forKey: fd) else { continue }
            if tally.released < tally.held { tally.released += 1 }
            tally.longestHoldMs = max(tally.longestHoldMs, (now - entry.arrived).milliseconds)
            answer(fd, Self.allowed(echo: nil))
        }
        if queue.isEmpty { writeStatus(force: true) }
    }

    private func finish(refusing: Bool) {
        answerQueued(refusing ? Self.refused : Self.allowed(echo: nil)) { if refusing { tally.refused += 1 } else if tally.released < tally.held { tally.released += 1 } }
        for fd in waiting.keys { close(fd) }
        waiting = [:]
        if tally.state != .expired { tally.state = .stopped }
        writeStatus(force: true)
    }

    private func answerQueued(_ response: [UInt8], count: () -> Void) {
        for fd in queue {
            guard let entry = waiting.removeValue(forKey: fd) else { continue }
            tally.longestHoldMs = max(tally.longestHoldMs, (ContinuousClock.now - entry.arrived).milliseconds)
            answer(fd, response)
            count()
        }
        queue = []
    }

    private func answer(_ fd: Int32, _ response: [UInt8]) {
        _ = response.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        close(fd)
    }

    private var statusWritten: ContinuousClock.Instant?
    private var statusBehind = false

    /// The tally on disk: at every change of state, and while requests come at most every 250 ms
    /// (each write is a temp file, an fsync and a rename); `serve` catches up what was skipped.
    private func writeStatus(force: Bool = false) {
        guard let statusPath else { return }
        if !force, let statusWritten, ContinuousClock.now - statusWritten < .milliseconds(250) {
            statusBehind = true
            return
        }
        statusWritten = ContinuousClock.now
        statusBehind = false
        tally.updatedAt = Date()
        guard let data = try? JSONEncoder.gate.encode(tally) else { return }
        try? AtomicFile.write(String(decoding: data, as: UTF8.self), to: statusPath)
    }

    // MARK: - HTTP, as little as nginx's subrequest needs

    static func allowed(echo: String?) -> [UInt8] {
        Array(("HTTP/1.1 204 No Content\r\n" + (echo.map { "X-Opsctl-Gate: \($0)\r\n" } ?? "") + "Connection: close\r\n\r\n").utf8)
    }

    static let refused = Array("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)

    /// The request head once it is whole (up to the blank line).
    static func head(_ bytes: [UInt8]) -> String? {
        let end: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where Array(bytes[index..<index + 4]) == end {
            return String(decoding: bytes[0..<index], as: UTF8.self)
        }
        return nil
    }

    static func header(_ name: String, in head: String) -> String? {
        for line in head.split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name else { continue }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}

extension JSONEncoder {
    static let gate: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()
}

extension JSONDecoder {
    static let gate: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()
}
