// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl smoke` and the deploy's smoke step: run the checks, then keep the outcome in the
/// ledger (`smoke_runs`), the metrics file and, on request, a JUnit file.
public enum SmokeService {
    public struct Destinations: Sendable {
        public var env: String?
        public var ledgerPath: String?
        public var metricsDirectory: String?
        public var junitPath: String?

        public init(env: String? = nil, ledgerPath: String? = nil, metricsDirectory: String? = nil, junitPath: String? = nil) {
            self.env = env
            self.ledgerPath = ledgerPath
            self.metricsDirectory = metricsDirectory
            self.junitPath = junitPath
        }
    }

    public static func run(_ settings: SmokeSettings, mode: SmokeMode = .strict, to destinations: Destinations,
                           redactor: Redactor, context: OpsContext) async throws(OpsError) -> SmokeReport {
        guard !settings.checks.isEmpty else {
            throw OpsError(.config, code: "config.missing", "no smoke checks: set smoke.checks in opsctl.yml or pass --url BASE")
        }
        context.logger.info("running \(settings.checks.count) smoke check(s), \(mode.name)")
        var report = await SmokeRunner(settings: settings, now: context.now).run(mode: mode)
        report.env = destinations.env
        report.scrub(with: redactor)
        if let junitPath = destinations.junitPath {
            try AtomicFile.write(report.junitXML(), to: junitPath)
        }
        if let env = destinations.env {
            if let ledgerPath = destinations.ledgerPath {
                try context.ledger(ledgerPath).recordSmokeRun(env: env, report: report)
            }
            if let metricsDirectory = destinations.metricsDirectory {
                try MetricsFile.update(directory: metricsDirectory, env: env, samples: metrics(report, env: env, now: context.now()))
            }
        }
        return report
    }

    static func metrics(_ report: SmokeReport, env: String, now: Date) -> [MetricSample] {
        var samples = [
            MetricSample("opsctl_smoke_failed_checks", "Smoke checks that failed in the last run.", labels: [("env", env)], Double(report.failed)),
            MetricSample("opsctl_smoke_duration_seconds", "Wall time of the last smoke run.", labels: [("env", env)], Double(report.durationMs) / 1000),
            MetricSample("opsctl_smoke_last_run_timestamp_seconds", "When smoke checks last ran.", labels: [("env", env)], now.timeIntervalSince1970.rounded()),
        ]
        if report.failed == 0 {
            samples.append(MetricSample("opsctl_smoke_last_success_timestamp_seconds", "When every smoke check last passed.",
                                        labels: [("env", env)], now.timeIntervalSince1970.rounded()))
        }
        for check in report.checks {
            samples.append(MetricSample("opsctl_smoke_check_seconds", "Total time of each smoke check in the last run.",
                                        labels: [("env", env), ("check", check.name)], (check.timings?.totalMs ?? 0) / 1000))
        }
        return samples
    }
}

extension Ledger {
    public func recordSmokeRun(env: String, report: SmokeReport) throws(OpsError) {
        let details = ReportEncoder.json(report.checks)
        try database.writeTransaction { () throws(OpsError) in
            try database.query("""
                INSERT INTO smoke_runs (env, base_url, status, passed, failed, started_at, duration_ms, details)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(env), .optional(report.baseURL), .text((report.failed == 0 ? SmokeRunStatus.passed : .failed).rawValue), .integer(Int64(report.passed)),
                      .integer(Int64(report.failed)), .real(report.startedAt.ledgerTime), .integer(Int64(report.durationMs)), .text(details)])
        }
    }
}
