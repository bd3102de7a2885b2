// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit


/// Answers from a script, one per probe; each probe takes 10 ms of virtual time.
final class ScriptedProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var answers: [Bool]
    let clock: VirtualClock
    init(_ answers: [Bool], clock: VirtualClock) { self.answers = answers; self.clock = clock }
    func next() -> HealthProbe {
        clock.advance(.milliseconds(10))
        let ok = lock.withLock { answers.isEmpty ? false : answers.removeFirst() }
        return HealthProbe(ok: ok, status: ok ? 200 : 503, reason: ok ? nil : "HTTP 503 (expected 200)", totalMs: 10)
    }
}

struct HealthWaitTests {
    func settings(timeout: Int64 = 5000, interval: Int64 = 250, successes: Int = 2) -> HealthSettings {
        var settings = HealthSettings(url: "http://127.0.0.1:1/health")
        settings.timeout = OpsDuration(milliseconds: timeout)
        settings.interval = OpsDuration(milliseconds: interval)
        settings.successes = successes
        return settings
    }

    @Test func healthyAfterConsecutivePasses() async {
        let clock = VirtualClock()
        let probe = ScriptedProbe([false, true, false, true, true], clock: clock)
        let report = await HealthWaiter(settings: settings(), clock: clock, probe: { _ in probe.next() }).wait()
        #expect(report.healthy)
        #expect(report.attempts == 5)
        #expect(report.elapsedMs == 4 * 250 + 10)
        #expect(report.exitCode == 0)
    }

    @Test func givesUpAtTheTimeoutWithTheLastAnswer() async {
        let clock = VirtualClock()
        let probe = ScriptedProbe([], clock: clock)
        let report = await HealthWaiter(settings: settings(timeout: 2000), clock: clock, probe: { _ in probe.next() }).wait()
        #expect(!report.healthy)
        #expect(report.attempts == 8)
        #expect(report.elapsedMs <= 2000)
        #expect(report.last?.reason == "HTTP 503 (expected 200)")
        #expect(report.exitCode == 1)
        #expect(report.renderText().hasSuffix("HTTP 503 (expected 200)"))
    }

    @Test func theExtraCheckFailsFastInsteadOfAtTheTimeout() async {
        let clock = VirtualClock()
        let probe = ScriptedProbe([], clock: clock)
        let rounds = ScriptedProbe([true, true, false], clock: clock)
        let report = await HealthWaiter(settings: settings(timeout: 60_000), clock: clock, probe: { _ in probe.next() },
                                        extraCheck: { rounds.next().ok ? nil : "container exited with status 1" }).wait()
        #expect(!report.healthy)
        #expect(report.abortedBecause == "container exited with status 1")
        #expect(report.elapsedMs < 1000)
    }

    @Test func jsonPaths() {
        let body = Data(#"{"status":"healthy","db":{"ok":true,"latency":3},"items":[{"name":"a"}],"n":null}"#.utf8)
        #expect(JSONPath.lookup("status", in: body) == .found(.string("healthy")))
        #expect(JSONPath.lookup("db.ok", in: body) == .found(.bool(true)))
        #expect(JSONPath.lookup("db.latency", in: body) == .found(.number(3)))
        #expect(JSONPath.lookup("items.0.name", in: body) == .found(.string("a")))
        #expect(JSONPath.lookup("n", in: body) == .found(.null))
        #expect(JSONPath.lookup("db.missing", in: body) == .missing)
        #expect(JSONPath.lookup("status", in: Data("not json".utf8)) == .notJSON)
        #expect(JSONPath.mismatch([JSONExpectation(path: "status", equals: .string("down"))], in: body) == "JSON status is \"healthy\", expected \"down\"")
        #expect(JSONPath.mismatch([JSONExpectation(path: "db.ok", equals: .bool(true))], in: body) == nil)
    }

    @Test func theRealProbeAgainstALocalServer() async throws {
        let server = try TestHTTPServer()
        var health = settings(timeout: 60_000, interval: 100)
        health.url = server.url("/health")
        health.json = [JSONExpectation(path: "status", equals: .string("healthy")), JSONExpectation(path: "db.ok", equals: .bool(true))]
        let healthy = await HealthWaiter(settings: health).wait()
        #expect(healthy.healthy, "\(healthy.renderText())")

        health.url = server.url("/status/503")
        health.timeout = OpsDuration(milliseconds: 600)
        let failing = await HealthWaiter(settings: health).wait()
        #expect(!failing.healthy)
        #expect(failing.last?.reason?.hasPrefix("HTTP 503 (expected 200)") == true)

        health.url = server.url("/json-broken")
        let broken = await HealthWaiter(settings: health).wait()
        #expect(broken.last?.reason?.hasPrefix("body is not JSON") == true)
    }
}
