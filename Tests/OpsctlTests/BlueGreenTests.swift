// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// Tests/Fixtures/load/load.py through the proxy: ~100 requests/s, each on a fresh connection.
final class LoadGenerator {
    struct Summary: Decodable {
        var requests: Int
        var failed: Int
        var failures: [String: Int]
        var versions: [String: Int]
    }

    let process = Process()
    let output: String
    /// One CSV line per request (start epoch seconds, ms, ok, status, version), sorted, once it stopped.
    var requestLog: String { output + ".csv" }
    /// The same lines as the requests end, while it runs.
    var liveLog: String { output + ".live.csv" }

    /// A request counts as failed when it is refused, reset or answered other than 200; the
    /// per-request timeout is far above any answer a loaded machine gives, so slowness alone never fails one.
    /// `extra`: load.py's own options (`--open` arrivals, `--clients N`, `--max-requests N`).
    init(url: String, directory: String, rate: Int = 100, extra: [String] = []) async throws {
        output = directory + "/load-\(UUID().uuidString.prefix(6)).json"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot + "/Tests/Fixtures/load/load.py", url, "--rate", String(rate), "--out", output,
                             "--log", requestLog, "--live", liveLog, "--timeout", "60"] + extra
        try process.run()
        // Users arrive before anything changes: wait for their first answers, not for a guess of time.
        try await waitForRequests(10, after: 0)
    }

    /// Waits until `count` requests that started after `moment` (epoch seconds) have ended.
    func waitForRequests(_ count: Int, after moment: Double, limit: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, process.isRunning {
            let requests = (try? LoadRequest.read(liveLog)) ?? []
            if requests.filter({ $0.start > moment }).count >= count { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw OpsError(.software, code: "test.load", "the load generator did not make \(count) requests after \(moment) within \(limit)")
    }

    func finish() async throws -> Summary {
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(120)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            throw OpsError(.software, code: "test.load", "the load generator did not stop on SIGTERM")
        }
        return try JSONDecoder().decode(Summary.self, from: Data(contentsOf: URL(fileURLWithPath: output)))
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// A blue/green environment: the deploy fixture's repository and images, Debian's nginx in
/// front, two slots, and the config from the issue's contract.
final class BlueGreenFixture {
    let base: DeployFixture
    let nginx: NginxServer
    let slots: (blue: Int, green: Int)

    var directory: TemporaryDirectory { base.directory }
    var opsctl: Opsctl { base.opsctl }
    var app: String { base.app }

    /// `holdingReloads`: each reload returns only once the test removes `holdReloadsFile` (while
    /// it exists), so a signal can be sent after the switch for sure, however slow the machine.
    /// `proxyExtra` and `extra`: more keys for the proxy: section and the environment.
    init(standby: String = "5m", holdingReloads: Bool = false, proxyExtra: String = "", extra: String = "") async throws {
        base = try await DeployFixture()
        let ports = freeTestPorts(3)
        slots = (ports[1], ports[2])
        nginx = try await NginxServer(directory: base.directory.path + "/nginx", port: ports[0], upstreamName: base.app,
                                      firstUpstream: "127.0.0.1:\(ports[1])")
        let nginxArgv = nginx.argv([]).map { "\"\($0)\"" }.joined(separator: ", ")
        let reload = holdingReloads ? "[sh, -c, 'nginx \"$@\" -s reload && while [ -e \(holdReloadsFile) ]; do sleep 0.05; done', sh, \(nginxArgv)]"
                                    : "[nginx, \(nginxArgv), -s, reload]"
        try base.directory.write("opsctl.yml", """
            app: \(app)
            image: \(DeployImages.repository)
            state: .opsctl/state.db
            environments:
              production:
                driver: docker
                strategy: blue-green
                proxy:
                  kind: nginx
                  upstream_file: nginx/upstream.conf
                  upstream_name: \(app)
                  check: [nginx, \(nginxArgv), -t]
                  reload: \(reload)
                  url: \(nginx.url)
                  slots: {blue: "127.0.0.1:\(slots.blue)", green: "127.0.0.1:\(slots.green)"}
                  port_env: PORT
                  standby: \(standby)
                  confirm_timeout: 60s
                  \(proxyExtra)
                run:
                  network: host
                  env_file: .env.production
                  env: {API_TOKEN: "\(DeployFixture.apiToken)"}
                  stop_timeout: 5s
                health:
                  url: \(nginx.url)/health
                  json: {status: healthy}
                  timeout: ${HEALTH_TIMEOUT:-120s}
                  interval: 250ms
                smoke:
                  base_url: \(nginx.url)
                  checks:
                    - {name: health, path: /health, expect: {json: {status: healthy}}}
                    - {name: security headers, path: /, expect: {headers: {X-Content-Type-Options: nosniff}}}
                keep_releases: 3
                metrics: {textfile_dir: metrics}
                \(extra)
            """)
    }

    /// What answers through the proxy now.
    func serving() -> String? {
        guard case .success(let response) = CurlHTTP.perform(HTTPRequest(url: nginx.url + "/health")),
              case .found(.string(let version)) = JSONPath.lookup("version", in: response.body) else { return nil }
        return version
    }

    /// Every release container: (version, slot, running).
    func containers() async throws -> [(version: String, slot: String?, running: Bool)] {
        try await DockerClient(runner: SubprocessRunner()).containers(labels: ["opsctl.app": app]).map { ($0.version ?? "?", $0.slot, $0.running) }
    }

    func running() async throws -> [String] {
        try await containers().filter(\.running).map { "\($0.version)@\($0.slot ?? "-")" }.sorted()
    }

    func upstream() throws -> String { try String(contentsOfFile: nginx.upstreamFile, encoding: .utf8) }

    func load() async throws -> LoadGenerator { try await LoadGenerator(url: nginx.url + "/health", directory: directory.path) }

    /// Users arriving on time whatever the answers do (a held request does not hold the next
    /// one back), ~100/s, each on a fresh connection, at most 30 000 of them.
    /// Users arriving ~100/s on fresh connections whatever the answers do, at most 8 of them
    /// waiting at once: past that the next one arrives when one leaves. The sample app (busybox
    /// httpd) forks for each request and listens with a backlog of 9: it keeps up with 100/s on a
    /// quiet machine, but under a whole parallel suite more connections than that queue at its
    /// port, the kernel drops their SYNs, and a few retries later a request has waited a minute
    /// for the app's accept queue, not for anything opsctl did. Eight (and opsctl's own probe)
    /// always fit in it.
    func arrivals(path: String = "/health") async throws -> LoadGenerator {
        try await LoadGenerator(url: nginx.url + path, directory: directory.path, extra: ["--open", "--max-inflight", "8", "--max-requests", "30000"])
    }

    var holdReloadsFile: String { base.directory.file("hold-reloads") }

    /// opsctl with a short health timeout, for a release that must fail by waiting it out.
    var failingFast: Opsctl {
        var opsctl = opsctl
        opsctl.environment["HEALTH_TIMEOUT"] = "3s"
        return opsctl
    }
}

@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct BlueGreenTests {
    @Test func noRequestFailsAcrossDeploysBrokenReleasesAndRollbacks() async throws {
        let fixture = try await BlueGreenFixture()
        let opsctl = fixture.opsctl
        let first = try await opsctl.run("deploy", "production", "1.0.0")
        #expect(first.exitCode == 0, "\(first.stdout)\(first.stderr)")
        #expect(fixture.serving() == "1.0.0")
        let logStart = fixture.nginx.accessLog().count
        let load = try await fixture.load()

        let good = try await opsctl.run("deploy", "production", "1.0.1", "--json")
        #expect(good.exitCode == 0, "\(good.stdout)\(good.stderr)")
        let goodReport = try good.json()
        #expect(goodReport["switched"] as? Bool == true && (goodReport["standby"] as? [String: Any])?["version"] as? String == "1.0.0")
        #expect(fixture.serving() == "1.0.1")

        let unhealthy = try await fixture.failingFast.run("deploy", "production", "1.0.2")
        #expect(unhealthy.exitCode == 3, "\(unhealthy.stdout)\(unhealthy.stderr)")
        #expect(unhealthy.stdout.contains("nothing was switched, no user request reached 1.0.2"))
        let crash = try await opsctl.run("deploy", "production", "1.0.3", "--json")
        #expect(crash.exitCode == 3)
        #expect((try crash.json()["reason"] as? String)?.hasPrefix("container \(app(fixture, "1.0.3"))") == true)
        #expect(fixture.serving() == "1.0.1")

        // 1.0.0 was on standby until the 1.0.2 deploy stopped it: the rollback starts it again.
        let toStopped = try await opsctl.run("rollback", "production", "--to", "1.0.0", "--json")
        #expect(toStopped.exitCode == 0, "\(toStopped.stdout)\(toStopped.stderr)")
        #expect(try stepNames(toStopped).contains { $0.hasPrefix("start 1.0.0 on") })
        #expect(fixture.serving() == "1.0.0")

        // 1.0.1 waits on standby now: switching back is the upstream file and a reload.
        let toStandby = try await opsctl.run("rollback", "production", "--to", "1.0.1", "--json")
        #expect(toStandby.exitCode == 0, "\(toStandby.stdout)\(toStandby.stderr)")
        let standbyReport = try toStandby.json()
        let names = try stepNames(toStandby)
        #expect(names.contains("probe standby") && !names.contains { $0.hasPrefix("start") }, "\(names)")
        // How fast that is, is scripts/bench/bluegreen.sh's to measure; here: nothing was started.
        #expect(standbyReport["outcome"] as? String == "succeeded")
        #expect(fixture.serving() == "1.0.1")

        let summary = try await load.finish()
        #expect(summary.requests > 300, "the load ran throughout: \(summary.requests) requests")
        #expect(summary.failed == 0, "failed requests through the proxy: \(summary.failures)")
        #expect(Set(summary.versions.keys).isSubset(of: ["1.0.0", "1.0.1"]), "the broken releases never answered a user: \(summary.versions)")
        // Users' requests (the load generator's); opsctl's own probes may give up under load (499).
        let upstreams = fixture.nginx.accessLog().dropFirst(logStart).filter { $0.contains(" /health") && $0.hasSuffix("\"opsctl-load\"") }
        #expect(!upstreams.isEmpty && !upstreams.contains { !$0.contains(" 200 ") }, "nginx logged an error: \(upstreams.filter { !$0.contains(" 200 ") }.prefix(3))")

        let status = try await opsctl.run("status", "production")
        #expect(status.stdout.contains("live slot:") && status.stdout.contains("standby:         1.0.0 on"), "\(status.stdout)")
        #expect(!status.stdout.contains("DRIFT"), "the standby running beside the live release is no drift: \(status.stdout)")
        // An incident's bundle reads both slots: the live release and the one on standby.
        let incident = try await opsctl.run("incident", "open", "production", "errors after the switch", "--json")
        #expect(incident.exitCode == 0, "\(incident.stdout)\(incident.stderr)")
        let bundle = try #require(try incident.json()["bundle"] as? [String: Any])
        let bundled = try await IncidentEndToEndTests.extract(try #require(bundle["file"] as? String))
        let slotLogs = bundled.keys.filter { $0.contains("/logs/") }.map { String($0.split(separator: "/").last!) }.sorted()
        #expect(slotLogs.count == 2 && slotLogs[0].hasPrefix(app(fixture, "1.0.0") + "-") && slotLogs[1].hasPrefix(app(fixture, "1.0.1") + "-"), "\(slotLogs)")
        #expect(Set(slotLogs.map { $0.hasSuffix("-blue.log") ? "blue" : $0.hasSuffix("-green.log") ? "green" : "?" }) == ["blue", "green"], "\(slotLogs)")
        #expect(try await opsctl.run("incident", "close", "production", "--summary", "nothing wrong").exitCode == 0)
        let history = try await opsctl.run("history", "production")
        #expect(history.stdout.contains("SLOT"))
        let handoff = try await opsctl.run("handoff", "production", "--since", "1h")
        #expect(handoff.stdout.contains("- live slot: ") && handoff.stdout.contains("- standby: 1.0.0 on"), "\(handoff.stdout)")
        #expect(handoff.stdout.contains("**1.0.2** on "), "the slot of each deploy")
        let rows = try fixture.base.rows()
        #expect(rows.allSatisfy { $0.slot != nil && $0.strategy == "blue-green" })
        #expect(rows.map(\.status) == [.succeeded, .succeeded, .rolledBack, .rolledBack, .succeeded, .succeeded])
        let metrics = try fixture.directory.read("metrics/opsctl_production.prom")
        #expect(metrics.contains("opsctl_live_slot_info{env=\"production\",slot="))
        #expect(!metrics.contains("opsctl_standby_expiry_timestamp_seconds{env=\"production\"} 0\n"), "1.0.0 is on standby")
        try await setUp("sh", ["-c", "promtool check metrics < \"$1\"", "sh", fixture.directory.path + "/metrics/opsctl_production.prom"])
        try fixture.base.assertNoSecrets([good.stdout, unhealthy.stdout, crash.stdout, toStopped.stdout, toStandby.stdout, status.stdout] + bundled.values)
    }

    @Test func aFailingNginxCheckLeavesTheUpstreamFileAndTheTrafficAlone() async throws {
        let fixture = try await BlueGreenFixture()
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let before = try fixture.upstream()
        try fixture.nginx.config(extra: "bogus_directive on;").write(toFile: fixture.nginx.directory + "/nginx.conf", atomically: true, encoding: .utf8)
        let deploy = try await fixture.opsctl.run("deploy", "production", "1.0.1")
        #expect(deploy.exitCode == 3, "\(deploy.stdout)\(deploy.stderr)")
        #expect(deploy.stdout.contains("nginx: [emerg] unknown directive \"bogus_directive\""), "nginx's own message: \(deploy.stdout)")
        #expect(try fixture.upstream() == before)
        #expect(fixture.serving() == "1.0.0")
        #expect(try await fixture.running() == ["1.0.0@green"], "the new release is stopped again")
        let preflight = try await fixture.opsctl.run("preflight", "production")
        #expect(preflight.stdout.contains("proxy.check") && preflight.stdout.contains("unknown directive"))
    }

    @Test func signalsBeforeTheSwitchChangeNothingAfterItTheSwitchIsFinished() async throws {
        let fixture = try await BlueGreenFixture(holdingReloads: true)
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let load = try await fixture.load()
        let before = try fixture.upstream()

        // 1.0.2 never becomes healthy: the signal lands in its health-wait, before any switch.
        let unhealthy = try await fixture.base.background(["deploy", "production", "1.0.2"], name: "before")
        try await fixture.base.eventually("1.0.2 to start on the idle slot") { try await fixture.running().contains { $0.hasPrefix("1.0.2@") } }
        kill(unhealthy.pid, SIGTERM)
        #expect(try await unhealthy.finished() == 3)
        #expect(try fixture.upstream() == before)
        #expect(try await fixture.running() == ["1.0.0@green"])
        #expect(try fixture.base.rows().first?.status == .interrupted)

        // The reload of the switch waits for the test: the signal lands after the switch began.
        _ = FileManager.default.createFile(atPath: fixture.holdReloadsFile, contents: nil)
        let switching = try await fixture.base.background(["deploy", "production", "1.0.1"], name: "after")
        try await fixture.base.eventually("the upstream file to change") { try fixture.upstream() != before }
        kill(switching.pid, SIGTERM)
        try FileManager.default.removeItem(atPath: fixture.holdReloadsFile)
        let code = try await switching.finished()
        let output = (try? fixture.directory.read("after.out")) ?? ""
        #expect(code == 0, "\(output)")
        #expect(output.contains("after the switch: the switch was finished and confirmed"), "\(output)")
        #expect(fixture.serving() == "1.0.1")
        #expect(try fixture.base.rows().first?.status == .succeeded)

        let summary = try await load.finish()
        #expect(summary.failed == 0, "\(summary.failures)")
        #expect(Set(summary.versions.keys).isSubset(of: ["1.0.0", "1.0.1"]), "\(summary.versions)")
    }

    @Test func refusedBeforeAnythingStartsAndTheStandbyExpires() async throws {
        let fixture = try await BlueGreenFixture(standby: "2s")
        let opsctl = fixture.opsctl
        let plan = try await opsctl.run("deploy", "production", "1.0.0", "--dry-run")
        #expect(plan.exitCode == 0)
        #expect(plan.stdout.contains("--env PORT=\(fixture.slots.green)") && plan.stdout.contains("server 127.0.0.1:\(fixture.slots.green);"), "\(plan.stdout)")
        #expect(plan.stdout.contains("nginx -p \(fixture.nginx.directory)") && plan.stdout.contains("-s reload"))

        // The idle slot's port held by something that is not ours.
        let squatter = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(fixture.slots.green).bigEndian)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(squatter, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(squatter, 1)
        let taken = try await opsctl.run("deploy", "production", "1.0.0")
        close(squatter)
        #expect(taken.exitCode == 78 && taken.stderr.contains("green slot 127.0.0.1:\(fixture.slots.green) is taken by something that is not a release"), "\(taken.stderr)")
        let config = try fixture.directory.read("opsctl.yml")
        try fixture.directory.write("opsctl.yml", config.replacingOccurrences(of: "upstream_file: nginx/upstream.conf", with: "upstream_file: nginx/missing/upstream.conf"))
        let missing = try await opsctl.run("deploy", "production", "1.0.0")
        #expect(missing.exitCode == 78 && missing.stderr.contains("its directory \(fixture.nginx.directory)/missing does not exist"), "\(missing.stderr)")
        let preflight = try await opsctl.run("preflight", "production")
        #expect(preflight.stdout.contains("FAIL  proxy.upstream_file"), "\(preflight.stdout)")
        try fixture.directory.write("opsctl.yml", config)
        #expect(try await fixture.containers().isEmpty, "nothing started")
        #expect(try fixture.base.rows().isEmpty)

        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        #expect(try await opsctl.run("deploy", "production", "1.0.1").exitCode == 0)
        #expect(try await fixture.running().count == 2, "1.0.0 on standby")
        try await Task.sleep(for: .milliseconds(2200))
        let status = try await opsctl.run("status", "production")
        #expect(status.stdout.contains("time was up") && status.stdout.contains("stopped now"), "\(status.stdout)")
        #expect(try await fixture.running().count == 1)
        #expect(try await fixture.containers().contains { $0.version == "1.0.0" && !$0.running }, "kept, stopped, for a later rollback")
        #expect(try fixture.directory.read("metrics/opsctl_production.prom").contains("opsctl_standby_expiry_timestamp_seconds{env=\"production\"} 0\n"))
    }

    @Test func aLongRequestInFlightAtTheSwitchCompletesWithUntilIdle() async throws {
        let fixture = try await BlueGreenFixture(standby: "0s", proxyExtra: "drain: until-idle\n      drain_timeout: 120s")
        try await CanaryImages.built.value
        try await DeployImages.tag(["1.2.0"], in: fixture.directory.path)
        #expect(try await fixture.opsctl.run("deploy", "production", "1.2.0").exitCode == 0)
        let green = "127.0.0.1:\(fixture.slots.green)"
        // An upload or a report: 1.2.0 takes 20 s to answer GET /api/items.
        let url = fixture.nginx.url + "/api/items"
        // On a thread of its own: a blocking call must not take one of the few the tasks share.
        let long = Task { () -> Result<HTTPResponse, HTTPFailure> in
            await withCheckedContinuation { continuation in
                Thread {
                    var request = HTTPRequest(url: url)
                    request.timeout = .seconds(120)
                    continuation.resume(returning: CurlHTTP.perform(request))
                }.start()
            }
        }
        try await fixture.base.eventually("the long request to reach 1.2.0") { KernelSlotActivity().activity(at: [green], oldWorkers: [:]).connections > 0 }
        let deploy = try await fixture.opsctl.run("deploy", "production", "1.0.1", "--json")
        #expect(deploy.exitCode == 0, "\(deploy.stdout)\(deploy.stderr)")
        guard case .success(let response) = await long.value else { Issue.record("the long request failed: \(await long.value)"); return }
        #expect(response.status == 200 && String(decoding: response.body, as: UTF8.self).contains("1.2.0"), "it completed on the old release")
        let report = try deploy.json()
        let drains = try #require(report["drains"] as? [[String: Any]])
        #expect(drains.count == 1 && drains[0]["ending"] as? String == "idle", "\(drains)")
        #expect(try stepNames(deploy).contains("stop 1.2.0"))
        #expect(try await fixture.running() == ["1.0.1@blue"], "stopped once idle, not before")
    }

    func stepNames(_ run: Opsctl.Run) throws -> [String] {
        try #require(try run.json()["steps"] as? [[String: Any]]).compactMap { $0["name"] as? String }
    }

    func app(_ fixture: BlueGreenFixture, _ version: String) -> String { "\(fixture.app)-production-\(version)" }
}
