// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// An incident from open to postmortem with the real binary, a live sample-app container, a real
/// database and a real webhook receiver.
@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct IncidentEndToEndTests {
    static func config(webhook: String) -> String {
        """
            database: {path: data/app.db}
            handoff:
              webhook: \(webhook)
        """
    }

    @Test func fromOpenToPostmortem() async throws {
        let receiver = try TestHTTPServer()
        let fixture = try await DeployFixture(extra: Self.config(webhook: receiver.url("/webhook")))
        let opsctl = fixture.opsctl
        let path = fixture.directory.path
        try FileManager.default.createDirectory(atPath: path + "/data", withIntermediateDirectories: true)
        try await setUp("sqlite3", [path + "/data/app.db", "CREATE TABLE orders(id INTEGER PRIMARY KEY); INSERT INTO orders DEFAULT VALUES;"])
        #expect(try await opsctl.run("deploy", "production", "1.0.1").exitCode == 0)
        #expect(try await opsctl.run("status", "production").exitCode == 0, "before the incident: on no timeline")
        // The app logs every request's path: these carry both secrets into its log.
        for secret in [DeployFixture.apiToken, DeployFixture.jwtSecret] {
            _ = CurlHTTP.perform(HTTPRequest(url: "http://127.0.0.1:\(fixture.port)/\(secret)"))
        }

        let open = try await opsctl.run("incident", "open", "production", "checkout returns 502", "--severity", "critical", "--json")
        #expect(open.exitCode == 0, "\(open.stdout)\(open.stderr)")
        let opened = try open.json()
        #expect(opened["id"] as? Int == 1)
        let bundle = try #require(opened["bundle"] as? [String: Any])
        let outcomes = Self.outcomes(bundle)
        #expect(outcomes == ["logs": "ok", "stats": "ok", "inspect": "ok", "health": "ok", "smoke": "ok", "ledger": "ok", "disk": "ok",
                             "database": "ok", "replication": "not_configured"], "\(open.stdout)")
        let file = try #require(bundle["file"] as? String)
        #expect(file.hasPrefix(path + "/.opsctl/incidents/1/bundle-") && file.hasSuffix(".tar.gz"))

        // What the bundle holds, extracted by tar.
        let files = try await Self.extract(file)
        let logs = try #require(files.first { $0.key.hasSuffix("/logs/\(fixture.container("1.0.1")).log") }?.value, "\(files.keys.sorted())")
        #expect(logs.contains("GET /health 200") && logs.contains("GET /<redacted> 404"), "\(logs)")
        #expect(Self.file(files, "docker-stats.txt").contains(fixture.container("1.0.1")))
        let inspect = Self.file(files, "docker-inspect.json")
        for kept in ["API_TOKEN=<redacted>", "JWT_SECRET=<redacted>", "NODE_ENV=production", "PORT=\(fixture.port)"] { #expect(inspect.contains(kept), "\(kept)") }
        let health = try #require(try JSONSerialization.jsonObject(with: Data(Self.file(files, "health.json").utf8)) as? [String: Any])
        #expect(health["status"] as? Int == 200 && health["ok"] as? Bool == true && (health["body"] as? String)?.contains("healthy") == true)
        #expect(Self.file(files, "smoke.txt").contains("security headers"))
        #expect(Self.file(files, "database.txt").contains("quick_check: ok"))
        #expect(Self.file(files, "replication.txt") == "replication lag: not configured\n")
        #expect(Self.file(files, "index.txt").contains("incident #1 on \(fixture.app) / production (critical): checkout returns 502"))
        for (name, text) in files {
            #expect(!text.contains(DeployFixture.apiToken) && !text.contains(DeployFixture.jwtSecret), "a secret in \(name)")
            #expect(!text.contains(receiver.url("/webhook")), "the webhook URL in \(name)")
        }
        #expect(try fixture.directory.read("metrics/opsctl_production.prom").contains("opsctl_incidents_open{env=\"production\",severity=\"critical\"} 1"))
        #expect(try Self.posts(receiver).map { $0.hasPrefix("*Incident #1 opened* on \(fixture.app) / production (critical): checkout returns 502") } == [true])

        // While it is open: a failed deploy, a note, the handoff, another bundle, the deploy that mitigates.
        #expect(try await opsctl.run("deploy", "production", "1.0.3").exitCode == 3)
        #expect(try await opsctl.run("incident", "note", "production", "1.0.3 crashes at start; API_TOKEN was \(DeployFixture.apiToken)").exitCode == 0)
        let handoff = try await opsctl.run("handoff", "production", "--json")
        let report = try handoff.json()
        #expect(report["verdict"] as? String == "Critical")
        #expect((report["findings"] as? [[String: Any]])?.first?["rule"] as? String == "incident.open", "\(handoff.stdout)")
        #expect(((report["incidents"] as? [String: Any])?["open"] as? [[String: Any]])?.map { $0["id"] as? Int } == [1])
        let again = try await opsctl.run("incident", "bundle", "production", "--json")
        #expect(again.exitCode == 0, "\(again.stderr)")
        #expect((try again.json()["bundle"] as? [String: Any])?["file"] as? String != file)
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)

        let close = try await opsctl.run("incident", "close", "production", "--summary", "1.0.3 crashed; 1.0.0 serves", "--json")
        #expect(close.exitCode == 0, "\(close.stdout)\(close.stderr)")
        let closed = try close.json()
        #expect((closed["time_to_mitigate"] as? [String: Any])?["what"] as? String == "deploy 1.0.0 (from 1.0.1): succeeded")
        #expect((closed["notice"] as? [String: Any])?["posted"] as? Bool == true)
        let posts = try Self.posts(receiver)
        #expect(posts.count == 2 && posts.last?.hasPrefix("*Incident #1 closed* on \(fixture.app) / production after ") == true, "\(posts)")
        #expect(posts.last?.contains("summary: 1.0.3 crashed; 1.0.0 serves") == true)
        #expect(try fixture.directory.read("metrics/opsctl_production.prom").contains("opsctl_incidents_open{env=\"production\",severity=\"critical\"} 0"))
        #expect(try await opsctl.run("status", "production").exitCode == 0, "after the close: on no timeline")

        // The postmortem: one timeline, in order, each entry with who and how it exited.
        let show = try await opsctl.run("incident", "show", "production", "1", "--format", "json")
        #expect(show.exitCode == 0, "\(show.stderr)")
        let timeline = try #require(try show.json()["timeline"] as? [[String: Any]])
        let kinds = timeline.compactMap { $0["kind"] as? String }
        let failed = try #require(timeline.firstIndex { $0["kind"] as? String == "auto_rollback" }, "\(kinds)")
        let note = try #require(timeline.firstIndex { $0["kind"] as? String == "note" }, "\(kinds)")
        #expect(failed < note, "\(kinds)")
        #expect(timeline[failed]["exit_code"] as? Int == 3 && timeline[failed]["actor"] as? String == "alice")
        #expect(timeline[failed]["command"] as? String == "opsctl deploy production 1.0.3")
        #expect(timeline[note]["text"] as? String == "1.0.3 crashes at start; API_TOKEN was <redacted>")
        #expect(kinds.first == "opened" && kinds.last == "notice" && kinds.contains("closed") && kinds.filter { $0 == "bundle" }.count == 2)
        let commands = timeline.filter { $0["kind"] as? String == "command" }.compactMap { $0["text"] as? String }
        #expect(commands == ["opsctl deploy production 1.0.3", "opsctl handoff production --json", "opsctl deploy production 1.0.0"], "\(commands)")
        let markdown = try await opsctl.run("incident", "show", "production", "1")
        #expect(markdown.stdout.hasPrefix("# Incident #1: checkout returns 502") && markdown.stdout.contains("| Time to mitigate | "), "\(markdown.stdout)")
        #expect(markdown.stdout.contains("**auto rollback** deploy 1.0.3 failed and was rolled back to 1.0.1"))
        #expect(try await opsctl.run("incident", "list", "production").stdout.contains("#1  critical  closed"))

        // The next handoff: closed in its window, with its duration, and no longer its verdict.
        let after = try await opsctl.run("handoff", "production", "--json")
        let incidents = try #require(try after.json()["incidents"] as? [String: Any])
        #expect((incidents["open"] as? [Any])?.isEmpty == true)
        let closedItem = try #require((incidents["closed_in_window"] as? [[String: Any]])?.first)
        #expect(closedItem["id"] as? Int == 1 && closedItem["duration_seconds"] is Int)
        #expect(!((try after.json()["findings"] as? [[String: Any]]) ?? []).contains { $0["rule"] as? String == "incident.open" })
        let bodies = String(decoding: try CurlHTTP.perform(HTTPRequest(url: receiver.url("/webhook/received"))).get().body, as: UTF8.self)
        try fixture.assertNoSecrets([open.stdout, open.stderr, again.stdout, close.stdout, show.stdout, markdown.stdout, handoff.stdout, bodies]
                                    + (try await Self.extract(try #require((try again.json()["bundle"] as? [String: Any])?["file"] as? String))).values)
    }

    static func outcomes(_ bundle: [String: Any]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (bundle["parts"] as? [[String: Any]] ?? []).compactMap { part in
            (part["name"] as? String).map { ($0, part["outcome"] as? String ?? "?") }
        })
    }

    /// Every file of a bundle by its path inside, as `tar -xzf` writes them.
    static func extract(_ bundle: String) async throws -> [String: String] {
        let directory = TemporaryDirectory("opsctl-bundle")
        try await setUp("tar", ["-xzf", bundle, "-C", directory.path])
        var files: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        while let name = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory.file(name), isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            files[name] = try directory.read(name)
        }
        return files
    }

    static func file(_ files: [String: String], _ name: String) -> String {
        files.first { $0.key.hasSuffix("/" + name) }?.value ?? ""
    }

    /// The text of each notice the webhook received, in order.
    static func posts(_ receiver: TestHTTPServer) throws -> [String] {
        let received = try CurlHTTP.perform(HTTPRequest(url: receiver.url("/webhook/received"))).get()
        let posts = try #require(try JSONSerialization.jsonObject(with: received.body) as? [[String: Any]])
        return posts.compactMap { post in
            (post["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }?["text"] as? String
        }
    }
}

/// A unix socket that takes connections into its backlog and never answers: a Docker daemon
/// that hangs.
final class SilentSocket {
    let path: String
    let descriptor: Int32

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0 && listen(descriptor, 128) == 0, "cannot listen on \(path): \(String(cString: strerror(errno)))")
    }

    deinit {
        close(descriptor)
        unlink(path)
    }
}

