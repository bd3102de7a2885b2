// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization
import Testing
@testable import OpsKit

/// An opsctl.yml on disk with one environment whose secrets the tests look for.
struct IncidentConfig {
    static let token = "tok-incident-\(UUID().uuidString)"
    let directory = TemporaryDirectory("opsctl-incident-unit")

    func load(extra: String = "") throws -> (OpsConfig, EnvironmentConfig) {
        try directory.write("opsctl.yml", """
            app: shop
            image: shop
            state: .opsctl/state.db
            environments:
              production:
                run: {env: {API_TOKEN: "\(Self.token)", PLAIN: visible}}
            \(extra)
            """)
        let config = try ConfigLoader.load(path: directory.file("opsctl.yml"), environment: [:])
        return (config, try config.environment(named: "production"))
    }

    var statePath: String { directory.file(".opsctl/state.db") }
}

/// A docker that is down: every call fails the way the CLI does when nothing listens.
let dockerDown = RecordingRunner { request in
    RecordingRunner.result(request, exit: 1, stderr: "Cannot connect to the Docker daemon at unix:///nowhere.sock. Is the docker daemon running?")
}

struct TarArchiveTests {
    /// Real tar lists and extracts what the in-process writer made, sizes on and off the 512-byte blocks.
    @Test func tarReadsTheArchive() async throws {
        let directory = TemporaryDirectory("opsctl-tar")
        var archive = TarArchive(modified: Date(timeIntervalSince1970: 1_800_000_000))
        archive.addDirectory("bundle")
        let long = "bundle/logs/" + String(repeating: "l", count: 95) + ".log"   // past the 100-byte name: ustar's prefix field
        let files = ["bundle/a.txt": String(repeating: "x", count: 1000), "bundle/logs/empty.log": "", "bundle/block.txt": String(repeating: "b", count: 512),
                     long: "a long name"]
        for (path, text) in files.sorted(by: { $0.key < $1.key }) { archive.addFile(path, Data(text.utf8)) }
        try archive.gzipped().write(to: URL(fileURLWithPath: directory.file("b.tar.gz")))
        let listing = try await setUp("tar", ["-tzf", directory.file("b.tar.gz")])
        #expect(Set(listing.split(separator: "\n").map(String.init)) == Set(["bundle/"] + files.keys))
        try FileManager.default.createDirectory(atPath: directory.file("out"), withIntermediateDirectories: true)
        try await setUp("tar", ["-xzf", directory.file("b.tar.gz"), "-C", directory.file("out")])
        for (path, text) in files { #expect(try directory.read("out/\(path)") == text, "\(path)") }
        let mode = try FileManager.default.attributesOfItem(atPath: directory.file("out/bundle/a.txt"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}

struct BundleUnitTests {
    @Test func inspectHidesSecretValuesByNameAndByValue() throws {
        let (config, environment) = try IncidentConfig().load()
        let redaction = InspectRedaction(environment: environment, redactor: config.redactor)
        let json = """
            [{"Name": "/shop-production-1.0.0", "Config": {"Env": ["API_TOKEN=\(IncidentConfig.token)", "DB_PASSWORD=hunter2hunter2",
             "COPY=\(IncidentConfig.token)", "PLAIN=visible", "PATH=/bin"], "Cmd": ["--token", "\(IncidentConfig.token)"]}}]
            """
        let redacted = try redaction.redact(json)
        #expect(!redacted.contains(IncidentConfig.token))
        #expect(!redacted.contains("hunter2hunter2"))
        for kept in ["API_TOKEN=<redacted>", "DB_PASSWORD=<redacted>", "COPY=<redacted>", "PLAIN=visible", "PATH=/bin", "shop-production-1.0.0"] {
            #expect(redacted.contains(kept), "\(kept) in \(redacted)")
        }
        #expect(throws: OpsError.self) { try redaction.redact("Error: not json API_TOKEN=\(IncidentConfig.token)") }
    }

    @Test func bothStreamsMergeInTimeOrder() {
        let stdout = "2026-11-22T03:00:00.100000000Z first\n2026-11-22T03:00:02.000000000Z fourth\n"
        let stderr = "2026-11-22T03:00:00.2Z second\n2026-11-22T03:00:01.000000000Z third\n"
        #expect(DiagnosticBundle.interleave(stdout, stderr).split(separator: "\n").map { $0.split(separator: " ").last! } == ["first", "second", "third", "fourth"])
        #expect(DiagnosticBundle.interleave("", "") == "")
    }

    @Test func eachSlotGivesOneContainer() {
        func release(_ name: String, slot: String?, running: Bool, created: String) -> DeployedRelease {
            DeployedRelease(version: name, container: name, running: running, status: running ? "running" : "exited", created: created, slot: slot)
        }
        let releases = [release("b1", slot: "blue", running: false, created: "2026-11-01"), release("b2", slot: "blue", running: false, created: "2026-11-02"),
                        release("g1", slot: "green", running: true, created: "2026-11-01"), release("g2", slot: "green", running: false, created: "2026-11-03"),
                        release("old", slot: nil, running: true, created: "2026-10-01"), release("older", slot: nil, running: false, created: "2026-09-01")]
        #expect(DiagnosticBundle.slotContainers(releases) == ["b2", "g1", "old"])
    }

    /// A docker that is down fails its three parts; the others, and the archive, are whole.
    @Test func aDeadDockerFailsItsPartsOnly() async throws {
        let setup = IncidentConfig()
        let (config, environment) = try setup.load()
        let context = OpsContext(runner: dockerDown)
        let report = try await IncidentService(config: config, environment: environment, context: context).open(title: "checkout down", severity: .critical)
        let bundle = try #require(report.bundle)
        let outcomes = Dictionary(uniqueKeysWithValues: bundle.parts.map { ($0.name, $0.outcome) })
        #expect(outcomes[.logs] == .failed && outcomes[.stats] == .failed && outcomes[.inspect] == .failed, "\(outcomes)")
        #expect(outcomes[.ledger] == .ok && outcomes[.disk] == .ok)
        #expect(outcomes[.health] == .notConfigured && outcomes[.smoke] == .notConfigured && outcomes[.database] == .notConfigured)
        #expect(outcomes[.replication] == .notConfigured)
        #expect(bundle.parts.first { $0.name == .stats }?.error?.contains("the Docker daemon is not reachable") == true)
        #expect(bundle.file.hasPrefix(setup.directory.file(".opsctl/incidents/\(report.id)/bundle-")) && bundle.file.hasSuffix(".tar.gz"))
        let listing = try await setUp("tar", ["-tzf", bundle.file])
        #expect(listing.contains("/manifest.json") && listing.contains("/index.txt") && listing.contains("/replication.txt"))
    }

    /// A docker that never answers: its parts end at their limit as timed out, the rest are kept.
    @Test func aHangingDockerTimesOutItsPartsOnly() async throws {
        let setup = IncidentConfig()
        let (config, environment) = try setup.load()
        let hanging = HangingRunner()
        let incident = IncidentRecord(id: 1, env: "production", title: "t", severity: .major, openedAt: Date())
        var bundle = DiagnosticBundle(config: config, environment: environment, context: OpsContext(runner: hanging), incident: incident)
        // Only docker's parts are cut short: the others keep their own generous limits.
        for name in [BundlePart.Name.logs, .stats, .inspect] { bundle.limits[name] = .seconds(1) }
        let summary = try await bundle.write()
        let outcomes = Dictionary(uniqueKeysWithValues: summary.parts.map { ($0.name, $0.outcome) })
        #expect(outcomes[.logs] == .timedOut && outcomes[.stats] == .timedOut && outcomes[.inspect] == .timedOut, "\(outcomes)")
        #expect(outcomes[.ledger] == .ok && outcomes[.disk] == .ok)
    }

    @Test func blockingWorkThatNeverReturnsIsLeftBehind() async {
        let gate = DispatchSemaphore(value: 0)
        let value = await TimeBound.blocking(within: .milliseconds(100)) { gate.wait(); return 1 }
        #expect(value == nil)
        gate.signal()
        #expect(await TimeBound.blocking(within: .seconds(60)) { 2 } == 2)
        #expect(await TimeBound.run(within: .seconds(60)) { 3 } == 3)
    }

    /// A real subprocess that outlives its deadline is killed and the runner says so.
    @Test func theDeadlineRunnerKillsWhatOutlivesIt() async throws {
        let runner = DeadlineRunner(SubprocessRunner(), deadline: .now + .seconds(1))
        let result = try await runner.run(ProcessRequest("sleep", ["120"], timeout: .seconds(300)))
        #expect(result.termination == .timedOut)
        #expect(runner.ranOutOfTime)
        await #expect(throws: OpsError.self) { try await runner.run(ProcessRequest("true", [])) }
    }
}

/// Waits until cancelled, as a docker CLI whose daemon accepted the connection and never answers.
final class HangingRunner: ProcessRunning {
    private let count = Mutex(0)
    var started: Int { count.withLock { $0 } }

    func run(_ request: ProcessRequest) async throws(OpsError) -> ProcessResult {
        count.withLock { $0 += 1 }
        let clock = ContinuousClock()
        let start = clock.now
        while !Task.isCancelled, clock.now - start < request.timeout { try? await Task.sleep(for: .milliseconds(20)) }
        return ProcessResult(request: request, termination: .timedOut, standardOutput: "", standardErrorTail: "", duration: clock.now - start)
    }
}

struct IncidentLifecycleTests {
    @Test func openNoteCloseKeepTheMarkerAndTheTimeline() async throws {
        let setup = IncidentConfig()
        let (config, environment) = try setup.load()
        let service = IncidentService(config: config, environment: environment, context: OpsContext(runner: dockerDown, environment: ["USER": "alice"]))
        #expect(!IncidentFiles.mayHaveOpenIncident(state: config.state, env: "production"))
        #expect(await asyncError { () async throws(OpsError) in _ = try await service.close(id: nil, summary: "x") }?.code == "incident.none_open")
        #expect(opsError { () throws(OpsError) in _ = try service.note("nothing open") }?.kind == .noSuchIncident)

        let opened = try await service.open(title: "  login fails for \(IncidentConfig.token)  ", severity: .major)
        #expect(opened.title == "login fails for <redacted>")
        #expect(IncidentFiles.mayHaveOpenIncident(state: config.state, env: "production"))
        #expect(opsError { () throws(OpsError) in _ = try service.note("   ") }?.code == "incident.empty")
        let note = try service.note("restarted the app, token \(IncidentConfig.token)")
        #expect(note.id == opened.id && note.note == "restarted the app, token <redacted>")

        #expect(await asyncError { () async throws(OpsError) in _ = try await service.close(id: 99, summary: "x") }?.code == "incident.unknown")
        let closed = try await service.close(id: opened.id, summary: "bad config, reverted")
        #expect(closed.id == opened.id && closed.timeToMitigate == nil && closed.notice == nil)
        #expect(!IncidentFiles.mayHaveOpenIncident(state: config.state, env: "production"))
        let again = await asyncError { () async throws(OpsError) in _ = try await service.close(id: opened.id, summary: "x") }
        #expect(again?.code == "incident.not_open" && again?.exitCode == 8)

        let postmortem = try service.show(id: opened.id)
        #expect(postmortem.timeline.map(\.kind) == [.opened, .bundle, .note, .closed])
        #expect(postmortem.timeline.map(\.actor) == ["alice", "alice", "alice", "alice"])
        #expect(postmortem.rendered.contains("| Closed | ") && postmortem.rendered.contains("bad config, reverted"))
        #expect(try service.list().incidents.map(\.open) == [false])
        #expect(opsError { () throws(OpsError) in _ = try service.show(id: 42) }?.code == "incident.unknown")
    }

    /// The ledger's events in the window, each with the recorded command it ran in and its exit.
    @Test func theTimelineNamesEachEventsCommandAndExit() throws {
        let setup = IncidentConfig()
        let (config, environment) = try setup.load()
        let ledger = try Ledger(path: config.state)
        let opened = Date(timeIntervalSince1970: 1_800_000_000)
        let id = try ledger.openIncident(env: "production", title: "5xx", severity: .critical, by: "alice", at: opened)
        // A failed deploy run by process 4242 (exit 3), a canary withdrawn, a rollback that mitigated.
        let failed = try ledger.beginDeployment(env: "production", kind: .deploy, version: "1.0.3", previousVersion: "1.0.1", gitCommit: nil, image: nil,
                                                container: nil, actor: "bob", message: nil, at: opened.addingTimeInterval(60))
        try ledger.database.query("UPDATE deployments SET pid = 4242 WHERE id = ?", [.integer(failed)])
        try ledger.finishDeployment(id: failed, status: .rolledBack, reason: "health check failed", at: opened.addingTimeInterval(90))
        try ledger.addIncidentEvent(IncidentEventDraft(kind: .command, at: opened.addingTimeInterval(59), finishedAt: opened.addingTimeInterval(91), actor: "bob",
                                                       text: "opsctl deploy production 1.0.3", exitCode: 3, errorCode: nil, pid: 4242), to: [id])
        // A status run at the same moment by another process does not claim the deploy.
        try ledger.addIncidentEvent(IncidentEventDraft(kind: .command, at: opened.addingTimeInterval(59.5), finishedAt: opened.addingTimeInterval(61), actor: "carol",
                                                       text: "opsctl status production", exitCode: 0, pid: 99), to: [id])
        let canary = try ledger.beginDeployment(env: "production", kind: .deploy, version: "1.0.4", previousVersion: "1.0.1", gitCommit: nil, image: nil,
                                                container: nil, actor: "bob", message: nil, strategy: "canary", at: opened.addingTimeInterval(120))
        var step = CanaryStepReport(step: 1, share: 10, startedAt: opened.addingTimeInterval(125))
        step.verdict = .failed
        try ledger.recordCanaryStep(deploymentId: canary, step)
        try ledger.finishDeployment(id: canary, status: .rolledBack, reason: "5xx share 40%", at: opened.addingTimeInterval(150))
        try ledger.addIncidentEvent(IncidentEventDraft(kind: .note, at: opened.addingTimeInterval(200), actor: "alice", text: "rolling back by hand"), to: [id])
        let back = try ledger.beginDeployment(env: "production", kind: .rollback, version: "1.0.0", previousVersion: "1.0.1", gitCommit: nil, image: nil,
                                              container: nil, actor: "alice", message: nil, at: opened.addingTimeInterval(300))
        try ledger.finishDeployment(id: back, status: .succeeded, at: opened.addingTimeInterval(330))
        // Before the incident: not on its timeline.
        _ = try ledger.beginDeployment(env: "production", kind: .deploy, version: "1.0.1", previousVersion: nil, gitCommit: nil, image: nil,
                                       container: nil, actor: "bob", message: nil, at: opened.addingTimeInterval(-600))

        let service = IncidentService(config: config, environment: environment, context: OpsContext(now: { opened.addingTimeInterval(3600) }))
        let postmortem = try service.show(id: id)
        #expect(postmortem.timeline.map(\.kind) == [.opened, .command, .command, .autoRollback, .canaryWithdrawal, .note, .rollback])
        let failedEntry = try #require(postmortem.timeline.first { $0.kind == .autoRollback })
        #expect(failedEntry.exitCode == 3 && failedEntry.actor == "bob" && failedEntry.command == "opsctl deploy production 1.0.3")
        #expect(failedEntry.text == "deploy 1.0.3 failed and was rolled back to 1.0.1: health check failed")
        #expect(postmortem.timeline.first { $0.kind == .canaryWithdrawal }?.text.contains("withdrawn at step 1 (10% of traffic)") == true)
        let mitigation = try #require(postmortem.timeToMitigate)
        #expect(mitigation.seconds == 330 && mitigation.by == "alice" && mitigation.what.hasPrefix("rollback to 1.0.0"))
        #expect(postmortem.open && postmortem.durationSeconds == 3600)
        #expect(postmortem.rendered.contains("| Time to mitigate | 5m: rollback to 1.0.0"))
        #expect(postmortem.rendered.contains("(in `opsctl deploy production 1.0.3`) | bob | 3 |"), "\(postmortem.rendered)")
    }

    /// With no incident open a command costs one access(2): not even the ledger file is created.
    @Test func commandsRecordThemselvesOnlyWhileOneIsOpen() throws {
        let setup = IncidentConfig()
        let (config, _) = try setup.load()
        let run = IncidentCommandLog.Run(arguments: ["status", "production", "--message", IncidentConfig.token], actor: "bob", startedAt: Date(),
                                         finishedAt: Date(), exitCode: 69, errorCode: "docker.unavailable")
        IncidentCommandLog.record(run, env: "production", config: config, logger: .init(label: "test"))
        #expect(!FileManager.default.fileExists(atPath: config.state))

        let ledger = try Ledger(path: config.state)
        let id = try ledger.openIncident(env: "production", title: "t", severity: .minor, by: nil, at: Date()) { () throws(OpsError) in
            try IncidentFiles.syncMarker(state: config.state, env: "production", open: try ledger.openIncidents(env: "production"))
        }
        IncidentCommandLog.record(run, env: "staging", config: config, logger: .init(label: "test"))
        IncidentCommandLog.record(run, env: "production", config: config, logger: .init(label: "test"))
        let events = try ledger.incidentEvents(incident: id)
        #expect(events.map(\.kind) == [.command])
        #expect(events.first?.text == "opsctl status production --message <redacted>")
        #expect(events.first?.exitCode == 69 && events.first?.errorCode == "docker.unavailable" && events.first?.pid == Int(getpid()))
    }

    @Test func metricsCountOpenIncidentsBySeverity() {
        let open = [IncidentRecord(id: 1, env: "p", title: "a", severity: .critical, openedAt: Date()),
                    IncidentRecord(id: 2, env: "p", title: "b", severity: .critical, openedAt: Date())]
        let samples = IncidentMetrics.samples(env: "p", open: open)
        #expect(samples.map { $0.labels.map { $0.1 } } == [["p", "critical"], ["p", "major"], ["p", "minor"]])
        #expect(samples.map(\.value) == [2, 0, 0])
        #expect(MetricsFile.render(samples).contains("opsctl_incidents_open{env=\"p\",severity=\"critical\"} 2"))
    }
}

func asyncError(_ body: () async throws(OpsError) -> Void) async -> OpsError? {
    do { try await body(); return nil } catch { return error }
}
