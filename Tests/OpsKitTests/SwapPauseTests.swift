// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// The app stopped and started behind held requests, in memory: what the vacuum asked of it, in
/// order, and which file was the database at each step (a swap gives it a new inode).
final class FakeRestart: RestorePause, @unchecked Sendable {
    let database: String
    var stopFails: OpsError?
    var comesBack = true
    private let lock = NSLock()
    private var log: [(event: String, inode: UInt64)] = []

    init(database: String) { self.database = database }

    var events: [String] { lock.withLock { log.map(\.event) } }
    func inode(at event: String) -> UInt64? { lock.withLock { log.first { $0.event == event }?.inode } }

    func stopApp() async throws(OpsError) {
        record("stop")
        if let stopFails { throw stopFails }
    }

    func startApp() async -> PauseOutcome {
        record("start")
        var outcome = PauseOutcome(bound: .seconds(30))
        outcome.healthy = comesBack
        outcome.stopped = ["app-1.0.0-blue"]
        outcome.started = "app-1.0.0-blue"
        var gate = GateTally()
        (gate.held, gate.released, gate.refused, gate.longestHoldMs) = (12, comesBack ? 12 : 0, comesBack ? 0 : 12, 900)
        outcome.gate = gate
        outcome.problem = comesBack ? nil : "app-1.0.0-blue is not healthy after the vacuum's swap (HTTP 500)"
        outcome.steps = ["held: new requests wait in nginx (fake)"]
        return outcome
    }

    private func record(_ event: String) {
        let inode = SwapPauseTests.inodeOf(database)
        lock.withLock { log.append((event, inode)) }
    }
}

/// Counts how often something was built: the deploy mode (docker) or the restart.
final class Calls: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func add() { lock.withLock { count += 1 } }
}

@Suite(.serialized)
struct SwapPauseTests {
    let directory = TemporaryDirectory("opsctl-swap-pause")
    let context = OpsContext()

    var database: String { directory.file("app.db") }

