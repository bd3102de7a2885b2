// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// Releases only the proxy tests deploy, in the deploy tests' image repository: 1.1.0 answers
/// 500 on GET /api/items while /health stays green, 1.1.1 takes a second there, 1.2.0 twenty
/// seconds (a long upload or report), 1.3.0 answers 500 to one request in a hundred.
enum CanaryImages {
    static let releases: [(version: String, behaviour: String, seconds: String)] = [
        ("1.1.0", "broken-path", "1"), ("1.1.1", "slow-responses", "1"), ("1.2.0", "slow-responses", "20"), ("1.3.0", "some-errors", "1"),
    ]
    static let built = Task<Void, any Error> {
        for release in releases {
            try await setUp("env", ["IMAGE=\(DeployImages.repository)", repositoryRoot + "/Tests/Fixtures/sample-app/build.sh", release.version, release.behaviour, release.seconds])
        }
    }
}

/// The blue/green set-up (real nginx, two slots, the deploy fixture's repository and images)
/// with `strategy: canary`: nginx writes the documented log line to canary.log.
final class CanaryFixture {
    let base: DeployFixture
    let nginx: NginxServer
    let slots: (blue: Int, green: Int)

    var directory: TemporaryDirectory { base.directory }
    var opsctl: Opsctl { base.opsctl }
    var app: String { base.app }
    var accessLog: String { nginx.directory + "/canary.log" }

    /// `withPaths`: the log line carries `$request_uri` too (the optional extra that names failing paths).
    init(canary: String = "{steps: [10, 50], pause: 3s, max_error_rate: 1%, min_requests: 10}", withPaths: Bool = false) async throws {
        base = try await DeployFixture()
        try await CanaryImages.built.value
        try await DeployImages.tag(CanaryImages.releases.map(\.version), in: base.directory.path)
        let ports = freeTestPorts(3)
        slots = (ports[1], ports[2])
        let directory = base.directory.path + "/nginx"
        let format = withPaths ? "'$upstream_addr $status $request_time $request_uri'" : "'$upstream_addr $status $request_time'"
        nginx = try await NginxServer(directory: directory, port: ports[0], upstreamName: base.app, firstUpstream: "127.0.0.1:\(ports[1])",
                                      httpExtra: "log_format opsctl_canary \(format);\n    access_log \(directory)/canary.log opsctl_canary;")
        let nginxArgv = nginx.argv([]).map { "\"\($0)\"" }.joined(separator: ", ")
        try base.directory.write("opsctl.yml", """
            app: \(app)
            image: \(DeployImages.repository)
            state: .opsctl/state.db
            environments:
              production:
                driver: docker
                strategy: canary
                proxy:
                  kind: nginx
                  upstream_file: nginx/upstream.conf
                  upstream_name: \(app)
                  check: [nginx, \(nginxArgv), -t]
                  reload: [nginx, \(nginxArgv), -s, reload]
                  url: \(nginx.url)
                  slots: {blue: "127.0.0.1:\(slots.blue)", green: "127.0.0.1:\(slots.green)"}
                  port_env: PORT
                  access_log: nginx/canary.log
                canary: \(canary)
                run:
                  network: host
                  env_file: .env.production
                  env: {API_TOKEN: "\(DeployFixture.apiToken)"}
                  stop_timeout: 5s
                health:
                  url: \(nginx.url)/health
                  json: {status: healthy}
                  timeout: 120s
                  interval: 250ms
                smoke:
                  base_url: \(nginx.url)
                  checks:
                    - {name: health, path: /health, expect: {json: {status: healthy}}}
                    - {name: security headers, path: /, expect: {headers: {X-Content-Type-Options: nosniff}}}
                keep_releases: 3
                metrics: {textfile_dir: metrics}
                handoff: {since: 1h}
            """)
    }

    /// What answers through the proxy now.
    func serving() -> String? {
        guard case .success(let response) = CurlHTTP.perform(HTTPRequest(url: nginx.url + "/health")),
              case .found(.string(let version)) = JSONPath.lookup("version", in: response.body) else { return nil }
        return version
    }

    func upstream() throws -> String { try String(contentsOfFile: nginx.upstreamFile, encoding: .utf8) }

    /// Users on the query the smoke checks do not make.
    func load(path: String = "/api/items") async throws -> LoadGenerator { try await LoadGenerator(url: nginx.url + path, directory: directory.path) }

    func running() async throws -> [String] {
        try await DockerClient(runner: SubprocessRunner()).containers(labels: ["opsctl.app": app]).filter(\.running).map { "\($0.version ?? "?")@\($0.slot ?? "-")" }.sorted()
    }

