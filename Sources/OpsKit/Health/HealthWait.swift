// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Time as the health-wait sees it; tests inject a virtual one.
public protocol WaitClock: Sendable {
    func now() -> ContinuousClock.Instant
    func sleep(for duration: Duration) async
}

public struct SystemWaitClock: WaitClock {
    public init() {}
    public func now() -> ContinuousClock.Instant { ContinuousClock.now }
    public func sleep(for duration: Duration) async { try? await Task.sleep(for: duration) }
}

/// One probe's outcome.
public struct HealthProbe: Sendable, Codable, Equatable {
    public var ok: Bool
    public var status: Int?
    public var reason: String?
    public var totalMs: Double?
    /// The body's `version`, when it is JSON and carries one (which release answered).
    public var version: String?

    public init(ok: Bool, status: Int? = nil, reason: String? = nil, totalMs: Double? = nil, version: String? = nil) {
        self.ok = ok
        self.status = status
        self.reason = reason
        self.totalMs = totalMs
        self.version = version
    }
}

public struct HealthWaitReport: Report {
    public var url: String
    public var healthy: Bool
    public var attempts: Int
    public var elapsedMs: Int
    /// The last probe: the answer a failing wait gives up on.
    public var last: HealthProbe?
    /// Set when the extra probe (deploy: the container exited) ended the wait early.
    public var abortedBecause: String?

    public var exitCode: Int32 { healthy ? 0 : OpsError.Kind.checkFailed.exitCode }

    public func renderText() -> String {
        if healthy { return "healthy: \(url) after \(attempts) probe(s), \(elapsedMs) ms" }
        if let abortedBecause { return "NOT healthy: \(abortedBecause) (after \(elapsedMs) ms)" }
        return "NOT healthy after \(elapsedMs) ms and \(attempts) probe(s): " + (last?.reason ?? "no answer")
    }
}

/// Probes every `interval`; healthy after `successes` passes in a row; gives up at `timeout`
/// with the last response in the reason. `extraCheck` runs each round (deploy plugs in
/// `docker inspect`): a reason from it ends the wait at once instead of at the timeout.
public struct HealthWaiter: Sendable {
    public var settings: HealthSettings
    public var clock: any WaitClock
    public var probe: @Sendable (HealthSettings) async -> HealthProbe
    public var extraCheck: (@Sendable () async -> String?)?

    public init(settings: HealthSettings, clock: any WaitClock = SystemWaitClock(),
                probe: @escaping @Sendable (HealthSettings) async -> HealthProbe = HealthWaiter.httpProbe,
                extraCheck: (@Sendable () async -> String?)? = nil) {
        self.settings = settings
        self.clock = clock
        self.probe = probe
        self.extraCheck = extraCheck
    }

    public func wait(timeout: OpsDuration? = nil) async -> HealthWaitReport {
        let budget = Duration.milliseconds((timeout ?? settings.timeout).milliseconds)
        let start = clock.now()
        var attempts = 0
        var consecutive = 0
        var last: HealthProbe?
        func elapsed() -> Int { (clock.now() - start).milliseconds }
        while true {
            let roundStart = clock.now()
            if let extraCheck, let reason = await extraCheck() {
                return HealthWaitReport(url: settings.url, healthy: false, attempts: attempts, elapsedMs: elapsed(), last: last, abortedBecause: reason)
            }
            attempts += 1
            let result = await probe(settings)
            last = result
            consecutive = result.ok ? consecutive + 1 : 0
            if consecutive >= settings.successes {
                return HealthWaitReport(url: settings.url, healthy: true, attempts: attempts, elapsedMs: elapsed(), last: result, abortedBecause: nil)
            }
            let nextRound = roundStart + .milliseconds(settings.interval.milliseconds)
            if nextRound - start >= budget {
                return HealthWaitReport(url: settings.url, healthy: false, attempts: attempts, elapsedMs: elapsed(), last: last, abortedBecause: nil)
            }
            let pause = nextRound - clock.now()
            if pause > .zero { await clock.sleep(for: pause) }
        }
    }

    /// GET the health URL; pass when the status and every JSON expectation match. One request
    /// of a wait gets a few intervals, so a hung app costs a round, not the whole wait.
    @Sendable public static func httpProbe(_ settings: HealthSettings) async -> HealthProbe {
        await probeOnce(settings, timeout: OpsDuration(milliseconds: min(settings.timeout.milliseconds, max(1000, settings.interval.milliseconds * 4))))
    }

    /// A single GET given the whole `timeout`: for a look that makes one attempt, not a wait.
    public static func probeOnce(_ settings: HealthSettings, timeout: OpsDuration) async -> HealthProbe {
        var request = HTTPRequest(url: settings.url)
        request.insecure = settings.insecure
        request.timeout = timeout
        request.connectTimeout = request.timeout
        switch await CurlHTTP.perform([request], concurrency: 1)[0] {
        case .failure(let failure):
            return HealthProbe(ok: false, status: nil, reason: failure.reason, totalMs: failure.totalMs)
        case .success(let response):
            let excerpt = String(decoding: response.body.prefix(200), as: UTF8.self)
            var version: String?
            if case .found(.string(let text)) = JSONPath.lookup("version", in: response.body) { version = text }
            if response.status != settings.status {
                return HealthProbe(ok: false, status: response.status, reason: "HTTP \(response.status) (expected \(settings.status)): \(excerpt)",
                                   totalMs: response.timings.totalMs, version: version)
            }
            if let mismatch = JSONPath.mismatch(settings.json, in: response.body) {
                return HealthProbe(ok: false, status: response.status, reason: "\(mismatch): \(excerpt)", totalMs: response.timings.totalMs, version: version)
            }
            return HealthProbe(ok: true, status: response.status, reason: nil, totalMs: response.timings.totalMs, version: version)
        }
    }
}
