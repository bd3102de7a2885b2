// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

public struct SmokeCheckResult: Sendable, Codable, Equatable {
    public var name: String
    public var method: String
    public var url: String
    public var passed: Bool = false
    public var attempts: Int = 0
    public var status: Int?
    /// Every broken expectation of the last attempt, or why no response came.
    public var failures: [String] = []
    public var timings: HTTPTimings?
    public var certificateDaysLeft: Int?

    init(check: SmokeCheck, url: String) {
        name = check.name
        method = check.method
        self.url = url
    }

    public var reason: String? { failures.isEmpty ? nil : failures.joined(separator: "; ") }

    mutating func record(_ outcome: Result<HTTPResponse, HTTPFailure>, expectation: SmokeExpectation, now: Date) {
        attempts += 1
        switch outcome {
        case .failure(let failure):
            status = nil
            timings = HTTPTimings(dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 0, totalMs: failure.totalMs)
            failures = [failure.reason]
        case .success(let response):
            status = response.status
            timings = response.timings
            certificateDaysLeft = response.certificateExpiresAt.map { Int(($0.timeIntervalSince(now) / 86_400).rounded(.down)) }
            failures = SmokeAssertions.failures(expectation, response, now: now)
        }
        passed = failures.isEmpty
    }
}

public struct SmokeReport: Report {
    public var env: String?
    public var baseURL: String?
    public var mode: String
    public var startedAt: Date
    public var durationMs: Int
    public var checks: [SmokeCheckResult]

    /// A server may echo what it was sent: no secret leaves through a failure reason.
    public mutating func scrub(with redactor: Redactor) {
        for index in checks.indices { checks[index].failures = checks[index].failures.map(redactor.scrub) }
    }

    public var passed: Int { checks.filter(\.passed).count }
    public var failed: Int { checks.count - passed }
    public var exitCode: Int32 { failed == 0 ? 0 : OpsError.Kind.checkFailed.exitCode }

    enum CodingKeys: String, CodingKey { case env, baseURL, mode, startedAt, durationMs, checks, passed, failed }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(env, forKey: .env)
        try container.encodeIfPresent(baseURL, forKey: .baseURL)
        try container.encode(mode, forKey: .mode)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(durationMs, forKey: .durationMs)
        try container.encode(checks, forKey: .checks)
        try container.encode(passed, forKey: .passed)
        try container.encode(failed, forKey: .failed)
    }

    /// One row per check with libcurl's phase timings (ms from the start, as curl's -w time_*).
    public func renderText() -> String {
        func ms(_ value: Double?) -> String { value.map { $0 > 0 ? String(format: "%.1f", $0) : "-" } ?? "-" }
        let rows = checks.map { check in
            [check.passed ? "PASS" : "FAIL", check.name, check.status.map(String.init) ?? "-", ms(check.timings?.dnsMs),
             ms(check.timings?.connectMs), ms(check.timings?.tlsMs), ms(check.timings?.ttfbMs), ms(check.timings?.totalMs),
             String(check.attempts)]
        }
        var lines = [TextFormat.table(["", "CHECK", "HTTP", "DNS", "CONNECT", "TLS", "TTFB", "TOTAL ms", "TRIES"], rows)]
        for check in checks where !check.passed {
            lines.append("  \(check.name): \(check.reason ?? "failed")")
        }
        let target = baseURL ?? env ?? "checks"
        lines.append("\(failed == 0 ? "ok" : "FAILED"): \(passed)/\(checks.count) passed against \(target) in \(durationMs) ms (\(mode))")
        return lines.joined(separator: "\n")
    }

    /// JUnit XML (validates against the common junit-10.xsd): one testsuite, a testcase per check.
    public func junitXML() -> String {
        func seconds(_ ms: Double) -> String { String(format: "%.3f", ms / 1000) }
        let suiteName = "opsctl smoke" + (env.map { " \($0)" } ?? "")
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        xml += #"<testsuites name="\#(XMLText.escape(suiteName))" tests="\#(checks.count)" failures="\#(failed)" errors="0" time="\#(seconds(Double(durationMs)))">"# + "\n"
        xml += #"  <testsuite name="\#(XMLText.escape(suiteName))" tests="\#(checks.count)" failures="\#(failed)" errors="0" skipped="0""#
        xml += #" time="\#(seconds(Double(durationMs)))" timestamp="\#(TextFormat.timestamp(startedAt))">"# + "\n"
        for check in checks {
            xml += #"    <testcase name="\#(XMLText.escape(check.name))" classname="\#(XMLText.escape(suiteName))" time="\#(seconds(check.timings?.totalMs ?? 0))">"# + "\n"
            if let reason = check.reason {
                xml += #"      <failure type="SmokeCheckFailed" message="\#(XMLText.escape(reason))">\#(XMLText.escape("\(check.method) \(check.url)\n\(reason)"))</failure>"# + "\n"
            }
            let timings = check.timings.map { "dns=\($0.dnsMs)ms connect=\($0.connectMs)ms tls=\($0.tlsMs)ms ttfb=\($0.ttfbMs)ms total=\($0.totalMs)ms" } ?? ""
            xml += "      <system-out>\(XMLText.escape("\(check.method) \(check.url) -> \(check.status.map(String.init) ?? "no response") attempts=\(check.attempts) \(timings)"))</system-out>\n"
            xml += "    </testcase>\n"
        }
        xml += "  </testsuite>\n</testsuites>\n"
        return xml
    }
}
