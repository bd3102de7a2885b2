// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

@Suite(.serialized)
final class RestoreCommandTests {
    let directory = TemporaryDirectory("opsctl-restore-e2e")
    let app = "rs\(UInt32.random(in: 0...UInt32.max))"
    var containers: [String] = []
    var opsctl: Opsctl { Opsctl(directory: directory.path) }
    var live: String { directory.path + "/data/app.db" }

    init() throws {
        try directory.write("opsctl.yml", """
            app: \(app)
            image: opsctl-sample
            environments:
              production:
                driver: docker
                database: {path: data/app.db}
                backup: {dir: backups, name: app}

            """)
    }

    deinit {
        for name in containers {
            let process = try? Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: ["docker", "rm", "-f", name])
            process?.waitUntilExit()
        }
    }

    func rows(_ path: String) throws -> Int {
        try SQLiteDatabase(path: path, mode: .readOnly).query("SELECT COUNT(*) FROM sessions").first?.int(0) ?? -1
    }

    /// A live database, one verified backup of it, then more writes to the live database.
    func prepare() async throws -> (backedUpRows: Int, liveRows: Int) {
        try FileManager.default.createDirectory(atPath: directory.path + "/data", withIntermediateDirectories: true)
        try await shell("python3", [Opsctl.repositoryRoot + "/Tests/Fixtures/db/generate.py", live, "1"])
        let backedUp = try rows(live)
        #expect(try await opsctl.run("backup", "production").exitCode == 0)
        #expect(try await opsctl.run("verify", "production").exitCode == 0)
        let database = try SQLiteDatabase(path: live)
        try database.execute("INSERT INTO sessions (user, status, note) VALUES ('late', 'active', 'after the backup')")
        return (backedUp, try rows(live))
    }

    @Test(.enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
    func restoresWithASafetyCopyAndRefusesWhileTheAppRuns() async throws {
        let counts = try await prepare()
        #expect(counts.liveRows == counts.backedUpRows + 1)

        // A drill never touches the live database.
        let liveBefore = try Data(contentsOf: URL(fileURLWithPath: live))
        let drill = try await opsctl.run("restore", "production", "--to", "drill/app.db")
        #expect(drill.exitCode == 1 || drill.exitCode == 74, "missing directory: \(drill.stderr)")
        try FileManager.default.createDirectory(atPath: directory.path + "/drill", withIntermediateDirectories: true)
        let drilled = try await opsctl.run("restore", "production", "--to", "drill/app.db")
        #expect(drilled.exitCode == 0, "\(drilled.stderr)")
        #expect(try rows(directory.path + "/drill/app.db") == counts.backedUpRows)
        #expect(try Data(contentsOf: URL(fileURLWithPath: live)) == liveBefore)
        #expect(try await opsctl.run("restore", "production", "--to", "drill/app.db").exitCode == 64, "exists: needs --force")

        // The app runs: refused, nothing changed.
        let name = "\(app)-production-1.0.0"
        containers.append(name)
        try await runAppRelease(of: app)
        let refused = try await opsctl.run("restore", "production")
        #expect(refused.exitCode == 1)
        #expect(refused.stderr.contains("\(name) is running"))
        #expect(try rows(live) == counts.liveRows)
        try await shell("docker", ["stop", "-t", "1", name])

        // Stopped: restored, with the current database kept as a safety copy.
        let restored = try await opsctl.run("restore", "production", "--json")
        #expect(restored.exitCode == 0, "\(restored.stderr)")
        let safety = try #require(try restored.json()["safety_copy"] as? String)
        #expect(safety.hasSuffix(".pre-restore.db.gz"))
        try await shell("gzip", ["-t", safety])
        #expect(try rows(live) == counts.backedUpRows)
        // No stale WAL from the old database next to the restored one.
        let walSize = (try? FileManager.default.attributesOfItem(atPath: live + "-wal")[.size] as? Int) ?? 0
        #expect(walSize == 0)
        // The safety copy is not a backup retention would count or prune.
        #expect(try await opsctl.run("backups", "production").stdout.contains("1 backup of app"))
    }

    @Test func aBadBackupIsRefusedAndTheLiveDatabaseIsUntouched() async throws {
        _ = try await prepare()
        let liveBefore = try Data(contentsOf: URL(fileURLWithPath: live))
        let good = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/backups").first { $0.hasSuffix(".db.gz") }!
        let data = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/backups/\(good)"))
        try data.prefix(data.count - 100).write(to: URL(fileURLWithPath: directory.path + "/backups/app_20200101_020000.db.gz"))
        let result = try await opsctl.run("restore", "production", "app_20200101_020000.db.gz", "--force")
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains("failed verification: truncated at byte"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: live)) == liveBefore)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path + "/data").filter { $0.hasPrefix(".opsctl-tmp") }.isEmpty)
    }

    @Test func anUnwritableOrFullTargetIsExit74() async throws {
        _ = try await prepare()
        let unwritable = try await opsctl.run("restore", "production", "--to", "/proc/opsctl-restore.db")
        #expect(unwritable.exitCode == 74, "\(unwritable.stderr)")
        guard getuid() == 0 else { return }
        let small = directory.path + "/small"
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        try await shell("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", small])
        defer { _ = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: [small]).waitUntilExit() }
        let full = try await opsctl.run("restore", "production", "--to", "small/app.db")
        #expect(full.exitCode == 74, "\(full.stderr)")
        #expect(full.stderr.contains("No space left on device"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: small).isEmpty)
    }

    /// SIGKILL at random points of a restore: the live database is always whole, old or new.
    @Test func anInterruptedRestoreLeavesAWholeDatabase() async throws {
        try FileManager.default.createDirectory(atPath: directory.path + "/data", withIntermediateDirectories: true)
        try await shell("python3", [Opsctl.repositoryRoot + "/Tests/Fixtures/db/generate.py", live, "30"])
        #expect(try await opsctl.run("backup", "production").exitCode == 0)
        #expect(try await opsctl.run("verify", "production").exitCode == 0)
        let old = try rows(live)
        for round in 0..<8 {
            try SQLiteDatabase(path: live).execute("INSERT INTO sessions (user, status, note) VALUES ('r\(round)', 'active', 'x')")
            let before = try rows(live)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Opsctl.binary)
            process.arguments = ["restore", "production", "--force", "-q"]
            process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...900)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let check = try SQLiteDatabase(path: live, mode: .readOnly).query("PRAGMA quick_check").first?.string(0)
            #expect(check == "ok", "round \(round)")
            let now = try rows(live)
            #expect(now == before || now == old, "round \(round): \(now) rows, expected \(before) (untouched) or \(old) (restored)")
            try await Task.sleep(for: .milliseconds(1000))   // safety copies are named by the second
        }
    }
}