/// A dead or hanging Docker daemon and a hanging health endpoint: the bundle is still written,
/// and each part that could not be collected says so.
struct IncidentBadDependencyTests {
    func setUp() throws -> (TemporaryDirectory, TestHTTPServer) {
        let directory = TemporaryDirectory("opsctl-incident-dead")
        let receiver = try TestHTTPServer()
        try directory.write("opsctl.yml", """
            app: shop
            image: shop
            state: .opsctl/state.db
            environments:
              production:
                health: {url: "\(receiver.url("/hang"))"}
                smoke:
                  base_url: \(receiver.url(""))
                  checks: [{name: hangs, path: /hang}]
            """)
        return (directory, receiver)
    }

    func manifestOutcomes(_ run: Opsctl.Run) async throws -> [String: String] {
        let bundle = try #require(try run.json()["bundle"] as? [String: Any], "\(run.stdout)\(run.stderr)")
        let files = try await IncidentEndToEndTests.extract(try #require(bundle["file"] as? String))
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(IncidentEndToEndTests.file(files, "manifest.json").utf8)) as? [String: Any])
        let fromManifest = IncidentEndToEndTests.outcomes(manifest)
        #expect(fromManifest == IncidentEndToEndTests.outcomes(bundle), "the report says what the bundle's manifest says")
        return fromManifest
    }

    @Test func aDaemonNobodyListensForFailsItsParts() async throws {
        let (directory, _) = try setUp()
        let opsctl = Opsctl(directory: directory.path, environment: ["DOCKER_HOST": "unix://\(directory.path)/no-docker.sock"])
        let run = try await opsctl.run("incident", "open", "production", "site down", "--json")
        #expect(run.exitCode == 0, "\(run.stdout)\(run.stderr)")
        let outcomes = try await manifestOutcomes(run)
        #expect(outcomes["logs"] == "failed" && outcomes["stats"] == "failed" && outcomes["inspect"] == "failed", "\(outcomes)")
        #expect(outcomes["health"] == "failed", "the endpoint never answers: \(outcomes)")
        #expect(outcomes["ledger"] == "ok" && outcomes["disk"] == "ok" && outcomes["database"] == "not_configured")
        let parts = try #require((try run.json()["bundle"] as? [String: Any])?["parts"] as? [[String: Any]])
        #expect((parts.first { $0["name"] as? String == "stats" }?["error"] as? String)?.contains("the Docker daemon is not reachable") == true)
    }

    @Test func aDaemonThatNeverAnswersTimesOutItsParts() async throws {
        let (directory, _) = try setUp()
        let silent = try SilentSocket(path: directory.file("hang.sock"))
        let opsctl = Opsctl(directory: directory.path, environment: ["DOCKER_HOST": "unix://\(silent.path)"])
        let run = try await opsctl.run("incident", "open", "production", "site down", "--json")
        #expect(run.exitCode == 0, "\(run.stdout)\(run.stderr)")
        let outcomes = try await manifestOutcomes(run)
        #expect(outcomes["logs"] == "timed_out" && outcomes["stats"] == "timed_out" && outcomes["inspect"] == "timed_out", "\(outcomes)")
        #expect(outcomes["ledger"] == "ok" && outcomes["disk"] == "ok")
        let another = try await opsctl.run("incident", "bundle", "production", "--json")
        #expect(try await manifestOutcomes(another)["stats"] == "timed_out")
    }
}

