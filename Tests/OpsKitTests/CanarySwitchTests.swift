// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

struct CanaryConfigTests {
    let directory = TemporaryDirectory("opsctl-canary-config")

    func yaml(canary: String? = "{steps: [10, 50], pause: 60s, max_error_rate: 1%}", accessLog: String? = "/var/log/nginx/opsctl-canary.log",
              strategy: String = "canary", proxy: Bool = true) -> String {
        let proxyText = """
            {kind: nginx, upstream_file: up.conf, upstream_name: dashboard, url: "http://127.0.0.1:80",
                   slots: {blue: "127.0.0.1:3001", green: "127.0.0.1:3002"}, port_env: PORT\(accessLog.map { ", access_log: \($0)" } ?? "")}
            """
        return """
            app: dashboard
            image: dashboard
            environments:
              production:
                strategy: \(strategy)
                run: {network: host}
                \(proxy ? "proxy: \(proxyText)" : "")
                \(canary.map { "canary: \($0)" } ?? "")
                health: {url: "http://127.0.0.1:3000/health"}
            """
    }

    func parse(_ text: String) throws(OpsError) -> EnvironmentConfig {
        try ConfigLoader.parse(text, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: [:])
            .environment(named: "production")
    }

    func message(_ text: String) -> String {
        opsError { () throws(OpsError) in _ = try parse(text) }?.message ?? "(no error)"
    }

    @Test func theContractKeysParse() throws {
        let environment = try parse(yaml(canary: "{steps: [10, 50], pause: 60s, max_error_rate: 1%, max_p99_ms: 800, min_requests: 20}"))
        #expect(environment.strategy == .canary && environment.proxy?.accessLog == "/var/log/nginx/opsctl-canary.log")
        let canary = try #require(environment.canary)
        #expect(canary.steps == [10, 50] && canary.pause == .seconds(60) && canary.maxErrorRate == 0.01 && canary.maxP99Ms == 800 && canary.minRequests == 20)
        #expect(try parse(yaml(canary: "{max_error_rate: 0.5%}")).canary?.maxErrorRate == 0.005)
        #expect(try parse(yaml(canary: "{steps: [\"5%\", 25%, 75]}")).canary?.steps == [5, 25, 75])
        let defaults = try #require(try parse(yaml(canary: nil)).canary)
        #expect(defaults == CanarySettings() && defaults.steps == [10, 50] && defaults.minRequests == 20 && defaults.maxP99Ms == nil)
        #expect(try parse(yaml(accessLog: "logs/canary.log")).proxy?.accessLog == directory.path + "/logs/canary.log")
    }

