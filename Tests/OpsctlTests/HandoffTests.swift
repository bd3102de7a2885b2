// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// The handoff over a real ledger filled by real opsctl runs, a live sample-app container, a
/// real database and a real webhook receiver.
@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct HandoffTests {
    static func config(webhook: String) -> String {
        """
            database: {path: data/app.db}
            backup: {dir: backups, name: app}
            handoff:
              since: 8h
              disks: [.]
              facts: {active sessions: "SELECT COUNT(*) FROM sessions WHERE status = 'active'"}
              log_pattern: " 404$"
              thresholds: {errors: 10, disk_percent: 1, backup_max_age: 26h}
              webhook: \(webhook)
        """
    }

    func get(_ fixture: DeployFixture, _ path: String, times: Int) {
        for _ in 0..<times { _ = CurlHTTP.perform(HTTPRequest(url: "http://127.0.0.1:\(fixture.port)\(path)")) }
    }

    @Test func everySectionFromWhatReallyHappenedPostedAndArchived() async throws {
        let receiver = try TestHTTPServer()
        let fixture = try await DeployFixture(extra: Self.config(webhook: receiver.url("/webhook")))
        let opsctl = fixture.opsctl
        let path = fixture.directory.path
        try FileManager.default.createDirectory(atPath: path + "/data", withIntermediateDirectories: true)
        try await setUp("sqlite3", [path + "/data/app.db",
                                    "CREATE TABLE sessions(id INTEGER PRIMARY KEY, status TEXT); INSERT INTO sessions(status) VALUES ('active'), ('active'), ('active'), ('closed');"])

        #expect(try await opsctl.run("deploy", "production", "1.0.1").exitCode == 0)
        #expect(try await opsctl.run("deploy", "production", "1.0.3").exitCode == 3)
        #expect(try await opsctl.run("backup", "production").exitCode == 0)
        try await Task.sleep(for: .seconds(1.1))   // backups are named by the second
        #expect(try await opsctl.run("backup", "production").exitCode == 0)
        #expect(try await opsctl.run("verify", "production", "--latest").exitCode == 0)
        #expect(try await opsctl.run("smoke", "production").exitCode == 0)
        #expect(try await opsctl.run("note", "production", "rotate \(DeployFixture.apiToken) on Thursday").exitCode == 0)
        #expect(try await opsctl.run("note", "production", "disk on /srv grows 2%/day").exitCode == 0)
        let closed = try await opsctl.run("note", "production", "--done", "1")
        #expect(closed.exitCode == 0 && closed.stdout.contains("closed note #1"))
        #expect(try await opsctl.run("note", "production", "--done", "1").exitCode == 64, "already closed")
        get(fixture, "/missing", times: 12)

        let run = try await opsctl.run("handoff", "production", "--format", "json", "--post")
        #expect(run.exitCode == 0, "\(run.stdout)\(run.stderr)")
        let report = try run.json()
        #expect(report["verdict"] as? String == "Warning")
        let rules = (report["findings"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String }
        #expect(Set(rules) == ["deploy.rolled_back", "logs.errors", "disk.full"], "\(rules)")
        #expect(report["by"] as? String == "alice")
        #expect(report["live_version"] as? String == "1.0.1")
        let deploys = try #require(report["deploys"] as? [[String: Any]])
        #expect(deploys.map { $0["version"] as? String } == ["1.0.3", "1.0.1"])
        #expect(deploys.map { $0["status"] as? String } == ["rolled_back", "succeeded"])
        let health = try #require(report["health"] as? [String: Any])
        #expect(health["ok"] as? Bool == true)
        let backups = try #require(report["backups"] as? [String: Any])
        #expect(backups["in_window"] as? Int == 2 && backups["failed_in_window"] as? Int == 0)
        #expect((backups["recent_bytes"] as? [Int])?.count == 2)
        #expect(backups["last_verified"] as? Bool == true)
        #expect((backups["age_hours"] as? Double ?? 99) < 0.1)
        let verifications = try #require(report["verifications"] as? [String: Any])
        #expect(verifications["runs"] as? Int == 1 && verifications["failed"] as? Int == 0)
        let smoke = try #require(report["smoke"] as? [String: Any])
        #expect(smoke["runs"] as? Int == 2, "the deploy's smoke run and the manual one")
        let logs = try #require(report["logs"] as? [String: Any])
        #expect(logs["errors"] as? Int == 12)
        let top = try #require((logs["top"] as? [[String: Any]])?.first)
        #expect(top["count"] as? Int == 12 && (top["text"] as? String)?.hasSuffix("GET /missing N") == true, "\(top)")
        #expect((report["database"] as? [String: Any])?["ok"] as? Bool == true)
        #expect((report["facts"] as? [[String: Any]])?.first?["value"] as? String == "3")
        #expect((report["disks"] as? [[String: Any]])?.first?["path"] as? String == ".")
        let notes = try #require(report["notes"] as? [[String: Any]])
        #expect(notes.map { $0["id"] as? Int } == [2])
        #expect(report["since_last_handoff"] == nil, "the first handoff")

        // The webhook got Slack's shape with the Markdown report, and no secret anywhere.
        let received = try CurlHTTP.perform(HTTPRequest(url: receiver.url("/webhook/received"))).get()
        let posts = try #require(try JSONSerialization.jsonObject(with: received.body) as? [[String: Any]])
        #expect(posts.count == 1)
        #expect(posts.first?["content_type"] as? String == "application/json")
        let body = try #require((posts.first?["body"] as? String)?.data(using: .utf8))
        let text = try #require((try JSONSerialization.jsonObject(with: body) as? [String: Any])?["text"] as? String)
        #expect(text.hasPrefix("# Handoff: \(fixture.app) / production: Warning"))
        #expect(text.contains("- #2 disk on /srv grows 2%/day"))
        #expect(text.contains("- active sessions: 3"))

        // The second handoff says what changed since the first; Markdown and HTML to files.
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let markdown = try await opsctl.run("handoff", "production", "--output", "handoff.md")
        #expect(markdown.exitCode == 0 && markdown.stdout.contains("written to handoff.md"))
        let written = try fixture.directory.read("handoff.md")
        #expect(written.contains("previous handoff") && written.contains("was Warning"))
        #expect(written.contains("1 deploy(s)/rollback(s), 0 good backup(s) since"))
        let html = try await opsctl.run("handoff", "production", "--format", "html")
        #expect(html.stdout.hasPrefix("<!DOCTYPE html>") && html.stdout.contains(#"<span class="verdict Warning">Warning</span>"#))
        #expect(!html.stdout.contains("<script") && !html.stdout.contains("<link"), "one self-contained page")
        let archived = try fixture.ledger.database.query("SELECT COUNT(*) FROM handoffs WHERE env = 'production'").first?.int(0)
        #expect(archived == 3)
        try fixture.assertNoSecrets([run.stdout, run.stderr, text, written, html.stdout, String(decoding: received.body, as: UTF8.self)])
        #expect(!run.stdout.contains(receiver.url("/webhook")) && !written.contains(receiver.url("/webhook")), "the webhook URL is a secret")
    }

    @Test func unreachableSourcesAreReportedNotFatal() async throws {
        let receiver = try TestHTTPServer()
        let fixture = try await DeployFixture(extra: Self.config(webhook: receiver.url("/status/500")))
        var opsctl = fixture.opsctl
        opsctl.environment["DOCKER_HOST"] = "unix://\(fixture.directory.path)/no-docker.sock"
        let run = try await opsctl.run("handoff", "production", "--json", "--post")
        #expect(run.exitCode == 69, "the webhook failed; the report is still complete: \(run.stderr)")
        let report = try run.json()
        let sources = (report["source_errors"] as? [[String: Any]] ?? []).compactMap { $0["source"] as? String }
        #expect(Set(sources) == ["docker", "database"], "\(sources)")
        #expect(report["verdict"] as? String == "Critical")
        let rules = (report["findings"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String }
        #expect(rules.first == "health.failing" && rules.contains("database.check_failed") && rules.contains("source.unreachable"))
        #expect((report["post_error"] as? String) == "the webhook answered HTTP 500 (after 3 attempts)")
        #expect(try fixture.ledger.database.query("SELECT verdict FROM handoffs").first?.string(0) == "Critical", "archived even so")

        // No ledger at all: a state path that cannot be created.
        let broken = try fixture.directory.read("opsctl.yml").replacingOccurrences(of: "state: .opsctl/state.db", with: "state: /proc/opsctl/state.db")
        try fixture.directory.write("opsctl.yml", broken)
        let noLedger = try await opsctl.run("handoff", "production")
        #expect(noLedger.exitCode == 0, "\(noLedger.stderr)")
        #expect(noLedger.stdout.contains("## Sources that could not be read") && noLedger.stdout.contains("- ledger: /proc/opsctl/state.db"))
    }
}

/// Each verdict rule on its own, over reports built in code.
struct HandoffVerdictTests {
    func report(_ edit: (inout HandoffReport) -> Void = { _ in }) -> HandoffReport {
        var report = HandoffReport(app: "a", env: "production", window: .init(from: Date(timeIntervalSince1970: 0), to: Date(timeIntervalSince1970: 3600), timezone: "UTC"),
                                   generatedAt: Date(timeIntervalSince1970: 3600), by: "t", opsctlVersion: "0", verdict: .healthy, findings: [],
                                   health: .init(url: "http://127.0.0.1/health", ok: true, status: 200, ms: 1), deploys: [],
                                   backups: .init(lastSuccessAt: Date(), lastSuccessFile: "a.db.gz", ageHours: 2, maxAgeHours: 26, recentBytes: [1], lastVerified: true,
                                                  inWindow: 1, failedInWindow: 0),
                                   verifications: .init(runs: 1, failed: 0, lastStatus: "ok"), smoke: .init(runs: 1, failed: 0),
                                   logs: .init(container: "c", pattern: "ERROR", errors: 0, top: []), database: .init(path: "/d.db", ok: true, quickCheck: "ok"),
                                   disks: [.init(path: "/", usedPercent: 40, freeBytes: 1, totalBytes: 2)], facts: [], notes: [], sourceErrors: [])
        edit(&report)
        return report
    }

    func decide(_ edit: (inout HandoffReport) -> Void) -> (HandoffReport.Level, String?) {
        let (level, findings) = HandoffService.verdict(report(edit), thresholds: HandoffThresholds())
        return (level, findings.first?.rule)
    }

    func deploy(_ kind: ReleaseAction, _ status: DeploymentStatus) -> HandoffReport.Deploy {
        .init(id: 1, kind: kind, version: "1.0.1", status: status, at: Date())
    }

    @Test func eachRuleFires() {
        #expect(decide { _ in } == (.healthy, nil))
        #expect(decide { $0.health?.ok = false } == (.critical, "health.failing"))
        #expect(decide { $0.verifications.lastStatus = "failed" } == (.critical, "verify.failed"))
        #expect(decide { $0.database?.ok = false } == (.critical, "database.check_failed"))
        #expect(decide { $0.deploys = [self.deploy(.deploy, .failed)] } == (.critical, "deploy.failed"))
        #expect(decide { $0.deploys = [self.deploy(.deploy, .rolledBack)] } == (.warning, "deploy.rolled_back"))
        #expect(decide { $0.deploys = [self.deploy(.deploy, .interrupted)] } == (.warning, "deploy.rolled_back"))
        #expect(decide { $0.deploys = [self.deploy(.rollback, .succeeded)] } == (.warning, "deploy.rolled_back"))
        #expect(decide { $0.deploys = [self.deploy(.deploy, .succeeded)] } == (.healthy, nil))
        #expect(decide { $0.backups?.ageHours = 27 } == (.warning, "backup.stale"))
        #expect(decide { $0.backups?.ageHours = 25.9 } == (.healthy, nil))
        #expect(decide { $0.backups?.ageHours = nil } == (.warning, "backup.stale"))
        #expect(decide { $0.backups?.failedInWindow = 1 } == (.warning, "backup.failed"))
        #expect(decide { $0.disks[0].usedPercent = 85 } == (.warning, "disk.full"))
        #expect(decide { $0.logs?.errors = 11 } == (.warning, "logs.errors"))
        #expect(decide { $0.logs?.errors = 10 } == (.healthy, nil))
        #expect(decide { $0.smoke.failed = 1 } == (.warning, "smoke.failed"))
        #expect(decide { $0.sourceErrors = [.init(source: "docker", error: "down")] } == (.warning, "source.unreachable"))
        // The worst rule decides; the others are still listed.
        let (level, findings) = HandoffService.verdict(report { $0.disks[0].usedPercent = 99; $0.health?.ok = false }, thresholds: HandoffThresholds())
        #expect(level == .critical && findings.map(\.rule) == ["health.failing", "disk.full"])
    }

    @Test func repeatedLogLinesAreGroupedAndScrubbed() {
        let logs = """
            2026-11-22T01:00:00Z ERROR: payment 1234 failed for token tok-secret-99
            2026-11-22T01:00:05Z ERROR: payment 1299 failed for token tok-secret-99
            2026-11-22T01:01:00Z GET /health 200
            2026-11-22T01:02:00Z ERROR: cache miss storm
            """
        let summary = HandoffService.summarise(logs: logs, pattern: "ERROR", container: "c", redactor: Redactor(secretValues: ["tok-secret-99"]))
        #expect(summary.errors == 3)
        #expect(summary.top.first?.count == 2)
        #expect(summary.top.first?.text == "N-N-NTN:N:NZ ERROR: payment N failed for token <redacted>")
    }
}

/// Who wrote the handoff and how long deploys took, as a cron job run would print them.
struct HandoffWordingTests {
    /// cron and systemd start jobs without $USER: the handoff names the uid's login name.
    @Test func withoutUserTheHandoffIsByTheLoginName() async throws {
        let directory = TemporaryDirectory("opsctl-handoff-by")
        try directory.write("opsctl.yml", "app: app\nimage: app\nenvironments:\n  production: {}\n")
        let result = try await SubprocessRunner().run(ProcessRequest("env", ["-u", "USER", "-u", "LOGNAME", "-u", "OPSCTL_ACTOR", Opsctl.binary, "handoff", "production", "--json"],
                                                                     workingDirectory: directory.path, environment: ["OPSCTL_CONFIG": ""]))
        #expect(result.succeeded, "\(result.standardErrorTail)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let expected = try #require(OpsContext.loginName(uid: getuid()), "the test user has a passwd entry")
        #expect(report["by"] as? String == expected)
        #expect(OpsContext(environment: [:]).actor == expected)
        #expect(OpsContext(environment: ["USER": ""]).actor == expected, "an empty $USER is no name")
        #expect(OpsContext(environment: ["USER": "alice", "OPSCTL_ACTOR": "deploy-bot"]).actor == "deploy-bot")
    }

    @Test func subSecondDurationsAreMilliseconds() throws {
        #expect(TextFormat.duration(milliseconds: 480) == "480 ms")
        #expect(TextFormat.duration(milliseconds: 1500) == "1.5 s")
        #expect(TextFormat.duration(milliseconds: 12_340) == "12.3 s")
        #expect(TextFormat.duration(milliseconds: 125_000) == "2m")
        var report = HandoffVerdictTests().report()
        report.deploys = [.init(id: 1, kind: .rollback, version: "1.0.0", status: .succeeded, at: Date(), durationSeconds: 0, durationMs: 480)]
        let markdown = try HandoffRenderer.render(report, format: .markdown, templateOverride: nil)
        #expect(markdown.contains("succeeded, by ?, took 480 ms"), "\(markdown)")
    }
}