/// Every way to get an incident command wrong: a distinct exit code and a message naming it.
struct IncidentBadInputTests {
    @Test func noneOpenUnknownIdsAndBadArguments() async throws {
        let directory = TemporaryDirectory("opsctl-incident-input")
        try directory.write("opsctl.yml", "app: shop\nimage: shop\nstate: .opsctl/state.db\nenvironments:\n  production: {}\n")
        let opsctl = Opsctl(directory: directory.path, environment: ["DOCKER_HOST": "unix://\(directory.path)/no-docker.sock"])

        let closeNone = try await opsctl.run("incident", "close", "production", "--summary", "x")
        #expect(closeNone.exitCode == 8 && closeNone.stderr.contains("no incident is open in production"), "\(closeNone.stderr)")
        let closeJSON = try await opsctl.run("incident", "close", "production", "--summary", "x", "--json")
        #expect(closeJSON.exitCode == 8)
        #expect((try closeJSON.json()["error"] as? [String: Any])?["code"] as? String == "incident.none_open")
        #expect(try await opsctl.run("incident", "note", "production", "x").exitCode == 8)
        #expect(try await opsctl.run("incident", "bundle", "production").exitCode == 8)
        #expect(try await opsctl.run("incident", "show", "production", "7").exitCode == 8)

        let severity = try await opsctl.run("incident", "open", "production", "x", "--severity", "urgent", "--json")
        #expect(severity.exitCode == 64)
        #expect((try severity.json()["error"] as? [String: Any])?["code"] as? String == "usage.invalid")
        #expect(try await opsctl.run("incident", "open", "staging", "x").exitCode == 64, "unknown environment")
        #expect(try await opsctl.run("incident", "open", "production", "  ").exitCode == 64, "empty title")
        #expect(try await opsctl.run("incident", "close", "production").exitCode == 64, "--summary is required")
        #expect(try await opsctl.run("incident", "show", "production", "one").exitCode == 64)

        #expect(try await opsctl.run("incident", "open", "production", "x", "--severity", "minor").exitCode == 0)
        let unknown = try await opsctl.run("incident", "close", "production", "5", "--summary", "x")
        #expect(unknown.exitCode == 8 && unknown.stderr.contains("no incident #5 in production"))
        #expect(try await opsctl.run("incident", "close", "production", "1", "--summary", "x").exitCode == 0)
        let twice = try await opsctl.run("incident", "close", "production", "1", "--summary", "x", "--json")
        #expect(twice.exitCode == 8)
        #expect((try twice.json()["error"] as? [String: Any])?["code"] as? String == "incident.not_open")
        #expect(!FileManager.default.fileExists(atPath: directory.file(".opsctl/incidents/open-production")))
    }
}