    @Test func stickinessAndTheRelativeLimitsParse() throws {
        let canary = try #require(try parse(yaml(canary: "{sticky: cookie, cookie: who_1, max_error_rate_increase: 0.5, max_p99_increase: 1.5}")).canary)
        #expect(canary.sticky == .cookie && canary.cookie == "who_1" && canary.maxErrorRateIncrease == 0.5 && canary.maxP99Increase == 1.5)
        let defaults = try #require(try parse(yaml(canary: "{}")).canary)
        #expect(defaults.sticky == CanarySticky.none && defaults.cookie == "opsctl_release" && defaults.maxErrorRateIncrease == nil && defaults.maxP99Increase == nil,
                "off unless set: a canary judged as before")
        #expect(message(yaml(canary: "{sticky: ip}")).contains("canary.sticky: \"ip\" is not one of none, cookie"))
        #expect(message(yaml(canary: "{cookie: my-release}")).contains("canary.cookie: \"my-release\" is not a cookie name nginx can read"))
        #expect(message(yaml(canary: "{max_error_rate_increase: 0.5%}")).contains("canary.max_error_rate_increase: \"0.5%\" is not a number in 0–100: percentage points"))
        #expect(message(yaml(canary: "{max_error_rate_increase: -1}")).contains("is not a number in 0–100"))
        #expect(message(yaml(canary: "{max_p99_increase: 0.9}")).contains("canary.max_p99_increase: \"0.9\" is not a number in 1–1000: a ratio"))
        #expect(message(yaml(canary: "{sticky: cookie}", accessLog: "/var/log/$host.log")).contains("nginx would read the $"))
    }

    @Test func refusedWhenTheConfigLoads() {
        #expect(message(yaml(canary: "{steps: [50, 10]}")).contains("production.canary.steps[1]: steps must increase: 10 comes after 50"))
        #expect(message(yaml(canary: "{steps: [10, 10]}")).contains("steps must increase"))
        #expect(message(yaml(canary: "{steps: [0, 50]}")).contains("canary.steps[0]: 0 is outside 1–99"))
        #expect(message(yaml(canary: "{steps: [10, 100]}")).contains("100 is outside 1–99"))
        #expect(message(yaml(canary: "{steps: []}")).contains("needs at least one step"))
        #expect(message(yaml(canary: "{steps: [ten]}")).contains("is not a whole percentage"))
        #expect(message(yaml(canary: "{max_error_rate: 1}")).contains("canary.max_error_rate: \"1\" needs a percent sign"))
        #expect(message(yaml(canary: "{max_error_rate: 120%}")).contains("between 0% and 100%"))
        #expect(message(yaml(canary: "{pause: 0s}")).contains("canary.pause: must be greater than 0"))
        #expect(message(yaml(canary: "{min_requests: 0}")).contains("canary.min_requests: 0 is out of range"))
        #expect(message(yaml(canary: "{max_p99ms: 800}")).contains("did you mean \"max_p99_ms\""))
        #expect(message(yaml(proxy: false)).contains("strategy canary needs a proxy: section"))
        #expect(message(yaml(accessLog: nil)).contains("production.proxy.access_log: strategy canary judges the new release from nginx's access log"))
        #expect(message(yaml(accessLog: nil, strategy: "blue-green")) == "(no error)", "blue/green does not read the log")
    }
}

/// Users behind the fake nginx while virtual time passes: `rate` requests a second, spread over
/// the upstream file's servers by their weights with nginx's smooth weighted round robin,
/// answered by whatever release runs at each address, one access log line each.
final class FakeTraffic: @unchecked Sendable {
    /// The fixture's clock holds the traffic, so it lives as long as the fixture.
    unowned let fixture: SwitchFixture
    var rate: Double
    /// `$request_uri` after the documented fields (the log format's optional extra).
    var withPath = true
    /// Lines nginx's default format would write instead.
    var combinedFormat = false
    private let lock = NSLock()
    private var carry = 0.0
    private var current: [String: Int] = [:]
    private(set) var answered: [String] = []
    var onRequest: (@Sendable (Int) -> Void)?

    init(_ fixture: SwitchFixture, rate: Double) {
        self.fixture = fixture
        self.rate = rate
        fixture.clock.onSleep = { duration in self.flow(duration) }
    }

    var logPath: String { fixture.directory.file("access.log") }

    func flow(_ duration: Duration) {
        let lines: [String] = lock.withLock {
            carry += rate * Double(duration.milliseconds) / 1000
            let count = Int(carry)
            carry -= Double(count)
            guard let upstream = fixture.upstream.flatMap({ Upstream.parse($0, name: "unit") }) else { return [] }
            return (0..<count).compactMap { _ in request(upstream) }
        }
        guard !lines.isEmpty, let handle = FileHandle(forWritingAtPath: logPath) else { return }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(lines.map { $0 + "\n" }.joined().utf8))
        try? handle.close()
        onRequest?(answered.count)
    }

    /// One request: the server nginx picks, and the next one when nothing answers there.
    private func request(_ upstream: Upstream) -> String? {
        let servers = upstream.servers.filter(\.receivesTraffic)
        guard !servers.isEmpty else { return nil }
        let total = servers.reduce(0) { $0 + ($1.weight ?? 1) }
        for server in servers { current[server.address, default: 0] += server.weight ?? 1 }
        let picked = servers.max { current[$0.address]! < current[$1.address]! }!
        current[picked.address]! -= total
        var tried = [picked.address]
        var release = running(at: picked.address)
        if release == nil, let other = servers.first(where: { $0.address != picked.address && running(at: $0.address) != nil }) {
            tried.append(other.address)
            release = running(at: other.address)
        }
        guard let release else { return "\(tried.joined(separator: ", ")) 502 0.001" }
        answered.append(release)
        let behaviour = fixture.runtime.behaviour(of: release)
        let status = behaviour == .brokenPath ? 500 : 200
        let seconds = behaviour == .slowResponses ? "0.800" : "0.005"
        if combinedFormat { return "127.0.0.1 - - [25/Nov/2025:10:00:00 +0000] \"GET /api/items HTTP/1.1\" \(status) 42 \"-\" \"load\"" }
        return "\(tried.joined(separator: ", ")) \(status) \(seconds)" + (withPath ? " /api/items?page=2" : "")
    }

    private func running(at address: String) -> String? {
        let slot = address.hasSuffix(":\(fixture.ports.blue)") ? "blue" : address.hasSuffix(":\(fixture.ports.green)") ? "green" : nil
        return fixture.runtime.releases().first { $0.slot == slot && $0.running }?.version
    }

    var versions: [String: Int] { lock.withLock { answered.reduce(into: [:]) { $0[$1, default: 0] += 1 } } }
}

