// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// What `opsctl init` writes around opsctl: the GitHub Actions deploy workflow (checked with
/// actionlint) and the Grafana dashboard (every PromQL expression checked with promtool).
struct InitToolingTests {
    let directory = TemporaryDirectory("opsctl-init-tooling")
    var opsctl: Opsctl { Opsctl(directory: directory.path) }

    static let workflow = ".github/workflows/opsctl-deploy.yml"
    static let dashboard = "ops/grafana/opsctl-dashboard.json"

    func initialise() async throws {
        let created = try await opsctl.run("init")
        #expect(created.exitCode == 0, "\(created.stderr)")
    }

    @Test func initListsTheWorkflowAndTheDashboard() async throws {
        let created = try await opsctl.run("init", "--json")
        #expect(created.exitCode == 0, "\(created.stderr)")
        let written = try #require(try created.json()["written"] as? [String])
        for file in [Self.workflow, ".github/actionlint.yaml", Self.dashboard] {
            #expect(written.contains(file), "\(written)")
            #expect(FileManager.default.fileExists(atPath: directory.file(file)), "\(file)")
        }
        let again = try await opsctl.run("init", "--force")
        #expect(again.stdout.contains("overwritten \(Self.workflow)"))
        #expect(again.stdout.contains("overwritten \(Self.dashboard)"))
    }

    @Test func theWorkflowDeploysOnATagAndLeavesTheVerdictToOpsctl() async throws {
        try await initialise()
        let workflow = try directory.read(Self.workflow)
        for expected in ["tags: [\"v*.*.*\"]", "docker build", "opsctl preflight \"$OPSCTL_ENV\"", "opsctl deploy \"$OPSCTL_ENV\" \"${{ steps.release.outputs.version }}\"",
                         "--junit opsctl-reports/smoke-junit.xml", "exit \"${code}\"", "3) verdict=\"FAILED and rolled back", "actions/upload-artifact@v4",
                         "report_paths: opsctl-reports/smoke-junit.xml", "fetch-depth: 0"] {
            #expect(workflow.contains(expected), "\(expected)")
        }
    }

    @Test(.enabled(if: RequiredTool.shouldRun("actionlint"), "needs actionlint (scripts/setup.sh puts it in .venv; always required under CI=true)"))
    func actionlintPassesOnTheWrittenWorkflowAndCatchesABrokenOne() async throws {
        try await initialise()
        let actionlint = try #require(RequiredTool.path("actionlint"), "actionlint is missing: run scripts/setup.sh")
        try await setUp("git", ["init", "-q", directory.path])
        let clean = try await SubprocessRunner().run(ProcessRequest(actionlint, ["-no-color"], workingDirectory: directory.path, timeout: .seconds(60)))
        #expect(clean.succeeded, "actionlint: \(clean.standardOutput) \(clean.standardErrorTail)")

        // The control: the same check fails on a workflow that refers to a step that does not exist.
        let broken = try directory.read(Self.workflow).replacingOccurrences(of: "steps.deploy.outputs.exit-code", with: "steps.deplyo.outputs.exit-code")
        try directory.write(Self.workflow, broken)
        let caught = try await SubprocessRunner().run(ProcessRequest(actionlint, ["-no-color"], workingDirectory: directory.path, timeout: .seconds(60)))
        #expect(!caught.succeeded)
        #expect(caught.standardOutput.contains("deplyo"), "\(caught.standardOutput)")
    }

    /// Every `expr` of the dashboard (panels, annotations), Grafana's variables replaced by
    /// what Grafana would put there.
    func dashboardExpressions() throws -> [String] {
        let object = try JSONSerialization.jsonObject(with: Data(try directory.read(Self.dashboard).utf8))
        let dashboard = try #require(object as? [String: Any])
        var expressions: [String] = []
        for panel in dashboard["panels"] as? [[String: Any]] ?? [] {
            for target in panel["targets"] as? [[String: Any]] ?? [] { expressions += [target["expr"] as? String].compactMap { $0 } }
        }
        for annotation in (dashboard["annotations"] as? [String: Any])?["list"] as? [[String: Any]] ?? [] {
            expressions += [annotation["expr"] as? String].compactMap { $0 }
        }
        return expressions.map {
            $0.replacingOccurrences(of: "$__rate_interval", with: "5m").replacingOccurrences(of: "$__interval", with: "1m")
                .replacingOccurrences(of: "$__range", with: "1d").replacingOccurrences(of: "$env", with: "production|staging")
        }
    }

