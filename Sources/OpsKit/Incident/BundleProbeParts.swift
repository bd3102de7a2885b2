// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The bundle's parts that ask the app: its health answer and a smoke run.
extension DiagnosticBundle {
    /// How long the health request and each smoke check may take inside a bundle.
    static let probeTimeout = OpsDuration.seconds(5)
    static let smokeCheckTimeout = OpsDuration.seconds(10)

    /// One GET of `health.url` (through the proxy where users reach the app), kept whole: status,
    /// time, the body, and whether it passes the configured expectations.
    func health(_ part: PartContext) async -> PartOutput {
        guard var settings = environment.health else { return .notConfigured("no health.url configured") }
        if environment.strategy.needsProxy, let proxy = environment.proxy { settings = ProxyRoute.health(settings, through: proxy) }
        var request = HTTPRequest(url: settings.url)
        request.insecure = settings.insecure
        request.timeout = Self.probeTimeout
        request.connectTimeout = Self.probeTimeout
        request.maxBodyBytes = 64 << 10
        let url = Redactor.redactURLCredentials(settings.url)
        var answer: [String: Any] = ["url": url, "taken_at": TextFormat.timestamp(part.takenAt)]
        var summary: String?
        var problem: String?
        switch await CurlHTTP.perform([request], concurrency: 1)[0] {
        case .failure(let failure):
            answer["ok"] = false
            answer["error"] = failure.reason
            problem = "\(url) did not answer: \(failure.reason)"
        case .success(let response):
            let mismatch = response.status != settings.status ? "HTTP \(response.status), expected \(settings.status)" : JSONPath.mismatch(settings.json, in: response.body)
            answer["ok"] = mismatch == nil
            answer["status"] = response.status
            answer["total_ms"] = Int(response.timings.totalMs.rounded())
            answer["headers"] = response.headers.map { "\($0.name): \($0.value)" }
            answer["body"] = String(decoding: response.body, as: UTF8.self)
            if let mismatch { answer["failing"] = mismatch }
            summary = "\(url): HTTP \(response.status) in \(Int(response.timings.totalMs.rounded())) ms" + (mismatch.map { ", FAILING: \($0)" } ?? ", passing")
        }
        let data = (try? JSONSerialization.data(withJSONObject: answer, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return PartOutput(files: [BundleFile(path: "health.json", text: String(decoding: data, as: UTF8.self) + "\n")], summary: summary, problem: problem)
    }

    /// The environment's smoke checks once, as `opsctl smoke ENV` runs them (and recorded in the
    /// ledger like any smoke run), each check bounded.
    func smoke(_ part: PartContext) async throws(OpsError) -> PartOutput {
        guard var settings = environment.smoke, !settings.checks.isEmpty else { return .notConfigured("no smoke checks configured") }
        if let unresolved = Self.unresolvedSecretSetting(in: settings) {
            throw OpsError(.unavailable, code: "incident.smoke_skipped", "not run: the secret of \(unresolved) could not be fetched")
        }
        for index in settings.checks.indices {
            settings.checks[index].timeout = min(settings.checks[index].timeout, Self.smokeCheckTimeout)
        }
        let report = try await SmokeService.run(settings, mode: .strict, to: .init(env: environment.name, ledgerPath: config.state),
                                                redactor: config.redactor, context: part.context)
        return PartOutput(files: [BundleFile(path: "smoke.txt", text: report.renderText() + "\n"),
                                  BundleFile(path: "smoke.json", text: ReportEncoder.json(report: report) + "\n")],
                          summary: "\(report.passed) of \(report.passed + report.failed) checks passed")
    }

    /// A header whose secret command failed: sending the check would read a value that is not there.
    static func unresolvedSecretSetting(in settings: SmokeSettings) -> String? {
        for check in settings.checks {
            for header in check.headers + check.expect.headers where header.secret?.isResolved == false {
                return "smoke check \"\(check.name)\" header \(header.name)"
            }
        }
        return nil
    }
}