/// The handoff's verdict while incidents are open, over reports built in code.
struct IncidentVerdictTests {
    func item(_ severity: IncidentSeverity) -> HandoffReport.Incidents.Item {
        .init(id: 3, title: "checkout down", severity: severity, openedAt: Date(timeIntervalSince1970: 0), durationSeconds: 60)
    }

    @Test func aCriticalOpenIncidentDecidesTheVerdict() {
        func decide(_ edit: @escaping (inout HandoffReport) -> Void) -> (HandoffReport.Level, [String]) {
            let (level, findings) = HandoffService.verdict(HandoffVerdictTests().report(edit), thresholds: HandoffThresholds())
            return (level, findings.map(\.rule))
        }
        #expect(decide { $0.incidents = .init(open: [self.item(.critical)], closedInWindow: []) } == (.critical, ["incident.open"]))
        #expect(decide { $0.incidents = .init(open: [self.item(.major)], closedInWindow: []) } == (.warning, ["incident.open"]))
        #expect(decide { $0.incidents = .init(open: [self.item(.minor)], closedInWindow: []) } == (.warning, ["incident.open"]))
        #expect(decide { $0.incidents = .init(open: [], closedInWindow: [self.item(.critical)]) } == (.healthy, []))
        let both = decide { $0.incidents = .init(open: [self.item(.critical)], closedInWindow: []); $0.health?.ok = false }
        #expect(both == (.critical, ["incident.open", "health.failing"]), "the incident is named first")
    }

    @Test func theMarkdownListsOpenAndClosedIncidents() throws {
        var report = HandoffVerdictTests().report()
        var closed = item(.major)
        closed.closedAt = Date(timeIntervalSince1970: 60)
        closed.summary = "rolled back"
        report.incidents = .init(open: [item(.critical)], closedInWindow: [closed])
        let markdown = try HandoffRenderer.render(report, format: .markdown, templateOverride: nil)
        #expect(markdown.contains("## Incidents\n\n- OPEN #3 (critical) checkout down: open 1m so far"), "\(markdown)")
        #expect(markdown.contains("- closed #3 (major) checkout down: lasted 1m"))
        #expect(markdown.contains(": rolled back"))
        report.incidents = .init(open: [], closedInWindow: [])
        #expect(!(try HandoffRenderer.render(report, format: .markdown, templateOverride: nil)).contains("## Incidents"))
        #expect(try HandoffRenderer.render(report, format: .html, templateOverride: nil).contains("<!DOCTYPE html>"))
    }
}
