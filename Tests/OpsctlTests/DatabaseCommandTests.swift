// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `opsctl db` end to end: the built binary, a real database, a real writer and reader.
@Suite(.serialized)
final class DatabaseCommandTests {
    let directory = TemporaryDirectory("opsctl-db-e2e")
    let app = "db\(UInt32.random(in: 0...UInt32.max))"
    var containers: [String] = []
    var opsctl: Opsctl { Opsctl(directory: directory.path) }
    var database: String { directory.path + "/data/app.db" }

    init() throws {
        try directory.write("opsctl.yml", """
            app: \(app)
            image: opsctl-sample
            environments:
              production:
                database:
                  path: data/app.db
                  maintenance: {max_wal: 256MiB, max_freelist: 20%, busy_timeout: 1s}
                backup: {dir: backups, name: app}

            """)
        try FileManager.default.createDirectory(atPath: directory.path + "/data", withIntermediateDirectories: true)
    }

    deinit {
        for name in containers {
            let process = try? Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: ["docker", "rm", "-f", name])
            process?.waitUntilExit()
        }
    }

    func generate(megabytes: Double = 2, journalMode: String = "wal") async throws {
        try await shell("python3", [Opsctl.repositoryRoot + "/Tests/Fixtures/db/generate.py", database, String(megabytes), "--journal-mode", journalMode])
    }

    func files() -> [Data] {
        [database, database + "-wal"].map { (try? Data(contentsOf: URL(fileURLWithPath: $0))) ?? Data() }
    }

    func check(_ document: [String: Any], _ id: String) -> [String: Any]? {
        (document["checks"] as? [[String: Any]])?.first { $0["id"] as? String == id }
    }

    /// A reader left on an old snapshot while the app writes: `opsctl db`, status, preflight
    /// and the handoff warn while the WAL is still far below max_wal, and name the reader.
    @Test func aReaderPinningTheWALIsReportedBeforeItReachesMaxWAL() async throws {
        try await generate()
        let writer = try WriterProcess(database: database, intervalMs: 2, payloadBytes: 3000)
        let reader = try LockHolder(database: database, statements: "BEGIN; SELECT COUNT(*) FROM seq")
        defer { reader.stop(); writer.stop() }
        // The event itself: frames pile up behind the reader (an app's auto-checkpoint keeps fewer than 1000).
        let deadline = ContinuousClock.now + .seconds(300)
        while (WALIndex.read(database: database)?.pendingFrames ?? 0) < 2000 {
            try #require(ContinuousClock.now < deadline, "the WAL never grew behind the reader")
            try await Task.sleep(for: .milliseconds(50))
        }
        // Frozen, so what the commands see is what was measured (a loaded machine may take long to run them).
        kill(writer.pid, SIGSTOP)

        let db = try await opsctl.run("--json", "db", "production")
        #expect(db.exitCode == 0, "\(db.stdout) \(db.stderr)")
        let status = try db.json()
        let pinned = try #require(check(status, "checkpoint"))
        #expect(pinned["verdict"] as? String == "warn")
        #expect((pinned["summary"] as? String)?.contains("pid \(reader.pid) (python3)") == true, "\(pinned)")
        #expect((pinned["fix"] as? String)?.contains("checkpoint --mode truncate") == true)
        let walBytes = try #require((status["facts"] as? [String: Any])?["wal_bytes"] as? Int)
        #expect(walBytes < 256 << 20, "the warning comes while the WAL is under max_wal: \(walBytes) bytes")
        #expect(check(status, "wal")?["verdict"] as? String != "fail")

        let text = try await opsctl.run("db", "production")
        #expect(text.stdout.contains("WARN  checkpoint    a reader keeps the WAL from being checkpointed: pid \(reader.pid) (python3)"), "\(text.stdout)")

        let overview = try await opsctl.run("--json", "status", "production").json()
        let glance = try #require(overview["database"] as? [String: Any])
        #expect(check(glance, "checkpoint")?["verdict"] as? String == "warn", "\(glance)")
        #expect(try await opsctl.run("status", "production").stdout.contains("WARN  checkpoint"))

        let preflight = try await opsctl.run("--json", "preflight", "production").json()
        #expect(check(preflight, "database.wal")?["status"] as? String == "warn", "\(preflight["checks"] ?? "")")

        let handoff = try await opsctl.run("handoff", "production", "--format", "json").json()
        let findings = try #require(handoff["findings"] as? [[String: Any]])
        let finding = try #require(findings.first { $0["rule"] as? String == "database.checkpoint" }, "\(findings)")
        #expect(finding["level"] as? String == "Warning")
        #expect((finding["detail"] as? String)?.contains("pid \(reader.pid)") == true)

        // The fix: the reader ends, the WAL is cut back to nothing, the writer lost nothing.
        reader.stop()
        kill(writer.pid, SIGCONT)
        try await writer.waitForCommits(20)
        let (status0, report) = writer.finish()
        #expect(status0 == 0 && report.contains("busy 0 errors 0"), "\(report)")
        let truncate = try await opsctl.run("--json", "db", "production", "checkpoint", "--mode", "truncate")
        #expect(truncate.exitCode == 0, "\(truncate.stdout) \(truncate.stderr)")
        #expect(try truncate.json()["completed"] as? Bool == true)
        #expect(try truncate.json()["wal_bytes_after"] as? Int == 0)
        let clean = try await opsctl.run("--json", "db", "production").json()
        #expect(check(clean, "checkpoint")?["verdict"] as? String == "ok")
    }

    @Test func eachBadDatabaseHasItsOwnExitCodeAndNothingChanges() async throws {
        // Missing: 66.
        let missing = try await opsctl.run("--json", "db", "production", "optimize")
        #expect(missing.exitCode == 66)
        #expect((try missing.json()["error"] as? [String: Any])?["code"] as? String == "database.missing")
        #expect(try await opsctl.run("db", "production").exitCode == 66)
        #expect(!FileManager.default.fileExists(atPath: database), "nothing created")

        // Not SQLite: 65.
        try directory.write("data/app.db", "id,name\n1,not a database\n")
        let text = files()
        for action in ["status", "optimize", "vacuum", "checkpoint"] {
            let result = try await opsctl.run("--json", "db", "production", action)
            #expect(result.exitCode == 65, "\(action): \(result.stdout)")
            #expect((try result.json()["error"] as? [String: Any])?["code"] as? String == "database.not_sqlite")
        }
        #expect(files() == text)

        // Not in WAL mode: 9 (status still prints every line).
        try FileManager.default.removeItem(atPath: database)
        try await generate(journalMode: "delete")
        let rollback = files()
        let status = try await opsctl.run("db", "production")
        #expect(status.exitCode == 9)
        #expect(status.stdout.contains("FAIL  journal_mode  delete"), "\(status.stdout)")
        for action in ["optimize", "vacuum", "checkpoint"] {
            let result = try await opsctl.run("--json", "db", "production", action)
            #expect(result.exitCode == 9, "\(action): \(result.stdout)")
            #expect((try result.json()["error"] as? [String: Any])?["code"] as? String == "database.not_wal")
        }
        #expect(files() == rollback)

        // Corrupt: 65. The header is fine; pages in the middle are garbage.
        try FileManager.default.removeItem(atPath: database)
        try await generate(megabytes: 4)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: database))
        try handle.seek(toOffset: 4096 * 200)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 4096 * 8))
        try handle.close()
        let corrupt = files()
        let looked = try await opsctl.run("db", "production")
        #expect(looked.exitCode == 65, "\(looked.stdout) \(looked.stderr)")
        for action in ["optimize", "vacuum"] {
            let result = try await opsctl.run("--json", "db", "production", action)
            #expect(result.exitCode == 65, "\(action): \(result.stdout)")
        }
        #expect(files() == corrupt)
    }

    @Test func aLockedDatabaseIsExit75() async throws {
        try await generate()
        // An exclusive lock: nothing else may even read it.
        let exclusive = try LockHolder(database: database, statements: "BEGIN IMMEDIATE; COMMIT", pragmas: "PRAGMA locking_mode = EXCLUSIVE")
        let before = files()
        let status = try await opsctl.run("--json", "db", "production")
        #expect(status.exitCode == 75, "\(status.stdout)")
        #expect((try status.json()["error"] as? [String: Any])?["code"] as? String == "database.busy")
        exclusive.stop()
        #expect(files() == before)

        // The app's own write transaction, held past busy_timeout.
        let writer = try LockHolder(database: database, statements: "BEGIN IMMEDIATE; INSERT INTO sessions (user) VALUES ('held')")
        defer { writer.stop() }
        let held = files()
        let optimize = try await opsctl.run("db", "production", "optimize")
        #expect(optimize.exitCode == 75)
        #expect(optimize.stderr.contains("stayed locked past the busy timeout (1s)"), "\(optimize.stderr)")
        #expect(try await opsctl.run("db", "production", "checkpoint", "--mode", "truncate").exitCode == 75)
        #expect(files() == held)
    }

    @Test func theCommandLineFormsAndTheWeeklyTimer() async throws {
        try await generate()
        let status = try await opsctl.run("db", "status", "production")
        #expect(status.exitCode == 0, "\(status.stderr)")
        #expect(status.stdout.hasPrefix("database \(database) (production)"))
        #expect(try await opsctl.run("db", "production", "status").exitCode == 0)
        #expect(try await opsctl.run("db", "production", "defrag").exitCode == 64)
        #expect(try await opsctl.run("db", "production", "vacuum", "--full").exitCode == 64)
        #expect(try await opsctl.run("db", "production", "checkpoint", "--mode", "restart").exitCode == 64)
        #expect(try await opsctl.run("db", "staging").exitCode == 64)
        #expect(try await opsctl.run("db", "production", "optimize", "--no-pause").exitCode == 64)
        #expect(try await opsctl.run("db", "production", "vacuum", "--pause", "30s", "--no-pause").exitCode == 64)
        // No proxy here: --pause cannot be honoured (78, before anything is read); --no-pause is what happens anyway.
        let noProxy = try await opsctl.run("--json", "db", "production", "vacuum", "--pause", "30s")
        #expect(noProxy.exitCode == 78, "\(noProxy.stdout)")
        #expect((try noProxy.json()["error"] as? [String: Any])?["code"] as? String == "maintenance.no_proxy")
        #expect(try await opsctl.run("db", "production", "vacuum", "--no-pause").exitCode == 0)

        let optimize = try await opsctl.run("--json", "db", "production", "optimize")
        #expect(optimize.exitCode == 0, "\(optimize.stderr)")
        let report = try optimize.json()
        #expect((report["changed"] as? [[String: Any]])?.first?["table"] as? String == "sessions")
        #expect((report["writers_held"] as? [String: Any])?["transactions"] as? Int ?? 0 >= 1)

        let initialised = TemporaryDirectory("opsctl-db-init")
        #expect(try await Opsctl(directory: initialised.path).run("init").exitCode == 0)
        let timer = try initialised.read("ops/systemd/opsctl-db@.timer")
        #expect(timer.contains("OnCalendar=Sun *-*-* 03:30:00"))
        let service = try initialised.read("ops/systemd/opsctl-db@.service")
        #expect(service.contains("ExecStart=/usr/local/bin/opsctl db %i optimize\n"))
        #expect(service.contains("ExecStart=/usr/local/bin/opsctl db %i vacuum --if-needed\n"))
        #expect(try initialised.read("ops/cron/opsctl.cron").contains("opsctl db production optimize && opsctl db production vacuum --if-needed"))
    }

    /// A vacuum that must swap the file is refused while the app's container runs, like a restore.
    @Test(.enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
    func aSwapIsRefusedWhileTheAppRuns() async throws {
        try await generate(megabytes: 4)
        try SQLiteDatabase(path: database).execute("DELETE FROM sessions WHERE id % 2 = 0")
        let name = "\(app)-production-1.0.0"
        containers.append(name)
        try await runAppRelease(of: app)
        let before = files()
        let refused = try await opsctl.run("--json", "db", "production", "vacuum")
        #expect(refused.exitCode == 1)
        #expect((try refused.json()["error"] as? [String: Any])?["code"] as? String == "database.app_running")
        #expect(files() == before)
        try await shell("docker", ["stop", "-t", "1", name])
        let vacuumed = try await opsctl.run("--json", "db", "production", "vacuum")
        #expect(vacuumed.exitCode == 0, "\(vacuumed.stdout) \(vacuumed.stderr)")
        #expect(try vacuumed.json()["method"] as? String == "swap")
    }
}
