// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
import OpsTestSupport
@testable import OpsKit

/// A runtime in memory: releases by (version, slot), each with a behaviour. It runs the commands
/// it hands out through the same runner as everything else, so a test sees exactly what ran.
final class FakeRuntime: @unchecked Sendable {
    /// brokenPath and slowResponses pass health; their users' requests fail or crawl (canary tests).
    enum Behaviour { case healthy, unhealthy, crash, brokenPath, slowResponses }

    private let lock = NSLock()
    private var behaviours: [String: Behaviour] = [:]
    private var containers: [ReleaseRef: (running: Bool, created: Int)] = [:]
    private var clock = 0
    private(set) var log: [String] = []
    /// Which release answered each request that came through the proxy.
    private(set) var proxied: [String] = []

    func behave(_ version: String, _ behaviour: Behaviour) { lock.withLock { behaviours[version] = behaviour } }

    func behaviour(of version: String) -> Behaviour { lock.withLock { behaviours[version, default: .healthy] } }

    /// A release already running, as a previous deploy would have left it.
    func place(_ version: String, slot: String? = nil, running: Bool = true) {
        lock.withLock {
            clock += 1
            containers[ReleaseRef(version: version, slot: slot)] = (running, clock)
        }
    }

    func releases() -> [DeployedRelease] {
        lock.withLock {
            containers.map { ref, state in
                DeployedRelease(version: ref.version, container: "c-\(ref.version)-\(ref.slot ?? "none")", running: state.running,
                                status: state.running ? "running" : "exited", created: String(format: "%06d", state.created), slot: ref.slot)
            }
        }
    }

    func isRunning(_ version: String, slot: String? = nil) -> Bool {
        lock.withLock { containers[ReleaseRef(version: version, slot: slot)]?.running == true }
    }

    /// `fake start|stop VERSION SLOT`, from the driver's commands.
    func execute(_ arguments: [String]) -> Bool {
        lock.withLock {
            let ref = ReleaseRef(version: arguments[1], slot: arguments[2] == "-" ? nil : arguments[2])
            log.append(arguments.joined(separator: " "))
            switch arguments[0] {
            case "start":
                clock += 1
                containers[ref] = (behaviours[ref.version] != .crash, clock)
            case "stop":
                guard let state = containers[ref] else { return false }
                containers[ref] = (false, state.created)
            default: return false
            }
            return true
        }
    }

    func fatal(_ ref: ReleaseRef) -> String? {
        lock.withLock { behaviours[ref.version] == .crash ? "container c-\(ref.version) exited with code 1" : nil }
    }

    /// What answers at `port`: the running release placed there.
    func answer(_ ref: ReleaseRef?, proxied viaProxy: Bool) -> HealthProbe {
        lock.withLock {
            guard let ref, containers[ref]?.running == true else { return HealthProbe(ok: false, reason: "Couldn't connect to server") }
            if viaProxy { proxied.append(ref.version) }
            let healthy = behaviours[ref.version, default: .healthy] != .unhealthy
            return HealthProbe(ok: healthy, status: healthy ? 200 : 503, reason: healthy ? nil : "HTTP 503 (expected 200)", totalMs: 1, version: ref.version)
        }
    }
}

struct FakeDriver: SlotReleaseDriver {
    let runtime: FakeRuntime
    let runner: any ProcessRunning

    func releases() async throws(OpsError) -> [DeployedRelease] { runtime.releases() }
    var keepsStoppedReleases: Bool { true }
    func validate(version: String) async throws(OpsError) {}
    func containerName(_ release: ReleaseRef) -> String? { "c-\(release.version)-\(release.slot ?? "none")" }
    func startCommands(_ target: ReleaseTarget, fresh: Bool) async throws(OpsError) -> [DriverCommand] {
        [DriverCommand(ProcessRequest("fake", ["start", target.version, target.slot?.name ?? "-"]), failureCode: "fake.start")]
    }
    func stopCommands(_ release: ReleaseRef) -> [DriverCommand] {
        [DriverCommand(ProcessRequest("fake", ["stop", release.version, release.slot ?? "-"]), failureCode: "fake.stop")]
    }
    func fatalState(_ release: ReleaseRef) async -> String? { runtime.fatal(release) }
    func logs(_ release: ReleaseRef, lines: Int) async -> String { "log of \(release.version)" }
    func prune(keep: Int, protecting: Set<ReleaseRef>) async throws(OpsError) -> [String] { [] }
}

