// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// What is in flight, as the test says: busy for `busyPolls` reads, then idle (or busy for good).
final class FakeActivity: SlotActivityProbe, @unchecked Sendable {
    private let lock = NSLock()
    private var polls = 0
    let busyPolls: Int
    private(set) var askedAbout: [[String]] = []

    init(busyPolls: Int) { self.busyPolls = busyPolls }

    func activity(at addresses: [String], oldWorkers: [Int32: Int32]) -> SlotActivity {
        lock.withLock {
            polls += 1
            askedAbout.append(addresses)
            return polls > busyPolls ? SlotActivity(connections: 0, oldWorkers: 0) : SlotActivity(connections: 1, oldWorkers: 1)
        }
    }

    func runningWorkers() -> [Int32: Int32] { [:] }
    var count: Int { lock.withLock { polls } }
}

struct SlotActivityTests {
    /// /proc/net/tcp as the kernel writes it: a listener, nginx's connection to the slot and the
    /// slot's accepted end (both on loopback), one to another port, one in TIME_WAIT.
    static let table = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 0100007F:0BB9 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
           1: 0100007F:9C40 0100007F:0BB9 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
           2: 0100007F:0BB9 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1
           3: 0100007F:9C41 0100007F:0BBA 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 20 4 30 10 -1
           4: 0100007F:9C42 0100007F:0BB9 06 00000000:00000000 00:00000000 00000000     0        0 0 3 0 0 0 0 0 0
        """

    @Test func countsOpenConnectionsToTheSlotOnce() {
        let slot = TCPEndpoint.resolve("127.0.0.1:3001")
        #expect(slot == [TCPEndpoint(address: [127, 0, 0, 1], port: 3001)])
        #expect(TCPTable.openConnections(Self.table, to: slot) == 1, "both ends of one loopback connection, the listener and TIME_WAIT not counted")
        #expect(TCPTable.openConnections(Self.table, to: TCPEndpoint.resolve("127.0.0.1:3003")) == 0)
        // tcp6: IPv4-mapped addresses are IPv4's.
        let mapped = "   0: 0000000000000000FFFF00000100007F:9C40 0000000000000000FFFF00000100007F:0BB9 01 0 0 0 0 0 5"
        #expect(TCPTable.openConnections(mapped, to: slot) == 1)
        #expect(TCPTable.endpoint("00000000000000000000000001000000:0BB9") == TCPEndpoint(address: Array(repeating: 0, count: 15) + [1], port: 3001), "::1")
    }

    /// A listener on a loopback port the kernel picks, and its address.
    func listener() -> (Int32, sockaddr_in) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(listener, 512)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        return (listener, address)
    }

    func connectTo(_ address: sockaddr_in) -> Int32 {
        var address = address
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        return client
    }

    @Test func aRealConnectionToALocalListenerIsSeenUntilItCloses() throws {
        // A busy host first: 200 other connections, far more of the table than one read of it.
        let (crowd, crowdAddress) = listener()
        let others = (0..<200).map { _ in connectTo(crowdAddress) }
        defer { others.forEach { close($0) }; close(crowd) }
        let (listener, address) = listener()
        defer { close(listener) }
        let slot = "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
        #expect(KernelSlotActivity().activity(at: [slot], oldWorkers: [:]).connections == 0)
        let client = connectTo(address)
        #expect(KernelSlotActivity().activity(at: [slot], oldWorkers: [:]).connections == 1, "seen past the table's first page")
        close(client)
        let accepted = accept(listener, nil, nil)
        close(accepted)
        #expect(KernelSlotActivity().activity(at: [slot], oldWorkers: [:]) == SlotActivity(connections: 0, oldWorkers: 0))
    }

    @Test func theReloadedMastersOldWorkersCountOthersNever() {
        // Master 10 had workers 11, 12; master 20 (another nginx) has 21.
        let before: [Int32: Int32] = [11: 10, 12: 10, 21: 20]
        #expect(Set(NginxWorkers.retired(before, now: before)) == [11, 12, 21], "no new worker yet: the reload has not taken, all still count")
        #expect(Set(NginxWorkers.retired(before, now: [11: 10, 13: 10, 14: 10, 21: 20])) == [11], "10 reloaded: 12 is gone, 11 still finishes, 21 is not ours")
        #expect(NginxWorkers.retired(before, now: [13: 10, 14: 10, 21: 20]).isEmpty)
        #expect(NginxWorkers.retired([:], now: [13: 10]).isEmpty)
    }
}

struct DrainConfigTests {
    func proxy(_ extra: String) throws(OpsError) -> ProxySettings? {
        let text = """
            app: dashboard
            image: dashboard
            environments:
              production:
                strategy: blue-green
                run: {network: host}
                proxy: {upstream_file: /tmp/up.conf, upstream_name: dashboard, url: "http://127.0.0.1:80",
                        slots: {blue: "127.0.0.1:3001", green: "127.0.0.1:3002"}, port_env: PORT\(extra)}
                health: {url: "http://127.0.0.1:3000/health"}
            """
        return try ConfigLoader.parse(text, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: "/tmp"), environment: [:]).environment(named: "production").proxy
    }

    @Test func untilIdleOrAFixedWait() throws {
        let defaults = try #require(try proxy(""))
        #expect(defaults.drain == .fixed(.seconds(2)) && defaults.drainTimeout == .seconds(30))
        #expect(try proxy(", drain: until-idle, drain_timeout: 45s")?.drain == .untilIdle)
        #expect(try proxy(", drain: until-idle, drain_timeout: 45s")?.drainTimeout == .seconds(45))
        #expect(try proxy(", drain: 500ms")?.drain == .fixed(OpsDuration(milliseconds: 500)))
        let bad = opsError { () throws(OpsError) in _ = try proxy(", drain: until-quiet") }
        #expect(bad?.message.contains("proxy.drain: \"until-quiet\" is neither until-idle nor a duration") == true, "\(bad?.message ?? "")")
        #expect(opsError { () throws(OpsError) in _ = try proxy(", drain: 2") }?.details.first == "add a unit, e.g. 2s")
        #expect(opsError { () throws(OpsError) in _ = try proxy(", drain_timeout: 0s") }?.message.contains("proxy.drain_timeout: must be greater than 0") == true)
    }
}

struct ReleaseDrainTests {
    func settings(_ drain: ProxyDrain, timeout: OpsDuration = .seconds(30)) -> ProxySettings {
        var settings = ProxySettings(upstreamFile: "/tmp/unused", upstreamName: "app", url: "http://127.0.0.1:9",
                                     slots: [ProxySlot(name: "blue", host: "127.0.0.1", port: 3001), ProxySlot(name: "green", host: "127.0.0.1", port: 3002)])
        settings.drain = drain
        settings.drainTimeout = timeout
        return settings
    }

    @Test func untilIdleWaitsForTheLastRequestThenStopsWaiting() async {
        let clock = VirtualClock(), activity = FakeActivity(busyPolls: 25)
        let drain = ReleaseDrain(settings: settings(.untilIdle), clock: clock, probe: activity)
        let outcome = await drain.wait(for: ["127.0.0.1:3001"], after: nil)
        #expect(outcome.ending == .idle && outcome.waitedMs == 2500, "\(outcome)")
        #expect(activity.count == 26 && activity.askedAbout.allSatisfy { $0 == ["127.0.0.1:3001"] })
        #expect(outcome.detail == "idle after 2.5 s of drain")
    }

    @Test func untilIdleGivesUpAtTheBoundAndSaysWhatWasLeft() async {
        let clock = VirtualClock()
        let outcome = await ReleaseDrain(settings: settings(.untilIdle, timeout: .seconds(3)), clock: clock, probe: FakeActivity(busyPolls: .max))
            .wait(for: ["127.0.0.1:3001"], after: nil)
        #expect(outcome.ending == .timedOut && outcome.waitedMs == 3000)
        #expect(outcome.detail.contains("drain_timeout reached") && outcome.detail.contains("1 connection(s) open, 1 old nginx worker(s)"), "\(outcome.detail)")
    }

    @Test func aFixedDrainWaitsItsTimeWithoutLooking() async {
        let clock = VirtualClock(), activity = FakeActivity(busyPolls: .max)
        let outcome = await ReleaseDrain(settings: settings(.fixed(.seconds(2))), clock: clock, probe: activity).wait(for: ["127.0.0.1:3001"], after: nil)
        #expect(outcome.ending == .waited && outcome.waitedMs == 2000 && activity.count == 0)
    }

    @Test func whereAReleaseListens() {
        let drain = ReleaseDrain(settings: settings(.untilIdle), clock: VirtualClock(), probe: FakeActivity(busyPolls: 0))
        #expect(drain.addresses(of: ReleaseRef(version: "1.0.0", slot: "green"), before: nil) == ["127.0.0.1:3002"])
        let change = ProxyChange(previousText: "upstream app { server 127.0.0.1:3000; }\n", text: "")
        #expect(drain.addresses(of: ReleaseRef(version: "0.9.0"), before: change) == ["127.0.0.1:3000"], "from before blue/green: where the file routed")
    }
}

struct PauseGateTests {
    /// A gate on a loopback port, served on a thread of its own; commands through `next`.
    final class Running: @unchecked Sendable {
        let gate: PauseGate
        let port: Int
        let status: String
        private let lock = NSLock()
        private var queued: [PauseGate.Command] = []
        let done = DispatchSemaphore(value: 0)

        init(holdFor: TimeInterval, directory: TemporaryDirectory) throws {
            let (fd, address) = try GateProcess.listen(preferring: "127.0.0.1")
            port = Int(address.split(separator: ":").last!)!
            status = directory.file("gate.json")
            gate = PauseGate(listener: fd, token: "tok", holdUntil: Date().addingTimeInterval(holdFor), linger: .seconds(60), statusPath: status)
            Thread { [self] in
                gate.serve { self.lock.withLock { self.queued.isEmpty ? nil : self.queued.removeFirst() } }
                close(fd)
                done.signal()
            }.start()
        }

        func send(_ command: PauseGate.Command) { lock.withLock { queued.append(command) } }

        /// Asks as nginx's auth_request does; returns the status line, or "closed".
        func ask(headers: [String] = []) async -> String {
            let port = self.port
            return await withCheckedContinuation { continuation in
                Thread {
                    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                    var address = sockaddr_in()
                    address.sin_family = sa_family_t(AF_INET)
                    address.sin_addr.s_addr = inet_addr("127.0.0.1")
                    address.sin_port = in_port_t(UInt16(port).bigEndian)
                    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                    let request = Array((["GET /hold HTTP/1.0", "Host: gate"] + headers).joined(separator: "\r\n").utf8) + Array("\r\n\r\n".utf8)
                    _ = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
                    var buffer = [UInt8](repeating: 0, count: 1024)
                    let count = recv(fd, &buffer, buffer.count, 0)
                    close(fd)
                    continuation.resume(returning: count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : "closed")
                }.start()
            }
        }
    }

    func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw OpsError(.software, code: "test.hang", "\(what) did not happen within 60 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func heldUntilReleasedThenEveryRequestPasses() async throws {
        let directory = TemporaryDirectory("opsctl-gate")
        let gate = try Running(holdFor: 600, directory: directory)
        async let first = gate.ask()
        async let forged = gate.ask(headers: ["X-Opsctl-Probe: guessed"])
        try await waitFor("two requests held") { (GateProcess.tally(.init(status: gate.status)))?.held == 2 }
        let probe = await gate.ask(headers: ["X-Opsctl-Probe: tok"])
        #expect(probe.hasPrefix("HTTP/1.1 204") && probe.contains("X-Opsctl-Gate: tok"), "opsctl's probe passes at once, echoed: \(probe)")
        gate.send(.release)
        let (released, guessed) = (await first, await forged)
        #expect(released.hasPrefix("HTTP/1.1 204"))
        #expect(guessed.hasPrefix("HTTP/1.1 204") && !guessed.contains("X-Opsctl-Gate"), "a probe with another token is held like any request")
        #expect(await gate.ask().hasPrefix("HTTP/1.1 204"), "after the release every request passes at once")
        gate.send(.stop)
        #expect(gate.done.wait(timeout: .now() + 120) == .success, "the gate ends on stop")
        let tally = try #require(GateProcess.tally(.init(status: gate.status)))
        #expect(tally.state == .stopped && tally.released == 2 && tally.probes == 1 && tally.refused == 0)
    }

    /// The request is held first (the tally says so), then the bound passes: a bound long enough
    /// for the request to arrive on a loaded machine, with nothing else waiting on it.
    @Test func pastTheBoundHeldRequestsAreRefusedAndTheGateEnds() async throws {
        let directory = TemporaryDirectory("opsctl-gate")
        let gate = try Running(holdFor: 10, directory: directory)
        async let answer = gate.ask()
        try await waitFor("the request held") { (GateProcess.tally(.init(status: gate.status)))?.held == 1 }
        #expect(await answer.hasPrefix("HTTP/1.1 403"), "refused: nginx turns it into the maintenance page")
        #expect(gate.done.wait(timeout: .now() + 120) == .success, "the gate ends at the bound")
        #expect(GateProcess.tally(.init(status: gate.status))?.state == .expired)
    }
}

extension GateProcess.Files {
    init(status: String) {
        self.init(state: status, env: "unused")
        self.status = status
    }
}