@Suite(.serialized)
struct CanarySwitchTests {
    /// 1.0.0 live on blue behind the fake nginx, an empty access log, users at `rate` requests/s.
    func fixture(_ canary: String = "{steps: [10, 50], pause: 2s, max_error_rate: 1%, min_requests: 10}", rate: Double = 100) throws -> (SwitchFixture, FakeTraffic) {
        let fixture = try SwitchFixture(strategy: "canary", canary: canary)
        fixture.runtime.place("1.0.0", slot: "blue")
        try fixture.route(to: "blue")
        try fixture.directory.write("access.log", "")
        return (fixture, FakeTraffic(fixture, rate: rate))
    }

    var reloads: (SwitchFixture) -> Int { { $0.commands.filter { $0 == "nginx-reload" }.count } }

    @Test func aGoodCanaryGoesThroughEveryStepToAllTheTraffic() async throws {
        let (fixture, traffic) = try fixture()
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .succeeded, "\(report.renderText())")
        let canary = try #require(report.canary)
        #expect(canary.outcome == .promoted && canary.steps.map(\.share) == [10, 50] && canary.steps.allSatisfy { $0.verdict == .passed })
        #expect(fixture.commands == ["fake start 1.0.1 green"] + Array(repeating: ["nginx-check", "nginx-reload"], count: 3).flatMap { $0 })
        #expect(fixture.upstream == Upstream.routing("unit", to: "127.0.0.1:\(fixture.ports.green)").render(), "100 % at the end")
        // Smooth weighted round robin: exactly 1 in 10, then 1 in 2, of the step's requests.
        let first = canary.steps[0], second = canary.steps[1]
        #expect(first.new.requests * 10 == first.old.requests + first.new.requests, "\(first)")
        #expect(abs(second.new.requests - second.old.requests) <= 1, "\(second)")
        #expect(first.watchedMs >= 2000 && first.watchedMs < 2200)
        #expect(try fixture.ledger.standby(env: "production")?.version == "1.0.0", "the old release on standby, as blue/green")
        let steps = try fixture.ledger.canarySteps(deploymentIds: [try #require(report.ledgerId)])
        #expect(steps.values.first?.map(\.verdict) == [.passed, .passed])
        #expect(steps.values.first?.first?.new.requests == first.new.requests)
        #expect(Set(traffic.versions.keys) == ["1.0.0", "1.0.1"])
        #expect(report.renderText().contains("step 1/2 10%  requests old/new \(first.old.requests)/\(first.new.requests)  5xx 0/0 (0.0%/0.0%)  p99 5/5 ms  passed"), "\(report.renderText())")
    }

    @Test func aBrokenCanaryIsWithdrawnAtItsFirstFailures() async throws {
        let (fixture, traffic) = try fixture()
        fixture.runtime.behave("1.0.2", .brokenPath)
        let report = try await fixture.carryOut("1.0.2")
        #expect(report.outcome == .rolledBack && report.exitCode == 3, "\(report.renderText())")
        let step = try #require(report.canary?.steps.first)
        #expect(report.canary?.outcome == .withdrawn && report.canary?.steps.count == 1 && step.verdict == .failed)
        #expect(step.new.errors >= 1 && step.watchedMs <= 200, "withdrawn at the first poll that saw a 5xx: \(step)")
        #expect(step.failingPaths == [PathCount(path: "/api/items", count: step.new.errors)])
        #expect(fixture.upstream?.contains("server 127.0.0.1:\(fixture.ports.green) down;") == true, "weight 0 for the canary: \(fixture.upstream ?? "")")
        #expect(!fixture.runtime.isRunning("1.0.2", slot: "green") && fixture.runtime.isRunning("1.0.0", slot: "blue"))
        let reason = try #require(report.reason)
        #expect(reason.contains("step 1 (10%): 5xx \(step.new.errors) of \(step.new.requests)") && reason.contains("top failing paths: /api/items"), "\(reason)")
        #expect(report.renderText().contains("canary withdrawn: 1.0.0 takes all traffic again (exit 3)"), "\(report.renderText())")
        let row = try #require(try fixture.ledger.deployments(env: "production", limit: 1).first)
        #expect(row.status == .rolledBack && row.strategy == "canary" && row.reason == reason)
        // After the withdrawal every request reaches the old release.
        let before = traffic.versions["1.0.2"] ?? 0
        traffic.flow(.seconds(2))
        #expect(traffic.versions["1.0.2"] ?? 0 == before)
    }

    @Test func aSlowCanaryIsWithdrawnByTheLatencyGate() async throws {
        let (fixture, _) = try fixture("{steps: [10, 50], pause: 2s, max_error_rate: 1%, max_p99_ms: 300, min_requests: 10}")
        fixture.runtime.behave("1.0.4", .slowResponses)
        let report = try await fixture.carryOut("1.0.4")
        #expect(report.outcome == .rolledBack, "\(report.renderText())")
        #expect(report.canary?.steps.first?.reason?.hasPrefix("p99 800 ms > max_p99_ms 300") == true, "\(report.canary?.steps.first?.reason ?? "")")
    }

    @Test func fewRequestsExtendTheStepThenItIsJudgedOnWhatItSaw() async throws {
        let (fixture, _) = try fixture("{steps: [10], pause: 2s, max_error_rate: 1%, min_requests: 20}", rate: 10)
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .succeeded, "\(report.renderText())")
        let step = try #require(report.canary?.steps.first)
        #expect(step.extended && step.watchedMs >= 6000 && step.new.requests < 20, "\(step)")
        #expect(step.reason?.contains("fewer than min_requests 20") == true)
    }

