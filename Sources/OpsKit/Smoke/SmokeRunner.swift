// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Strict: each check runs once (`opsctl smoke`). Converge: failed checks run again every
/// `interval` until they pass or `budget` is spent (right after a deploy, while caches warm).
public enum SmokeMode: Sendable, Equatable {
    case strict
    case converge(budget: OpsDuration, interval: OpsDuration)

    public var name: String {
        switch self {
        case .strict: "strict"
        case .converge: "converge"
        }
    }
}

/// Runs an environment's smoke checks concurrently on one libcurl multi handle.
public struct SmokeRunner: Sendable {
    public var settings: SmokeSettings
    public var clock: any WaitClock
    public var now: @Sendable () -> Date
    /// Checked between converge rounds (deploy: a SIGTERM arrived).
    public var shouldStop: @Sendable () -> Bool

    public init(settings: SmokeSettings, clock: any WaitClock = SystemWaitClock(), now: @escaping @Sendable () -> Date = { Date() },
                shouldStop: @escaping @Sendable () -> Bool = { false }) {
        self.settings = settings
        self.clock = clock
        self.now = now
        self.shouldStop = shouldStop
    }

    public func run(mode: SmokeMode = .strict) async -> SmokeReport {
        let startedAt = now()
        let start = clock.now()
        let requests = settings.checks.map(request(for:))
        var results = settings.checks.map { SmokeCheckResult(check: $0, url: Redactor.redactURLCredentials(url(for: $0))) }
        var pending = Array(settings.checks.indices)
        while !pending.isEmpty {
            let roundStart = clock.now()
            let outcomes = await CurlHTTP.perform(pending.map { requests[$0] }, concurrency: settings.concurrency)
            for (index, outcome) in zip(pending, outcomes) {
                results[index].record(outcome, expectation: settings.checks[index].expect, now: now())
            }
            pending = pending.filter { !results[$0].passed }
            guard case .converge(let budget, let interval) = mode, !pending.isEmpty, !shouldStop() else { break }
            let nextRound = roundStart + .milliseconds(interval.milliseconds)
            if nextRound - start >= .milliseconds(budget.milliseconds) { break }
            let pause = nextRound - clock.now()
            if pause > .zero { await clock.sleep(for: pause) }
        }
        return SmokeReport(env: nil, baseURL: settings.baseURL.map(Redactor.redactURLCredentials), mode: mode.name, startedAt: startedAt,
                           durationMs: (clock.now() - start).milliseconds, checks: results)
    }

    func url(for check: SmokeCheck) -> String {
        if check.path.hasPrefix("http://") || check.path.hasPrefix("https://") { return check.path }
        let base = settings.baseURL ?? ""
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        return trimmed + (check.path.hasPrefix("/") ? check.path : "/" + check.path)
    }

    func request(for check: SmokeCheck) -> HTTPRequest {
        var request = HTTPRequest(url: url(for: check))
        request.method = check.method
        request.headers = check.headers.map { ($0.name, $0.resolvedValue) }
        request.body = check.body
        request.timeout = check.timeout
        request.connectTimeout = OpsDuration(milliseconds: min(check.timeout.milliseconds, 5000))
        request.insecure = check.insecure
        request.connectTo = settings.connectTo
        request.caFile = settings.caFile
        request.wantsCertificate = check.expect.certDays != nil
        return request
    }
}

/// Every expectation of a check against one response; each broken one in words.
public enum SmokeAssertions {
    public static func failures(_ expect: SmokeExpectation, _ response: HTTPResponse, now: Date) -> [String] {
        var failures: [String] = []
        let excerpt = String(decoding: response.body.prefix(120), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
        if !expect.status.isEmpty, !expect.status.contains(response.status) {
            failures.append("HTTP \(response.status), expected \(describe(expect.status))" + (excerpt.isEmpty ? "" : ": \(excerpt)"))
        }
        for header in expect.headers {
            failures += headerFailure(header, actual: response.header(header.name)).map { [$0] } ?? []
        }
        for expectation in expect.json {
            if let mismatch = JSONPath.mismatch([expectation], in: response.body) {
                failures.append(mismatch)
                if mismatch == "body is not JSON" { break }
            }
        }
        let body = String(decoding: response.body, as: UTF8.self)
        let truncated = response.bodyTruncated ? " (in the first \(response.body.count) bytes)" : ""
        if let needle = expect.bodyContains, !body.contains(needle) {
            failures.append("body does not contain \"\(needle)\"\(truncated)")
        }
        if let pattern = expect.bodyRegex, let regex = try? Regex(pattern), body.firstMatch(of: regex) == nil {
            failures.append("body does not match /\(pattern)/\(truncated)")
        }
        if let maxMs = expect.maxMs, response.timings.totalMs > Double(maxMs) {
            failures.append("took \(Int(response.timings.totalMs.rounded())) ms, limit \(maxMs) ms")
        }
        for limit in expect.phases {
            let value = phaseValue(limit.phase, response.timings)
            if value > Double(limit.maxMs) {
                failures.append("\(limit.phase.rawValue) at \(Int(value.rounded())) ms, limit \(limit.maxMs) ms")
            }
        }
        if let minimumDays = expect.certDays {
            if let expiry = response.certificateExpiresAt {
                let days = Int((expiry.timeIntervalSince(now) / 86_400).rounded(.down))
                if days < minimumDays {
                    failures.append("TLS certificate expires in \(days) day(s) (\(TextFormat.timestamp(expiry))), need at least \(minimumDays)")
                }
            } else {
                failures.append("no TLS certificate to check (cert_days needs an https URL)")
            }
        }
        return failures
    }

    /// "200", "one of 400, 401, 403", "200-399".
    static func describe(_ statuses: [Int]) -> String {
        var ranges: [ClosedRange<Int>] = []
        for status in statuses.sorted() {
            if let last = ranges.last, last.upperBound + 1 == status { ranges[ranges.count - 1] = last.lowerBound...status } else { ranges.append(status...status) }
        }
        let parts = ranges.flatMap { $0.count >= 3 ? ["\($0.lowerBound)-\($0.upperBound)"] : $0.map(String.init) }
        return statuses.count == 1 ? parts[0] : "one of " + parts.joined(separator: ", ")
    }

    /// `*` present, `!` absent, `~regex` matches, anything else equals.
    static func headerFailure(_ header: HeaderValue, actual: String?) -> String? {
        let expected = header.resolvedValue
        let shown = header.secret == nil ? expected : Secret.marker
        switch expected {
        case "*": return actual == nil ? "header \(header.name) missing" : nil
        case "!": return actual == nil ? nil : "header \(header.name) present, expected absent"
        default:
            guard let actual else { return "header \(header.name) missing (expected \(shown))" }
            if expected.hasPrefix("~") {
                let pattern = String(expected.dropFirst())
                guard let regex = try? Regex(pattern), actual.firstMatch(of: regex) != nil else {
                    return "header \(header.name) is \"\(header.secret == nil ? actual : Secret.marker)\", expected to match /\(header.secret == nil ? pattern : Secret.marker)/"
                }
                return nil
            }
            return actual == expected ? nil : "header \(header.name) is \"\(header.secret == nil ? actual : Secret.marker)\", expected \"\(shown)\""
        }
    }

    static func phaseValue(_ phase: PhaseLimit.Phase, _ timings: HTTPTimings) -> Double {
        switch phase {
        case .dns: timings.dnsMs
        case .connect: timings.connectMs
        case .tls: timings.tlsMs
        case .ttfb: timings.ttfbMs
        case .total: timings.totalMs
        }
    }
}