/// One environment, its ledger and upstream file in a temp dir, the fake runtime behind a fake
/// nginx (it routes by the upstream file on disk), and virtual time.
final class SwitchFixture: @unchecked Sendable {
    let directory = TemporaryDirectory("opsctl-switch")
    let runtime = FakeRuntime()
    let clock = VirtualClock()
    let interruption = Interruption()
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let ports: (blue: Int, green: Int) = SwitchFixture.freePorts()
    var checkFails = false
    /// The proxy keeps routing to this slot whatever the upstream file says (an nginx that does not include it).
    var frozenProxySlot: String?
    /// SIGTERM arrives the first time this release answers a probe.
    var signalWhenAnswering: String?
    /// Runs when the reload command does (a signal arriving just after the switch).
    var onReload: (@Sendable () -> Void)?
    private(set) var runner: RecordingRunner!
    let config: OpsConfig

    static func freePorts() -> (blue: Int, green: Int) {
        let ports = freeTestPorts(2)
        return (ports[0], ports[1])
    }

    /// `canary`: the environment's `canary:` section (flow style); it also adds `proxy.access_log: access.log`.
    /// What is in flight to a release being drained (`drain: until-idle`); nil: the kernel's answer.
    var activity: (any SlotActivityProbe)?

    init(strategy: String = "blue-green", standby: String = "5m", canary: String? = nil, drain: String = "1s") throws {
        config = try ConfigLoader.parse("""
            app: unit
            image: unit
            state: .opsctl/state.db
            environments:
              production:
                strategy: \(strategy)
                run: {network: host}
                proxy:
                  upstream_file: upstream.conf
                  upstream_name: unit
                  check: [nginx-check]
                  reload: [nginx-reload]
                  url: http://127.0.0.1:9/
                  slots: {blue: "127.0.0.1:\(ports.blue)", green: "127.0.0.1:\(ports.green)"}
                  port_env: PORT
                  standby: \(standby)
                  drain: \(drain)
                  drain_timeout: 10s
                  \(canary == nil ? "" : "access_log: access.log")
                health: {url: "http://127.0.0.1:3000/health", timeout: 2s, interval: 250ms}
                \(canary.map { "canary: \($0)" } ?? "")
            """, fileName: directory.path + "/opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: [:])
        runner = RecordingRunner { [unowned self] request in
            switch request.executable {
            case "fake": return RecordingRunner.result(request, exit: runtime.execute(request.arguments) ? 0 : 1)
            case "nginx-check": return checkFails ? RecordingRunner.result(request, exit: 1, stderr: "nginx: [emerg] unknown directive \"bogus\" in nginx.conf:3\nnginx: configuration file nginx.conf test failed") : RecordingRunner.result(request)
            case "nginx-reload":
                onReload?()
                return RecordingRunner.result(request)
            default: return RecordingRunner.result(request, exit: 127, stderr: "unexpected \(request.displayCommand)")
            }
        }
    }

    var environment: EnvironmentConfig { try! config.environment(named: "production") }
    var upstreamPath: String { directory.path + "/upstream.conf" }
    var upstream: String? { try? String(contentsOfFile: upstreamPath, encoding: .utf8) }
    var ledger: Ledger { get throws { try Ledger(path: config.state) } }

    func route(to slot: String) throws {
        let port = slot == "blue" ? ports.blue : ports.green
        try Upstream.routing("unit", to: "127.0.0.1:\(port)").render().write(toFile: upstreamPath, atomically: true, encoding: .utf8)
    }

    /// Which release a URL reaches: a slot's port directly, the proxy by the upstream file,
    /// the configured health URL (stop-start) whatever runs outside the slots.
    func answer(_ url: String) -> HealthProbe {
        let port = URLComponents(string: url)?.port
        if port == ports.blue || port == ports.green {
            let slot = port == ports.blue ? "blue" : "green"
            return runtime.answer(runtime.releases().first { $0.slot == slot && $0.running }?.ref, proxied: false)
        }
        if port == 9 {
            let routed = upstream.flatMap { Upstream.parse($0, name: "unit") }?.liveAddresses.first
            let slot = frozenProxySlot ?? routed.map { $0.hasSuffix(":\(ports.blue)") ? "blue" : "green" } ?? "blue"
            return runtime.answer(runtime.releases().first { $0.slot == slot && $0.running }?.ref, proxied: true)
        }
        return runtime.answer(runtime.releases().first { $0.slot == nil && $0.running }?.ref, proxied: false)
    }

    func probe(_ url: String) -> HealthProbe {
        clock.advance(.milliseconds(10))
        let answer = answer(url)
        if let version = signalWhenAnswering, answer.version == version {
            interruption.trigger(SIGTERM)
            signalWhenAnswering = nil
        }
        return answer
    }

    func service() throws -> DeployService {
        let context = OpsContext(runner: runner, environment: ["USER": "tester"], now: { [now] in now })
        var service = try DeployService(config: config, environment: environment, context: context, interruption: interruption,
                                        driver: FakeDriver(runtime: runtime, runner: runner))
        let clock = self.clock
        service.clock = clock
        service.probe = { [unowned self] settings in self.probe(settings.url) }
        if let activity { service.activity = activity }
        return service
    }

    func plan(_ action: ReleaseAction, _ version: String, live: DeployedRelease?, options: DeployOptions = DeployOptions()) -> DeployPlan {
        DeployPlan(action: action, version: version, image: "unit:\(version)", live: live, options: options)
    }

    func carryOut(_ version: String, options: DeployOptions = DeployOptions()) async throws -> DeployReport { try await carryOut(.deploy, version, options: options) }

    func carryOut(_ action: ReleaseAction, _ version: String, options: DeployOptions = DeployOptions()) async throws -> DeployReport {
        let service = try service()
        let (_, releaseSwitch, _) = try service.parts()
        return try await service.carryOut(plan(action, version, live: try await releaseSwitch.liveRelease(), options: options))
    }

    var commands: [String] { runner.requests.map { ([$0.executable] + $0.arguments).joined(separator: " ") } }
}

@Suite(.serialized)
struct BlueGreenSwitchTests {
    @Test func aGoodReleaseStartsOnTheIdleSlotIsCheckedThereThenTakesTheTrafficAndThePreviousStaysOnStandby() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.place("1.0.0", slot: "blue")
        try fixture.route(to: "blue")
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .succeeded, "\(report.renderText())")
        #expect(report.slot == "green" && report.switched == true)
        #expect(fixture.commands == ["fake start 1.0.1 green", "nginx-check", "nginx-reload"], "nothing stops before the switch")
        #expect(fixture.upstream == Upstream.routing("unit", to: "127.0.0.1:\(fixture.ports.green)").render())
        #expect(fixture.runtime.isRunning("1.0.0", slot: "blue"), "the previous release keeps running on standby")
        let standby = try #require(try fixture.ledger.standby(env: "production"))
        #expect(standby.version == "1.0.0" && standby.slot == "blue" && standby.expiresAt == fixture.now.addingTimeInterval(300))
        #expect(fixture.runtime.proxied.allSatisfy { $0 == "1.0.1" }, "the confirmation saw the new release through the proxy")
        let row = try #require(try fixture.ledger.deployments(env: "production", limit: 1).first)
        #expect(row.status == .succeeded && row.slot == "green" && row.strategy == "blue-green")
    }

    @Test func anUnhealthyReleaseIsStoppedAndNothingIsSwitched() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.place("1.0.0", slot: "blue")
        fixture.runtime.behave("1.0.2", .unhealthy)
        try fixture.route(to: "blue")
        let before = fixture.upstream
        let report = try await fixture.carryOut("1.0.2")
        #expect(report.outcome == .rolledBack && report.exitCode == 3)
        #expect(report.switched == false)
        #expect(report.reason?.contains("not healthy after 2s: HTTP 503") == true && report.reason?.contains("no user request reached 1.0.2") == true, "\(report.reason ?? "")")
        #expect(fixture.upstream == before)
        #expect(!fixture.commands.contains("nginx-check") && !fixture.commands.contains("nginx-reload"))
        #expect(!fixture.runtime.isRunning("1.0.2", slot: "green") && fixture.runtime.isRunning("1.0.0", slot: "blue"))
        #expect(report.renderText().hasSuffix("1.0.0 still serves (exit 3)"), "\(report.renderText())")
    }

    @Test func aCrashIsSeenAtOnceByTheRuntimeCheck() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.place("1.0.0", slot: "blue")
        fixture.runtime.behave("1.0.3", .crash)
        try fixture.route(to: "blue")
        let report = try await fixture.carryOut("1.0.3")
        #expect(report.outcome == .rolledBack)
        #expect(report.health?.abortedBecause == "container c-1.0.3 exited with code 1")
        #expect((report.health?.elapsedMs ?? 9999) < 100)
        #expect(report.failedLogs == "log of 1.0.3")
    }

    @Test func aFailedCheckPutsThePreviousFileBackAndReloadsNothing() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.place("1.0.0", slot: "blue")
        try fixture.route(to: "blue")
        let before = fixture.upstream
        fixture.checkFails = true
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .rolledBack)
        #expect(report.reason?.contains("nginx: [emerg] unknown directive \"bogus\"") == true, "nginx's own words: \(report.reason ?? "")")
        #expect(fixture.upstream == before)
        #expect(!fixture.commands.contains("nginx-reload"))
        #expect(!fixture.runtime.isRunning("1.0.1", slot: "green") && fixture.runtime.isRunning("1.0.0", slot: "blue"))
    }

    @Test func anUnconfirmedSwitchIsSwitchedBack() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.place("1.0.0", slot: "blue")
        try fixture.route(to: "blue")
        let before = fixture.upstream
        fixture.frozenProxySlot = "blue"
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .rolledBack, "\(report.renderText())")
        #expect(report.reason?.contains("the proxy did not confirm the switch") == true && report.reason?.contains("version 1.0.0 answered, not 1.0.1") == true,
                "\(report.reason ?? "")")
        #expect(fixture.upstream == before)
        #expect(fixture.commands.filter { $0 == "nginx-reload" }.count == 2, "the switch and the switch back")
        #expect(!fixture.runtime.isRunning("1.0.1", slot: "green"))
        #expect(report.renderText().contains("switched back: 1.0.0 serves again (exit 3)"))
    }

    @Test func aRollbackToTheStandbyIsOneProbeAndTheSwitch() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.place("1.0.0", slot: "blue")
        try fixture.route(to: "blue")
        #expect(try await fixture.carryOut("1.0.1").outcome == .succeeded)
        let started = fixture.clock.now()
        let commandsBefore = fixture.commands.count
        let back = try await fixture.carryOut(.rollback, "1.0.0")
        #expect(back.outcome == .succeeded, "\(back.renderText())")
        #expect(Array(fixture.commands.dropFirst(commandsBefore)) == ["nginx-check", "nginx-reload"], "no container starts or stops")
        #expect(fixture.clock.now() - started < .seconds(1))
        #expect(fixture.upstream?.contains(":\(fixture.ports.blue);") == true)
        let standby = try #require(try fixture.ledger.standby(env: "production"))
        #expect(standby.version == "1.0.1" && standby.slot == "green", "the release rolled back from is the standby now")
    }

    @Test func aRollbackToAStoppedReleaseStartsItOnTheIdleSlot() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.place("1.0.0", slot: "blue", running: false)
        fixture.runtime.place("1.0.1", slot: "green")
        try fixture.route(to: "green")
        let back = try await fixture.carryOut(.rollback, "1.0.0")
        #expect(back.outcome == .succeeded)
        #expect(fixture.commands == ["fake start 1.0.0 blue", "nginx-check", "nginx-reload"])
    }

    @Test func aSignalBeforeTheSwitchStopsTheNewReleaseAndChangesNothing() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.place("1.0.0", slot: "blue")
        fixture.runtime.behave("1.0.2", .unhealthy)
        try fixture.route(to: "blue")
        let before = fixture.upstream
        // The signal arrives during the health-wait (after the lock, the ledger row and the start).
        fixture.signalWhenAnswering = "1.0.2"
        let report = try await fixture.carryOut("1.0.2")
        #expect(report.outcome == .interrupted && report.exitCode == 3, "\(report.renderText())")
        #expect(report.reason?.hasPrefix("interrupted by SIGTERM") == true)
        #expect(fixture.upstream == before && !fixture.commands.contains("nginx-reload"))
        #expect(!fixture.runtime.isRunning("1.0.2", slot: "green"))
    }

    @Test func aSignalAfterTheSwitchFinishesTheConfirmation() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.place("1.0.0", slot: "blue")
        try fixture.route(to: "blue")
        let interruption = fixture.interruption
        fixture.onReload = { interruption.trigger(SIGTERM) }
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .succeeded, "\(report.renderText())")
        #expect(report.warnings.contains("interrupted by SIGTERM after the switch: the switch was finished and confirmed"))
        #expect(fixture.runtime.isRunning("1.0.1", slot: "green") && fixture.runtime.isRunning("1.0.0", slot: "blue"))
    }

    @Test func standbyZeroStopsThePreviousReleaseAfterTheDrain() async throws {
        let fixture = try SwitchFixture(standby: "0s")
        fixture.runtime.place("1.0.0", slot: "blue")
        try fixture.route(to: "blue")
        let started = fixture.clock.now()
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .succeeded)
        #expect(!fixture.runtime.isRunning("1.0.0", slot: "blue"))
        #expect(fixture.clock.now() - started >= .seconds(1), "proxy.drain passed before the stop")
        #expect(try fixture.ledger.standby(env: "production") == nil)
    }

    @Test func untilIdleStopsThePreviousReleaseOnceNothingIsInFlightToIt() async throws {
        let fixture = try SwitchFixture(standby: "0s", drain: "until-idle")
        let activity = FakeActivity(busyPolls: 40)
        fixture.activity = activity
        fixture.runtime.place("1.0.0", slot: "blue")
        try fixture.route(to: "blue")
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .succeeded, "\(report.renderText())")
        #expect(report.drains == [DrainOutcome(ending: .idle, waitedMs: 4000)], "\(report.drains)")
        #expect(activity.askedAbout.allSatisfy { $0 == ["127.0.0.1:\(fixture.ports.blue)"] }, "the old release's slot is the one watched")
        #expect(!fixture.runtime.isRunning("1.0.0", slot: "blue"))
        #expect(report.steps.contains { $0.name == "stop 1.0.0" && $0.detail == "idle after 4.0 s of drain (standby: 0s); kept" }, "\(report.steps)")
    }

    @Test func untilIdleStopsAtTheBoundAndSaysSo() async throws {
        let fixture = try SwitchFixture(standby: "0s", drain: "until-idle")
        fixture.activity = FakeActivity(busyPolls: .max)
        fixture.runtime.place("1.0.0", slot: "blue")
        try fixture.route(to: "blue")
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .succeeded)
        #expect(report.drains.map(\.ending) == [.timedOut] && report.drains.first?.waitedMs == 10_000)
        #expect(report.warnings.contains { $0.hasPrefix("1.0.0 (blue) was stopped with requests in flight: drain_timeout reached") }, "\(report.warnings)")
        #expect(!fixture.runtime.isRunning("1.0.0", slot: "blue"), "the bound is the bound")
    }

    @Test func theNextDeployStopsTheStandbyOnTheIdleSlotFirst() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.place("1.0.0", slot: "blue")
        try fixture.route(to: "blue")
        #expect(try await fixture.carryOut("1.0.1").outcome == .succeeded)
        let before = fixture.commands.count
        #expect(try await fixture.carryOut("1.0.4").outcome == .succeeded)
        #expect(Array(fixture.commands.dropFirst(before)) == ["fake stop 1.0.0 blue", "fake start 1.0.4 blue", "nginx-check", "nginx-reload"])
        #expect(try fixture.ledger.standby(env: "production")?.version == "1.0.1")
    }

    @Test func theFirstBlueGreenDeployTakesOverFromARunningStopStartRelease() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.place("0.9.0")   // outside the slots, as stop-start ran it; no upstream file yet
        let report = try await fixture.carryOut("1.0.0")
        #expect(report.outcome == .succeeded && report.slot == "blue")
        #expect(try fixture.ledger.standby(env: "production")?.slot == nil, "the old release waits on standby where it runs")
        #expect(fixture.runtime.isRunning("0.9.0"))
    }

    @Test func aFailedFirstDeployWithNothingLiveSaysTheServiceMayBeDown() async throws {
        let fixture = try SwitchFixture()
        fixture.runtime.behave("1.0.3", .crash)
        let report = try await fixture.carryOut("1.0.3")
        #expect(report.outcome == .failed && report.exitCode == 4)
    }
}