    @Test func noRequestAtAllIsNothingToJudgeOn() async throws {
        let (fixture, _) = try fixture("{steps: [10], pause: 1s}", rate: 0)
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .rolledBack, "\(report.renderText())")
        #expect(report.reason?.contains("no request reached 1.0.1 in 3s") == true, "\(report.reason ?? "")")
    }

    @Test func aSignalDuringAStepWithdrawsTheCanary() async throws {
        let (fixture, traffic) = try fixture()
        let interruption = fixture.interruption
        traffic.onRequest = { answered in if answered > 150 { interruption.trigger(SIGTERM) } }
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .interrupted && report.exitCode == 3, "\(report.renderText())")
        #expect(report.canary?.steps.last?.verdict == .interrupted)
        #expect(report.reason?.hasPrefix("interrupted by SIGTERM during step") == true, "\(report.reason ?? "")")
        #expect(fixture.upstream?.contains("down;") == true && !fixture.runtime.isRunning("1.0.1", slot: "green"))
        #expect(try fixture.ledger.deployments(env: "production", limit: 1).first?.status == .interrupted)
    }

    @Test func linesInAnotherFormatWithdrawTheCanary() async throws {
        let (fixture, traffic) = try fixture()
        traffic.combinedFormat = true
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .rolledBack)
        #expect(report.reason?.contains("are not in the opsctl_canary format") == true, "\(report.reason ?? "")")
    }

    @Test func theAccessLogIsCheckedBeforeAnythingStarts() async throws {
        let (fixture, _) = try fixture()
        try fixture.directory.write("access.log", "127.0.0.1 - - [25/Nov/2025:10:00:00 +0000] \"GET / HTTP/1.1\" 200 612\n")
        let error = try await #require(throws: OpsError.self) { try await fixture.carryOut("1.0.1") }
        #expect(error.code == "proxy.access_log" && error.exitCode == 78 && error.message.contains("found: 127.0.0.1 - -"))
        try FileManager.default.removeItem(atPath: fixture.directory.file("access.log"))
        let missing = try await #require(throws: OpsError.self) { try await fixture.carryOut("1.0.1") }
        #expect(missing.message.contains("cannot be read"))
        #expect(fixture.commands.isEmpty, "nothing started")
        #expect(try fixture.ledger.deployments(env: "production", limit: 5).isEmpty)
    }

    @Test func nginxRefusingTheFirstStepChangesNothingForUsers() async throws {
        let (fixture, traffic) = try fixture()
        let before = fixture.upstream
        fixture.checkFails = true
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .rolledBack && fixture.upstream == before && !fixture.commands.contains("nginx-reload"))
        #expect(report.reason?.contains("nothing was switched, no user request reached 1.0.1") == true, "\(report.reason ?? "")")
        #expect(traffic.versions["1.0.1"] == nil)
    }

    @Test func aShareLeftByAKilledRunIsTakenBackBeforeItsSlotIsCleared() async throws {
        let (fixture, _) = try fixture()
        fixture.runtime.place("0.9.0", slot: "green")
        let halfway = CanaryUpstream.step("unit", old: [.init(address: "127.0.0.1:\(fixture.ports.blue)")], new: "127.0.0.1:\(fixture.ports.green)", share: 50)
        try halfway.render().write(toFile: fixture.upstreamPath, atomically: true, encoding: .utf8)
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .succeeded, "\(report.renderText())")
        #expect(Array(fixture.commands.prefix(4)) == ["nginx-check", "nginx-reload", "fake stop 0.9.0 green", "fake start 1.0.1 green"])
    }

    /// Where a canary can fail, and what makes it fail there.
    enum FailurePath: String, CaseIterable, Sendable {
        case unhealthyOnItsSlot, nginxRefusesTheFirstStep, withdrawnDuringAStep, leftoverShareNginxWillNotTakeBack
    }

    /// `--no-rollback` keeps the failed release for inspection wherever the canary fails: it is
    /// never stopped, and the report says rollback is off.
    @Test(arguments: FailurePath.allCases)
    func noRollbackHoldsOnEveryCanaryPath(_ path: FailurePath) async throws {
        let (fixture, _) = try fixture()
        switch path {
        case .unhealthyOnItsSlot: fixture.runtime.behave("1.0.2", .unhealthy)
        case .nginxRefusesTheFirstStep: fixture.checkFails = true
        case .withdrawnDuringAStep: fixture.runtime.behave("1.0.2", .brokenPath)
        case .leftoverShareNginxWillNotTakeBack:
            let halfway = CanaryUpstream.step("unit", old: [.init(address: "127.0.0.1:\(fixture.ports.blue)")], new: "127.0.0.1:\(fixture.ports.green)", share: 50)
            try halfway.render().write(toFile: fixture.upstreamPath, atomically: true, encoding: .utf8)
            fixture.checkFails = true
        }
        var options = DeployOptions()
        options.noRollback = true
        let report = try await fixture.carryOut("1.0.2", options: options)
        #expect(report.outcome != .succeeded, "\(report.renderText())")
        #expect(!fixture.commands.contains("fake stop 1.0.2 green"), "\(path): \(fixture.commands)")
        let said = ([report.reason ?? ""] + report.warnings).joined(separator: " | ")
        #expect(said.contains("rollback is off"), "\(path): \(said)")
        if path != .leftoverShareNginxWillNotTakeBack {
            #expect(fixture.runtime.isRunning("1.0.2", slot: "green"), "\(path): the failed release stays for inspection")
        }
        #expect(fixture.runtime.isRunning("1.0.0", slot: "blue"))
    }

    @Test func theDryRunShowsEveryStepsFileAndTheWithdrawal() async throws {
        let (fixture, _) = try fixture()
        let service = try fixture.service()
        var options = DeployOptions()
        options.dryRun = true
        let (_, releaseSwitch, _) = try service.parts()
        var plan = fixture.plan(.deploy, "1.0.1", live: try await releaseSwitch.liveRelease())
        plan.options = options
        let report = try await service.carryOut(plan)
        let text = report.plan.joined(separator: "\n")
        #expect(text.contains("server 127.0.0.1:\(fixture.ports.blue) weight=90;") && text.contains("server 127.0.0.1:\(fixture.ports.green) weight=10;"), "\(text)")
        #expect(text.contains("weight=50;") && text.contains("server 127.0.0.1:\(fixture.ports.green) down;"))
        #expect(text.contains("watch \(fixture.directory.path)/access.log for 2s (up to 6s while 1.0.1 has fewer than 10 requests)"), "\(text)")
        #expect(fixture.commands.isEmpty)
    }

    @Test func aRollbackGoesStraightBackAsBlueGreenDoes() async throws {
        let (fixture, _) = try fixture()
        #expect(try await fixture.carryOut("1.0.1").outcome == .succeeded)
        let before = fixture.commands.count
        let back = try await fixture.carryOut(.rollback, "1.0.0")
        #expect(back.outcome == .succeeded && back.canary == nil)
        #expect(Array(fixture.commands.dropFirst(before)) == ["nginx-check", "nginx-reload"], "the standby, switched to at once")
    }
}