    static func inodeOf(_ path: String) -> UInt64 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : 0
    }

    func request(_ pause: any SwapPause) -> DatabaseRequest {
        var request = DatabaseRequest(env: "production", path: database, backupName: "app", pause: pause)
        request.ledgerPath = directory.file("state.db")
        request.backupDirectory = directory.file("backups")
        return request
    }

    func paused(_ restart: FakeRestart, built: Calls = Calls()) -> PausedSwap {
        PausedSwap(bound: .seconds(30)) { () async throws(OpsError) -> (any RestorePause)? in
            built.add()
            return restart
        }
    }

    /// Free pages in a database whose auto_vacuum is `incremental` or not.
    func databaseWithFreePages(incremental: Bool) async throws {
        try await generateDatabase(database, megabytes: 2)
        let db = try SQLiteDatabase(path: database)
        if incremental { try db.execute("PRAGMA auto_vacuum = INCREMENTAL; VACUUM") }
        try db.execute("DELETE FROM sessions WHERE id % 2 = 0")
    }

    func rows() throws -> [SQLiteValue] {
        try SQLiteDatabase(path: database, mode: .readOnly).query("SELECT COUNT(*), SUM(id) FROM sessions").first?.values ?? []
    }

    /// Nothing of a swap left behind: no safety copy, no scratch file.
    func leftovers() -> [String] {
        let backups = (try? FileManager.default.contentsOfDirectory(atPath: directory.file("backups"))) ?? []
        let scratch = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasPrefix(".opsctl-tmp") }
        return (backups + scratch).filter { !$0.hasSuffix(".lock") }
    }

    static func config(_ directory: TemporaryDirectory) throws -> OpsConfig {
        try ConfigLoader.parse("""
            app: unit
            image: unit
            state: .opsctl/state.db
            environments:
              production:
                strategy: blue-green
                run: {network: host}
                proxy:
                  upstream_file: upstream.conf
                  upstream_name: unit
                  check: [nginx-check]
                  reload: [nginx-reload]
                  url: http://127.0.0.1:9/
                  slots: {blue: "127.0.0.1:21001", green: "127.0.0.1:21002"}
                  port_env: PORT
                database: {path: app.db}
              staging:
                database: {path: app.db}
            """, fileName: directory.path + "/opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: [:])
    }

    @Test func choosingAPauseNeverAsksTheRuntimeAndChecksTheFlags() throws {
        let config = try Self.config(directory)
        let proxied = try config.environment(named: "production")
        let plain = try config.environment(named: "staging")
        let asked = Calls()
        let mode = { @Sendable () async throws(OpsError) -> DeployMode in
            asked.add()
            throw OpsError(.unavailable, code: "docker.unavailable", "no docker here")
        }
        func choose(_ environment: EnvironmentConfig, _ choice: SwapPauseChoice) throws(OpsError) -> any SwapPause {
            try SwapPauses.choose(for: environment, choice, config: config, context: context, mode: mode)
        }

        let automatic = try #require(try choose(proxied, .automatic) as? PausedSwap, "behind a proxy the swap pauses by default")
        #expect(automatic.bound == .seconds(30))
        #expect((try choose(proxied, .pause(.minutes(2))) as? PausedSwap)?.bound == .minutes(2))
        #expect(try choose(proxied, .refuse) is RefuseWhileInUse, "--no-pause: the refusal")
        #expect(try choose(plain, .automatic) is RefuseWhileInUse, "no proxy: the refusal, unchanged")
        #expect(try choose(plain, .refuse) is RefuseWhileInUse)

        let tooShort = opsError { () throws(OpsError) in _ = try choose(proxied, .pause(OpsDuration(milliseconds: 500))) }
        #expect(tooShort?.code == "maintenance.pause_bound" && tooShort?.exitCode == 64)
        let noProxy = opsError { () throws(OpsError) in _ = try choose(plain, .pause(.seconds(30))) }
        #expect(noProxy?.code == "maintenance.no_proxy" && noProxy?.exitCode == 78, "--pause without a proxy is refused, not ignored")
        #expect(asked.value == 0, "choosing never resolves the deploy mode")
    }

    /// The pause is built only once the app is known to run: one stopped by hand has no users to
    /// hold, and a pause's resume would wait for it to be healthy, leaving users on the page.
    @Test func anAppThatIsNotRunningGetsNoPause() async throws {
        let config = try Self.config(directory)
        let environment = try config.environment(named: "production")
        let runtime = FakeRuntime()
        let context = self.context
        let driver = FakeDriver(runtime: runtime, runner: RecordingRunner { RecordingRunner.result($0, exit: 127) })
        let mode = { @Sendable () async throws(OpsError) -> DeployMode in
            try DeployMode.slotted(driver, config: config, environment: environment, context: context)
        }
        let pause = try #require(try SwapPauses.choose(for: environment, .automatic, config: config, context: context, mode: mode) as? PausedSwap)
        runtime.place("1.0.0", slot: "blue", running: false)
        #expect(try await pause.makeRestart() == nil)
        runtime.place("1.0.0", slot: "blue", running: true)
        #expect(try await pause.makeRestart() is PausedRestart)

        try await databaseWithFreePages(incremental: false)
        let original = Self.inodeOf(database)
        let notRunning = PausedSwap(bound: .seconds(30)) { () async throws(OpsError) -> (any RestorePause)? in nil }
        let worker = try LockHolder(database: database, statements: "SELECT COUNT(*) FROM sessions")
        let refused = await asyncOpsError { () async throws(OpsError) in
            _ = try await DatabaseService.vacuum(request(notRunning), ifNeeded: false, autoVacuum: nil, context: context)
        }
        worker.stop()
        #expect(refused?.code == "database.in_use", "another process still refuses the swap")
        #expect(Self.inodeOf(database) == original)
        let report = try await DatabaseService.vacuum(request(notRunning), ifNeeded: false, autoVacuum: nil, context: context)
        #expect(report.method == .swap && report.pause == nil && report.exitCode == 0)
        #expect(Self.inodeOf(database) != original)
    }

    @Test func anIncrementalVacuumNeverBuildsThePause() async throws {
        try await databaseWithFreePages(incremental: true)
        let built = Calls()
        let restart = FakeRestart(database: database)
        let report = try await DatabaseService.vacuum(request(paused(restart, built: built)), ifNeeded: false, autoVacuum: nil, context: context)
        #expect(report.method == .incremental && report.freelistAfter == 0)
        #expect(built.value == 0 && restart.events.isEmpty, "no docker, no nginx for an incremental vacuum")
        #expect(report.pause == nil)
    }

    @Test func theSwapHappensWhileTheAppIsStoppedAndTheReportSaysWhatUsersMet() async throws {
        try await databaseWithFreePages(incremental: false)
        let before = try rows()
        let original = Self.inodeOf(database)
        let restart = FakeRestart(database: database)
        let report = try await DatabaseService.vacuum(request(paused(restart)), ifNeeded: false, autoVacuum: nil, context: context)
        #expect(report.method == .swap && report.freelistAfter == 0)
        #expect(restart.events == ["stop", "start"])
        #expect(restart.inode(at: "stop") == original, "stopped before the swap")
        let swapped = try #require(restart.inode(at: "start"))
        #expect(swapped != original && swapped == Self.inodeOf(database), "started on the new file")
        #expect(try rows() == before, "every row kept")
        #expect(report.safetyCopy?.hasSuffix(".pre-vacuum.db.gz") == true)
        #expect(report.pause?.healthy == true && report.exitCode == 0)
        #expect(report.pause?.gate?.released == 12)
        let text = report.renderText()
        #expect(text.contains("  pause     held: new requests wait in nginx (fake)"), "\(text)")
        #expect(text.contains("  pause     held 12 request(s), released 12 to the app, 0 got the maintenance page"), "\(text)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ReportEncoder.json(report: report).utf8)) as? [String: Any])
        let pause = try #require(json["pause"] as? [String: Any], "\(json)")
        #expect(json["ok"] as? Bool == true)
        #expect(pause["healthy"] as? Bool == true && pause["started"] as? String == "app-1.0.0-blue")
        #expect((pause["gate"] as? [String: Any])?["longest_hold_ms"] as? Int == 900)
    }

    @Test func aProcessStillHoldingTheFileIsRefusedAndTheAppStartsAtOnce() async throws {
        try await databaseWithFreePages(incremental: false)
        let original = Self.inodeOf(database)
        let worker = try LockHolder(database: database, statements: "SELECT COUNT(*) FROM sessions")
        defer { worker.stop() }
        let restart = FakeRestart(database: database)
        let refused = await asyncOpsError { () async throws(OpsError) in
            _ = try await DatabaseService.vacuum(request(paused(restart)), ifNeeded: false, autoVacuum: nil, context: context)
        }
        #expect(refused?.code == "database.in_use" && refused?.exitCode == 1)
        #expect(refused?.message.contains("pid \(worker.pid)") == true, "\(refused?.message ?? "")")
        #expect(refused?.message.hasSuffix("the app runs again on the old database, users were let through") == true, "\(refused?.message ?? "")")
        #expect(restart.events == ["stop", "start"], "started again at once, before anything else")
        #expect(Self.inodeOf(database) == original)
        #expect(leftovers().isEmpty, "\(leftovers())")
    }

    @Test func aSwapThatFailsStartsTheAppOnTheOldFile() async throws {
        try await databaseWithFreePages(incremental: false)
        let original = Self.inodeOf(database)
        let before = try rows()
        // The safety copy's directory cannot be made: the swap fails after the pause.
        try directory.write("not-a-directory", "")
        let restart = FakeRestart(database: database)
        var failing = request(paused(restart))
        failing.backupDirectory = directory.file("not-a-directory/backups")
        let failed = await asyncOpsError { () async throws(OpsError) in
            _ = try await DatabaseService.vacuum(failing, ifNeeded: false, autoVacuum: nil, context: context)
        }
        #expect(failed != nil)
        #expect(failed?.message.hasSuffix("the app runs again on the old database, users were let through") == true, "\(failed?.message ?? "")")
        #expect(restart.events == ["stop", "start"])
        #expect(try Self.inodeOf(database) == original && rows() == before)
        let run = try Ledger(path: directory.file("state.db")).maintenanceRuns(env: "production", from: .distantPast, to: .distantFuture).first
        #expect(run?.operation == .vacuum && run?.status == .failed && run?.error == failed?.message, "\(String(describing: run))")
    }

    @Test func anAppThatDoesNotComeBackIsExit4WithTheNewFileInPlace() async throws {
        try await databaseWithFreePages(incremental: false)
        let original = Self.inodeOf(database)
        let restart = FakeRestart(database: database)
        restart.comesBack = false
        let report = try await DatabaseService.vacuum(request(paused(restart)), ifNeeded: false, autoVacuum: nil, context: context)
        #expect(report.exitCode == 4)
        #expect(report.pause?.healthy == false)
        #expect(report.renderText().contains("PROBLEM: app-1.0.0-blue is not healthy"), "\(report.renderText())")
        #expect(Self.inodeOf(database) != original && report.freelistAfter == 0, "the vacuumed file is in place, whole")
    }

    @Test func whenTheAppCannotBeStoppedOrDockerIsDownNothingChanges() async throws {
        try await databaseWithFreePages(incremental: false)
        let original = Self.inodeOf(database)
        let restart = FakeRestart(database: database)
        restart.stopFails = OpsError(.unavailable, code: "database.stop_failed", "could not stop app-1.0.0-blue; nothing was swapped")
        let stopFailed = await asyncOpsError { () async throws(OpsError) in
            _ = try await DatabaseService.vacuum(request(paused(restart)), ifNeeded: false, autoVacuum: nil, context: context)
        }
        #expect(stopFailed?.code == "database.stop_failed" && stopFailed?.exitCode == 69)
        #expect(restart.events == ["stop"], "the restart undoes its own stop; the swap never asks it to start")

        let noDocker = PausedSwap(bound: .seconds(30)) { () async throws(OpsError) -> (any RestorePause)? in
            throw OpsError(.unavailable, code: "docker.unavailable", "Cannot connect to the Docker daemon")
        }
        let dockerDown = await asyncOpsError { () async throws(OpsError) in
            _ = try await DatabaseService.vacuum(request(noDocker), ifNeeded: false, autoVacuum: nil, context: context)
        }
        #expect(dockerDown?.code == "docker.unavailable" && dockerDown?.exitCode == 69)
        #expect(Self.inodeOf(database) == original)
        #expect(leftovers().isEmpty, "\(leftovers())")
    }
}
