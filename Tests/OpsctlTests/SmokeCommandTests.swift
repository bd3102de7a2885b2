// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

struct SmokeCommandTests {
    let directory = TemporaryDirectory("opsctl-smoke-e2e")

    @Test func smokeRecordsTheRunWritesJUnitAndMetricsAndExitsOneOnAFailure() async throws {
        let server = try TestHTTPServer()
        try directory.write("opsctl.yml", """
            app: app
            image: app
            state: state.db
            environments:
              production:
                smoke:
                  base_url: \(server.url(""))
                  checks:
                    - {name: health, path: /health, expect: {json: {status: healthy}}}
                    - {name: headers, path: /plain, expect: {headers: {X-Content-Type-Options: nosniff}}}
                metrics: {textfile_dir: metrics}
              staging:
                smoke:
                  base_url: \(server.url(""))
                  checks:
                    - {name: health, path: /health}

            """)
        try FileManager.default.createDirectory(atPath: directory.path + "/metrics", withIntermediateDirectories: true)
        let opsctl = Opsctl(directory: directory.path)

        let failing = try await opsctl.run("smoke", "production", "--json", "--junit", "report.xml")
        #expect(failing.exitCode == 1, "\(failing.stderr)")
        let document = try failing.json()
        #expect(document["ok"] as? Bool == false)
        #expect(document["passed"] as? Int == 1 && document["failed"] as? Int == 1)
        let checks = try #require(document["checks"] as? [[String: Any]])
        #expect((checks[1]["failures"] as? [String]) == ["header X-Content-Type-Options missing (expected nosniff)"])
        try await setUp("xmllint", ["--noout", "--schema", repositoryRoot + "/Tests/Fixtures/junit/junit-10.xsd", directory.path + "/report.xml"])

        let ledger = try Ledger(path: directory.path + "/state.db")
        let run = try #require(try ledger.lastSmokeRun(env: "production"))
        #expect(run.status == .failed && run.passed == 1 && run.failed == 1)
        let metrics = directory.path + "/metrics/opsctl_production.prom"
        #expect(try String(contentsOfFile: metrics, encoding: .utf8).contains(#"opsctl_smoke_failed_checks{env="production"} 1"#))
        try await setUp("sh", ["-c", "promtool check metrics < \"$1\"", "sh", metrics])

        let passing = try await opsctl.run("smoke", "staging")
        #expect(passing.exitCode == 0, "\(passing.stdout)\(passing.stderr)")
        #expect(passing.stdout.contains("ok: 1/1 passed"))
        #expect(try ledger.lastSmokeRun(env: "staging")?.status == .passed)

        let runbook = try await opsctl.run("smoke", "--url", server.url(""))
        #expect(runbook.exitCode == 0, "\(runbook.stdout)")
        #expect(runbook.stdout.contains("login rejects a bad password"))

        let unknown = try await opsctl.run("smoke", "prod")
        #expect(unknown.exitCode == 64 && unknown.stderr.contains("unknown environment \"prod\""))
    }

    @Test func badSmokeConfigExits78() async throws {
        try directory.write("opsctl.yml", """
            app: app
            image: app
            environments:
              production:
                smoke:
                  checks:
                    - {name: health, path: /health}

            """)
        let result = try await Opsctl(directory: directory.path).run("smoke", "production")
        #expect(result.exitCode == 78)
        #expect(result.stderr.contains("relative path \"/health\" needs smoke.base_url"))
    }
}