    /// Waits until the upstream file gives the canary a share (a step began).
    func stepStarted() async throws {
        try await base.eventually("a canary step to start") { (try? upstream())?.contains("weight=") == true }
    }
}

/// One request of the load generator's log.
struct LoadRequest {
    var start: Double
    var ok: Bool
    var version: String
    var ms = 0.0
    /// nil: no HTTP answer (refused, reset, timed out).
    var status: Int?
    /// The user that made it (`--clients`).
    var client: Int?
    var retryAfter = ""

    /// When the answer (or the failure) came, epoch seconds.
    var end: Double { start + ms / 1000 }

    static func read(_ path: String) throws -> [LoadRequest] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 5, let start = Double(fields[0]) else { return nil }
            return LoadRequest(start: start, ok: fields[2] == "1", version: fields[4], ms: Double(fields[1]) ?? 0, status: Int(fields[3]),
                               client: fields.count > 5 ? Int(fields[5]) : nil, retryAfter: fields.count > 6 ? fields[6] : "")
        }
    }
}

@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct CanaryTests {
    func steps(_ report: [String: Any]) throws -> [[String: Any]] {
        try #require((report["canary"] as? [String: Any])?["steps"] as? [[String: Any]])
    }

    /// The report's dates: ISO 8601 with fractional seconds.
    static func date(_ value: Any?) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return (value as? String).flatMap(formatter.date(from:))
    }

    func figures(_ step: [String: Any], _ release: String) -> (requests: Int, errors: Int) {
        let figures = step[release] as? [String: Any] ?? [:]
        return (figures["requests"] as? Int ?? -1, figures["errors"] as? Int ?? -1)
    }

    @Test func aGoodCanaryGoesThroughEveryStepWithoutAFailedRequest() async throws {
        let fixture = try await CanaryFixture()
        let opsctl = fixture.opsctl
        let first = try await opsctl.run("deploy", "production", "1.0.0", "--json")
        #expect(first.exitCode == 0, "\(first.stdout)\(first.stderr)")
        #expect((try first.json()["warnings"] as? [String])?.contains { $0.contains("no canary steps") } == true, "nothing to compare with on the first deploy")
        let load = try await fixture.load()

        let canary = try await opsctl.run("deploy", "production", "1.0.1", "--json")
        #expect(canary.exitCode == 0, "\(canary.stdout)\(canary.stderr)")
        let report = try canary.json()
        let watched = try steps(report)
        #expect(watched.map { $0["share"] as? Int } == [10, 50] && watched.allSatisfy { $0["verdict"] as? String == "passed" }, "\(watched)")
        for step in watched {
            #expect(figures(step, "new").requests > 0 && figures(step, "old").requests > 0, "both versions served during the step: \(step)")
            #expect(figures(step, "new").errors == 0 && figures(step, "old").errors == 0)
        }
        let firstStep = figures(watched[0], "new").requests, firstTotal = firstStep + figures(watched[0], "old").requests
        #expect(Double(firstStep) / Double(firstTotal) < 0.2, "about a tenth at 10 %: \(firstStep) of \(firstTotal)")
        #expect(canary.stderr.contains("canary step 1/2 10%") && canary.stderr.contains("canary step 2/2 50%"), "a line per step on stderr: \(canary.stderr)")
        #expect(fixture.serving() == "1.0.1")
        #expect(try fixture.upstream().contains("server 127.0.0.1:\(fixture.slots.blue);"), "100 % to the new release")

        let summary = try await load.finish()
        #expect(summary.failed == 0, "failed requests through the proxy: \(summary.failures)")
        #expect(Set(summary.versions.keys) == ["1.0.0", "1.0.1"], "\(summary.versions)")

        let rows = try fixture.base.rows()
        #expect(rows.map(\.status) == [.succeeded, .succeeded] && rows.allSatisfy { $0.strategy == "canary" })
        let recorded = try fixture.base.ledger.canarySteps(deploymentIds: [rows[0].id])[rows[0].id] ?? []
        #expect(recorded.map(\.verdict) == [.passed, .passed] && recorded.map(\.share) == [10, 50])
        let handoff = try await opsctl.run("handoff", "production", "--since", "1h")
        #expect(handoff.stdout.contains("canary: 10% passed"), "\(handoff.stdout)")
        let metrics = try fixture.directory.read("metrics/opsctl_production.prom")
        #expect(metrics.contains("opsctl_canary_last_withdrawn{env=\"production\"} 0") && metrics.contains("opsctl_canary_last_share_percent{env=\"production\"} 50"))
        #expect(metrics.contains("opsctl_canary_last_requests{env=\"production\",release=\"new\"}"))
        try await setUp("sh", ["-c", "promtool check metrics < \"$1\"", "sh", fixture.directory.path + "/metrics/opsctl_production.prom"])
        try fixture.base.assertNoSecrets([canary.stdout, canary.stderr, handoff.stdout])
    }

    @Test func aBadCanaryIsWithdrawnDuringItsFirstStep() async throws {
        let fixture = try await CanaryFixture(withPaths: true)
        let opsctl = fixture.opsctl
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let load = try await fixture.load()
        let bad = try await opsctl.run("deploy", "production", "1.1.0", "--json")
        let ended = Date().timeIntervalSince1970
        #expect(bad.exitCode == 3, "\(bad.stdout)\(bad.stderr)")
        try await load.waitForRequests(20, after: ended)
        let summary = try await load.finish()

        let report = try bad.json()
        let watched = try steps(report)
        #expect(watched.count == 1 && watched[0]["share"] as? Int == 10 && watched[0]["verdict"] as? String == "failed", "\(watched)")
        let canary = try #require(report["canary"] as? [String: Any])
        #expect(canary["outcome"] as? String == "withdrawn")
        let reason = try #require(report["reason"] as? String)
        #expect(reason.contains("step 1 (10%): 5xx") && reason.contains("top failing paths: /api/items"), "\(reason)")
        #expect(fixture.serving() == "1.0.0")
        // 1.0.0 went to green (the first upstream named blue), the canary to blue.
        #expect(try fixture.upstream().contains("server 127.0.0.1:\(fixture.slots.blue) down;"), "weight 0 for the canary")
        #expect(try await fixture.running() == ["1.0.0@green"], "the canary was stopped")

        // Users met the bad release only through its share of the first step.
        let requests = try LoadRequest.read(load.requestLog)
        let failed = requests.filter { !$0.ok }
        #expect(!failed.isEmpty && failed.allSatisfy { $0.version == "1.1.0" }, "only the canary failed: \(summary.failures)")
        let stepStart = try #require(Self.date(watched[0]["started_at"])).timeIntervalSince1970
        let withdrawn = try #require(Self.date(canary["withdrawn_at"])).timeIntervalSince1970
        let exposed = requests.filter { $0.start >= stepStart - 1 && $0.start <= withdrawn }
        #expect(Double(failed.count) <= 0.1 * Double(exposed.count) + 2, "\(failed.count) failed of \(exposed.count) requests while the step ran")
        let afterwards = requests.filter { $0.start > ended }
        #expect(afterwards.count >= 20 && afterwards.allSatisfy { $0.ok && $0.version == "1.0.0" }, "after the withdrawal every request reaches the old release")

        let row = try #require(try fixture.base.rows().first)
        #expect(row.status == .rolledBack && row.reason == reason)
        let recorded = try fixture.base.ledger.canarySteps(deploymentIds: [row.id])[row.id] ?? []
        #expect(recorded.first?.verdict == .failed && recorded.first?.failingPaths.first?.path == "/api/items")
        let metrics = try fixture.directory.read("metrics/opsctl_production.prom")
        #expect(metrics.contains("opsctl_canary_last_withdrawn{env=\"production\"} 1"))
    }

    @Test func aSlowCanaryIsWithdrawnByTheLatencyGate() async throws {
        let fixture = try await CanaryFixture(canary: "{steps: [10, 50], pause: 5s, max_error_rate: 1%, max_p99_ms: 500, min_requests: 10}")
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let load = try await fixture.load()
        // On a terminal (script(1) gives it one), the step's line refreshes in place while it is watched.
        let terminal = try await SubprocessRunner().run(ProcessRequest(
            "script", ["-qec", "'\(Opsctl.binary)' deploy production 1.1.1", "/dev/null"], workingDirectory: fixture.directory.path,
            environment: ["OPSCTL_CONFIG": "", "NO_COLOR": "1", "TERM": "xterm"], timeout: .seconds(120)))
        let summary = try await load.finish()
        #expect(terminal.termination == .exited(3), "\(terminal.standardOutput)")
        #expect(terminal.standardOutput.contains("\r\u{1B}[2Kcanary step 1/2 10%"), "a refreshed line: \(terminal.standardOutput.debugDescription)")
        let row = try #require(try fixture.base.rows().first)
        let step = try #require(try fixture.base.ledger.canarySteps(deploymentIds: [row.id])[row.id]?.first)
        #expect(step.verdict == .failed && step.reason?.contains("> max_p99_ms 500") == true, "\(step)")
        #expect(summary.failed == 0, "slow, not failing: \(summary.failures)")
        #expect(fixture.serving() == "1.0.0")
    }

    @Test func theLogIsFollowedAcrossARotationDuringAStep() async throws {
        // A step far longer than the test needs, so the rotation always happens during it.
        let fixture = try await CanaryFixture(canary: "{steps: [10], pause: 120s, max_error_rate: 1%, min_requests: 10}")
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        // Users on /health only: the bad release answers it well, so the first file sees no 5xx.
        let healthLoad = try await fixture.load(path: "/health")
        let deploy = try await fixture.base.background(["deploy", "production", "1.1.0", "--json"], name: "rotated")
        try await fixture.stepStarted()
        try FileManager.default.moveItem(atPath: fixture.accessLog, toPath: fixture.accessLog + ".1")
        try await setUp("nginx", fixture.nginx.argv(["-s", "reopen"]))
        try await fixture.base.eventually("nginx to reopen its log") { FileManager.default.fileExists(atPath: fixture.accessLog) }
        // Now the query that fails on the canary: only the new file can show it.
        let itemsLoad = try await fixture.load()
        let code = try await deploy.finished()
        _ = try await healthLoad.finish()
        _ = try await itemsLoad.finish()
        let output = try fixture.directory.read("rotated.out")
        #expect(code == 3, "\(output)")
        let report = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
        let canary = try #require(report["canary"] as? [String: Any])
        #expect(canary["rotations"] as? Int ?? 0 >= 1, "\(canary)")
        let step = try #require(try steps(report).first)
        #expect(step["verdict"] as? String == "failed" && figures(step, "new").errors > 0, "\(step)")
        #expect(step["watched_ms"] as? Int ?? 999_999 < 120_000, "withdrawn during the step, not at its end")
    }

    @Test func sigtermDuringAStepWithdrawsTheCanary() async throws {
        // The step lasts far longer than the test needs, so the signal always lands in it.
        let fixture = try await CanaryFixture(canary: "{steps: [10, 50], pause: 120s, max_error_rate: 1%, min_requests: 10}")
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let load = try await fixture.load()
        let deploy = try await fixture.base.background(["deploy", "production", "1.0.1"], name: "term")
        try await fixture.stepStarted()
        // Users reach both releases before the signal.
        try await load.waitForRequests(20, after: Date().timeIntervalSince1970)
        kill(deploy.pid, SIGTERM)
        let code = try await deploy.finished()
        let summary = try await load.finish()
        let output = (try? fixture.directory.read("term.out")) ?? ""
        #expect(code == 3, "\(output)")
        #expect(output.contains("INTERRUPTED") && output.contains("canary withdrawn: 1.0.0 takes all traffic again"), "\(output)")
        #expect(try fixture.base.rows().first?.status == .interrupted)
        #expect(try fixture.upstream().contains("server 127.0.0.1:\(fixture.slots.blue) down;"))
        #expect(try await fixture.running() == ["1.0.0@green"])
        #expect(fixture.serving() == "1.0.0")
        #expect(summary.failed == 0, "\(summary.failures)")
    }

    @Test func aStickyStepKeepsEveryCookieHolderOnOneRelease() async throws {
        // A step far longer than the test: it ends when the test sends SIGTERM.
        let fixture = try await CanaryFixture(canary: "{steps: [30], pause: 600s, max_error_rate: 1%, min_requests: 10, sticky: cookie}")
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let deploy = try await fixture.base.background(["deploy", "production", "1.0.1", "--json"], name: "sticky")
        try await fixture.base.eventually("the sticky step") { (try? fixture.upstream())?.contains("# opsctl-front: sticky 30") == true }
        try await fixture.base.eventually("the front to hand out the cookie") {
            guard case .success(let response) = CurlHTTP.perform(HTTPRequest(url: fixture.nginx.url + "/health")) else { return false }
            return response.header("Set-Cookie")?.hasPrefix("opsctl_release=") == true
        }
        // Workers from before the step's reload route by the old file: users start once they are gone.
        try await fixture.base.eventually("nginx's old workers to finish") {
            NginxWorkers.running().filter { $0.value == fixture.nginx.pid }.keys.allSatisfy { !(NginxWorkers.title(of: $0) ?? "").contains("shutting down") }
        }
        let load = try await LoadGenerator(url: fixture.nginx.url + "/health", directory: fixture.directory.path, extra: ["--clients", "100", "--max-requests", "30000"])
        let started = Date().timeIntervalSince1970
        try await load.waitForRequests(800, after: started)
        let cut = Date().timeIntervalSince1970
        kill(deploy.pid, SIGTERM)
        #expect(try await deploy.finished() == 3, "withdrawn by the signal")
        let summary = try await load.finish()
        #expect(summary.failed == 0, "\(summary.failures)")

        // Every answer that came before the signal was routed by the sticky step.
        let requests = try LoadRequest.read(load.requestLog).filter { $0.end < cut && $0.ok }
        var seen: [Int: Set<String>] = [:]
        for request in requests { if let client = request.client { seen[client, default: []].insert(request.version) } }
        let judged = seen.filter { _ in true }.filter { client, _ in requests.filter { $0.client == client }.count >= 2 }
        let oneRelease = judged.values.filter { $0.count == 1 }.count
        #expect(judged.count >= 90 && Double(oneRelease) >= 0.99 * Double(judged.count), "\(oneRelease) of \(judged.count) users stayed on one release")
        let onNew = judged.values.filter { $0 == ["1.0.1"] }.count
        #expect(onNew >= 10 && onNew <= 55, "a share of the users, about 30 %: \(onNew) of \(judged.count)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture.directory.file("sticky.out")))) as? [String: Any]
        let canary = try #require(report?["canary"] as? [String: Any])
        #expect(canary["sticky"] as? String == "cookie" && canary["cookie"] as? String == "opsctl_release")
        #expect(try fixture.upstream().contains("server 127.0.0.1:\(fixture.slots.blue) down;") && fixture.serving() == "1.0.0")
    }

    @Test func aReleaseWorseThanTheOldOneFailsTheRelativeRuleUnderTheAbsoluteOne() async throws {
        let fixture = try await CanaryFixture(canary: "{steps: [50], pause: 20s, max_error_rate: 5%, max_error_rate_increase: 0.5, min_requests: 100}")
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let load = try await fixture.load()
        // 1.3.0 answers 500 to one request in a hundred: 1 % against 0 %.
        let deploy = try await fixture.opsctl.run("deploy", "production", "1.3.0", "--json")
        _ = try await load.finish()
        #expect(deploy.exitCode == 3, "\(deploy.stdout)\(deploy.stderr)")
        let step = try #require(try steps(try deploy.json()).first)
        let reason = step["reason"] as? String ?? ""
        #expect(step["verdict"] as? String == "failed" && reason.contains("on the old release") && reason.contains("> max_error_rate_increase 0.50"), "\(reason)")
        #expect(!reason.contains("> max_error_rate 5%"), "the absolute limit passed")
        let comparison = try #require(step["comparison"] as? [String: Any])
        #expect(comparison["applied"] as? Bool == true && comparison["error_rate_old"] as? Double == 0, "\(comparison)")
        let newRate = comparison["error_rate_new"] as? Double ?? 0
        #expect(newRate > 0.5 && newRate < 5, "about 1 %: \(newRate)")
        #expect(figures(step, "new").errors > 0 && figures(step, "old").errors == 0)
        #expect(fixture.serving() == "1.0.0")
    }

    @Test func refusedBeforeAnythingStarts() async throws {
        let fixture = try await CanaryFixture()
        let opsctl = fixture.opsctl
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let log = fixture.accessLog
        try FileManager.default.moveItem(atPath: log, toPath: log + ".kept")
        let missing = try await opsctl.run("deploy", "production", "1.0.1")
        #expect(missing.exitCode == 78 && missing.stderr.contains("proxy.access_log \(log) cannot be read"), "\(missing.stderr)")
        try "127.0.0.1 - - [25/Nov/2025:10:00:00 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"curl/7.88.1\"\n".write(toFile: log, atomically: true, encoding: .utf8)
        let wrongFormat = try await opsctl.run("deploy", "production", "1.0.1")
        #expect(wrongFormat.exitCode == 78 && wrongFormat.stderr.contains("not in the opsctl_canary format; found: 127.0.0.1 - - [25/Nov/2025"), "\(wrongFormat.stderr)")
        #expect(wrongFormat.stderr.contains(AccessLogLine.format))
        let preflight = try await opsctl.run("preflight", "production")
        #expect(preflight.stdout.contains("FAIL  proxy.access_log"), "\(preflight.stdout)")
        let config = try fixture.directory.read("opsctl.yml")
        try fixture.directory.write("opsctl.yml", config.replacingOccurrences(of: "steps: [10, 50]", with: "steps: [50, 10]"))
        let decreasing = try await opsctl.run("deploy", "production", "1.0.1")
        #expect(decreasing.exitCode == 78 && decreasing.stderr.contains("steps must increase: 10 comes after 50"), "\(decreasing.stderr)")
        #expect(try await fixture.running() == ["1.0.0@green"], "nothing started")
        #expect(try fixture.base.rows().count == 1)
    }
}