@Suite(.serialized)
struct StopStartSwitchTests {
    func fixture() throws -> SwitchFixture { try SwitchFixture(strategy: "stop-start") }

    @Test func stopThenStartThenChecks() async throws {
        let fixture = try fixture()
        fixture.runtime.place("1.0.0")
        let report = try await fixture.carryOut("1.0.1")
        #expect(report.outcome == .succeeded)
        #expect(fixture.commands == ["fake stop 1.0.0 -", "fake start 1.0.1 -"])
        #expect(report.steps.map(\.name) == ["stop 1.0.0", "start 1.0.1", "health"])
    }

    @Test func anUnhealthyReleaseIsReplacedByThePreviousOne() async throws {
        let fixture = try fixture()
        fixture.runtime.place("1.0.0")
        fixture.runtime.behave("1.0.2", .unhealthy)
        let report = try await fixture.carryOut("1.0.2")
        #expect(report.outcome == .rolledBack)
        #expect(fixture.commands == ["fake stop 1.0.0 -", "fake start 1.0.2 -", "fake stop 1.0.2 -", "fake start 1.0.0 -"])
        #expect(fixture.runtime.isRunning("1.0.0") && report.recoveryHealth?.healthy == true)
        #expect(report.renderText().hasSuffix("rolled back: 1.0.0 serves again (exit 3)"))
    }