struct CanaryRelativeLimitTests {
    func sample(requests: Int, errors: Int, latency: Double = 5) -> ReleaseSample {
        var sample = ReleaseSample()
        for index in 0..<requests {
            sample.answered(AccessLogLine(upstreams: ["x"], status: index < errors ? 500 : 200, requestMs: latency))
        }
        return sample
    }

    @Test func worseThanTheOldReleaseFailsEvenUnderTheAbsoluteLimits() {
        var settings = CanarySettings()
        settings.maxErrorRate = 0.05
        settings.maxErrorRateIncrease = 0.5
        settings.minRequests = 100
        let judge = CanaryJudge(settings: settings)
        let old = sample(requests: 400, errors: 0), new = sample(requests: 400, errors: 4)
        #expect(judge.breach(new, final: false) == nil, "1 % is under max_error_rate 5 %")
        let reason = judge.regression(old: old, new: new)
        #expect(reason == "5xx 1.0% (4 of 400) against 0.0% (0 of 400) on the old release: +1.00 points > max_error_rate_increase 0.50", "\(reason ?? "")")
        #expect(judge.regression(old: sample(requests: 400, errors: 2), new: new) == nil, "0.5 points over is within 0.5")
        #expect(judge.regression(old: sample(requests: 99, errors: 0), new: new) == nil, "no baseline below min_requests")
        let comparison = CanaryComparison(old: sample(requests: 99, errors: 0).figures, new: new.figures, settings: settings)
        #expect(!comparison.applied && comparison.note?.contains("old release answered 99 request(s)") == true)
        #expect(CanaryComparison(old: old.figures, new: new.figures, settings: settings).errorRateIncreasePoints == 1.0)
    }

    @Test func aSlowerP99FailsByTheRatioAboveNginxsResolution() {
        var settings = CanarySettings()
        settings.maxP99Increase = 1.5
        settings.minRequests = 10
        let judge = CanaryJudge(settings: settings)
        #expect(judge.regression(old: sample(requests: 50, errors: 0, latency: 40), new: sample(requests: 50, errors: 0, latency: 100))
                == "p99 100 ms against 40 ms on the old release: 2.50x > max_p99_increase 1.5")
        #expect(judge.regression(old: sample(requests: 50, errors: 0, latency: 40), new: sample(requests: 50, errors: 0, latency: 55)) == nil)
        #expect(judge.regression(old: sample(requests: 50, errors: 0, latency: 1), new: sample(requests: 50, errors: 0, latency: 4)) == nil,
                "1 ms against 4 ms is the log's resolution, not a regression")
    }
}