    /// `promtool check rules` over the expressions wrapped as recording rules (JSON is YAML).
    func promtoolCheck(_ expressions: [String]) async throws -> ProcessResult {
        let promtool = try #require(RequiredTool.path("promtool"), "promtool is missing: run scripts/setup.sh")
        let rules = expressions.enumerated().map { ["record": "opsctl:dashboard_panel_\($0.offset)", "expr": $0.element] }
        let document = ["groups": [["name": "opsctl-dashboard", "rules": rules]]]
        let path = try directory.write("dashboard-rules.json", String(decoding: try JSONSerialization.data(withJSONObject: document), as: UTF8.self))
        return try await SubprocessRunner().run(ProcessRequest(promtool, ["check", "rules", path], timeout: .seconds(60)))
    }

    @Test(.enabled(if: RequiredTool.shouldRun("promtool"), "needs promtool (scripts/setup.sh; always required under CI=true)"))
    func promtoolPassesOnEveryDashboardExpressionAndCatchesABrokenOne() async throws {
        try await initialise()
        let expressions = try dashboardExpressions()
        #expect(expressions.count >= 15)
        let checked = try await promtoolCheck(expressions)
        #expect(checked.succeeded, "promtool: \(checked.standardOutput) \(checked.standardErrorTail)")
        #expect(checked.standardOutput.contains("SUCCESS: \(expressions.count) rules found"), "\(checked.standardOutput)")

        let caught = try await promtoolCheck(expressions + ["sum by (env) (opsctl_smoke_failed_checks{env=~\"x\"}"])
        #expect(!caught.succeeded)
    }

    @Test func theDashboardImportsIntoGrafanaAndShowsOnlyMetricsOpsctlWrites() async throws {
        try await initialise()
        let object = try JSONSerialization.jsonObject(with: Data(try directory.read(Self.dashboard).utf8))
        let dashboard = try #require(object as? [String: Any])
        #expect(dashboard["uid"] as? String == "opsctl-overview")
        #expect((dashboard["title"] as? String)?.isEmpty == false)
        #expect((dashboard["schemaVersion"] as? Int ?? 0) >= 36)
        #expect(dashboard["__inputs"] == nil, "no datasource bound at export time")
        let variables = try #require((dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]])
        let datasource = try #require(variables.first { $0["name"] as? String == "datasource" })
        #expect(datasource["type"] as? String == "datasource")
        #expect(datasource["query"] as? String == "prometheus")
        #expect(variables.contains { $0["name"] as? String == "env" })

        let panels = try #require(dashboard["panels"] as? [[String: Any]]).filter { $0["type"] as? String != "row" }
        let titles = panels.compactMap { $0["title"] as? String }
        for wanted in ["Live release", "Deploys and rollbacks", "Age of the newest backup", "Age of the newest verified backup",
                       "Backup size trend", "Verify failures", "Smoke latency by check", "Smoke failures"] {
            #expect(titles.contains(wanted), "\(wanted)")
        }
        var ids = Set<Int>()
        for panel in panels {
            #expect(ids.insert(panel["id"] as? Int ?? -1).inserted, "panel ids are unique")
            #expect((panel["datasource"] as? [String: String])?["uid"] == "${datasource}", "\(panel["title"] ?? "")")
            for target in panel["targets"] as? [[String: Any]] ?? [] {
                #expect((target["datasource"] as? [String: String])?["uid"] == "${datasource}")
            }
        }

        // Every metric the dashboard queries is one opsctl writes (a MetricSample in Sources/).
        let written = try Self.metricsOpsctlWrites()
        let queried = Set(try dashboardExpressions().flatMap { $0.matches(of: /opsctl_[a-z0-9_]+/).map { String($0.output) } })
        #expect(!queried.isEmpty)
        #expect(queried.subtracting(written).isEmpty, "queried but never written: \(queried.subtracting(written).sorted())")
        let leftOut: Set = ["opsctl_verify_last_run_timestamp_seconds", "opsctl_verify_last_success_timestamp_seconds", "opsctl_smoke_last_run_timestamp_seconds",
                            "opsctl_offsite_last_failure_timestamp_seconds", "opsctl_offsite_verify_last_run_timestamp_seconds"]
        #expect(written.subtracting(queried).subtracting(leftOut).isEmpty, "written but not on the dashboard: \(written.subtracting(queried).sorted())")
    }

    static func metricsOpsctlWrites() throws -> Set<String> {
        let sources = repositoryRoot + "/Sources/OpsKit"
        var names = Set<String>()
        for path in FileManager.default.subpaths(atPath: sources) ?? [] where path.hasSuffix(".swift") {
            let text = try String(contentsOfFile: "\(sources)/\(path)", encoding: .utf8)
            names.formUnion(text.matches(of: /MetricSample\("(opsctl_[a-z0-9_]+)"/).map { String($0.output.1) })
        }
        return names
    }
}