    @Test func withoutAPreviousReleaseAFailureMayLeaveTheServiceDown() async throws {
        let fixture = try fixture()
        fixture.runtime.behave("1.0.3", .crash)
        let report = try await fixture.carryOut("1.0.3")
        #expect(report.outcome == .failed)
        #expect(report.reason?.hasSuffix("there is no previous release to go back to") == true)
    }

    @Test func aSignalRestoresThePreviousRelease() async throws {
        let fixture = try fixture()
        fixture.runtime.place("1.0.0")
        fixture.runtime.behave("1.0.2", .unhealthy)
        fixture.signalWhenAnswering = "1.0.2"
        let report = try await fixture.carryOut("1.0.2")
        #expect(report.outcome == .interrupted)
        #expect(fixture.runtime.isRunning("1.0.0"))
    }
}

/// What the parts of a run return reaches the report through `DeployRun.record` alone.
struct DeployRunRecordTests {
    @Test func aValueFoundReplacesTheOneBeforeAndListsGrowInTheOrderFound() async throws {
        let fixture = try SwitchFixture(strategy: "stop-start")
        let (deps, _, _) = try fixture.service().parts()
        let recorder = DeployRecorder(ledger: try fixture.ledger, deps: deps)
        let plan = fixture.plan(.deploy, "1.0.1", live: nil)
        let target = ReleaseTarget(version: "1.0.1")
        let report = DeployReport(kind: .deploy, env: "production", version: "1.0.1", outcome: .planned, image: "unit:1.0.1", durationMs: 0)
        let run = DeployRun(report: report, recorder: recorder, id: try recorder.begin(plan, target: target, previous: nil), options: plan.options)
        let failedAt = fixture.now.addingTimeInterval(-5)
        run.record(DeployFindings(failed: FailedLogs(text: "", at: failedAt), warnings: ["first"], slot: "blue", switched: false))
        run.record(DeployFindings(warnings: ["second"], switched: true, drains: [DrainOutcome(ending: .idle, waitedMs: 20)]))
        let finished = try run.finish(.succeeded, nil)
        #expect(finished.warnings == ["first", "second"])
        #expect(finished.slot == "blue" && finished.switched == true)
        #expect(finished.drains.map(\.ending) == [.idle])
        // An empty output is no output in the report, but the failure's time is kept.
        #expect(finished.failedAt == failedAt && finished.failedLogs == nil)
    }
}
