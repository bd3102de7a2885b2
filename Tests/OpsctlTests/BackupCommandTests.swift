// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `opsctl backup`, `backups` and `prune` as cron runs them.
@Suite(.serialized)
struct BackupCommandTests {
    let directory = TemporaryDirectory("opsctl-backup-e2e")
    var opsctl: Opsctl { Opsctl(directory: directory.path) }
    static let generator = Opsctl.repositoryRoot + "/Tests/Fixtures/db/generate.py"

    func generate(_ name: String, megabytes: Double) async throws {
        try await shell("python3", [Self.generator, "\(directory.path)/\(name)", String(megabytes)])
    }

    func writeConfig(retention: String = "{keep_last: 2}") throws {
        try directory.write("opsctl.yml", """
            app: dashboard
            image: dashboard
            environments:
              production:
                database: {path: data/dashboard.db}
                backup: {dir: backups, level: 6, retention: \(retention)}
                metrics: {textfile_dir: metrics}

            """)
    }

    @Test func backupFromConfigListsAndPrunes() async throws {
        try FileManager.default.createDirectory(atPath: directory.path + "/data", withIntermediateDirectories: true)
        try await generate("data/dashboard.db", megabytes: 2)
        try writeConfig()
        // Backups the seed's backup.sh made (same naming, no manifest) and files that are not backups.
        let backups = directory.path + "/backups"
        try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: true)
        for file in ["dashboard_20240101_020000.db.gz", "dashboard_20240102_020000.db.gz", "dashboard_20240103_020000.db.gz",
                     "notes.txt", "dashboard_latest.db.gz", "other_20240101_020000.db.gz"] {
            try directory.write("backups/\(file)", "old")
        }

        let listed = try await opsctl.run("backups", "production")
        #expect(listed.exitCode == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("3 backups of dashboard"))
        #expect(listed.stdout.contains("no manifest"))

        let dryRun = try await opsctl.run("prune", "production", "--dry-run", "--keep-last", "1")
        #expect(dryRun.exitCode == 0, "\(dryRun.stderr)")
        #expect(dryRun.stdout.contains("keep   dashboard_20240103_020000.db.gz  (newest backup, last 1)"), "\(dryRun.stdout)")
        #expect(dryRun.stdout.contains("delete dashboard_20240101_020000.db.gz"))
        #expect(FileManager.default.fileExists(atPath: backups + "/dashboard_20240101_020000.db.gz"), "dry run deletes nothing")

        let backup = try await opsctl.run("backup", "production", "--json")
        #expect(backup.exitCode == 0, "\(backup.stderr)")
        let document = try backup.json()
        #expect(document["ok"] as? Bool == true)
        let file = try #require(document["file"] as? String)
        let prune = try #require(document["prune"] as? [String: Any])
        // keep_last 2: the new backup and the newest old one stay; two old ones go.
        #expect((prune["deleted"] as? [String])?.sorted() == ["dashboard_20240101_020000.db.gz", "dashboard_20240102_020000.db.gz"])
        let remaining = try FileManager.default.contentsOfDirectory(atPath: backups).filter { !$0.hasPrefix(".") }.sorted()
        #expect(remaining == ["dashboard_20240103_020000.db.gz", "dashboard_latest.db.gz", file, file + ".manifest.json", "notes.txt",
                              "other_20240101_020000.db.gz"].sorted())
        let metrics = try directory.read("metrics/opsctl_production.prom")
        #expect(metrics.contains("opsctl_backup_last_success_timestamp_seconds{env=\"production\"}"))

        let json = try await opsctl.run("backups", "production", "--json")
        let entries = try #require(try json.json()["backups"] as? [[String: Any]])
        #expect(entries.first?["file"] as? String == file)
        #expect(try await opsctl.run("status", "production").stdout.contains("last backup:     succeeded"))
    }

    @Test func backupWithoutAConfig() async throws {
        try await generate("app.db", megabytes: 1)
        let result = try await opsctl.run("backup", "--db", "app.db", "--dir", "out")
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("backup out/app_"))
        let listed = try await opsctl.run("backups", "--dir", "out")
        #expect(listed.stdout.contains("1 backup of app in out"))
        #expect(listed.stdout.contains("not yet"))

        let usage = try await opsctl.run("backup", "production", "--db", "app.db")
        #expect(usage.exitCode == 64)
        let badLevel = try await opsctl.run("backup", "--db", "app.db", "--dir", "out", "--level", "11")
        #expect(badLevel.exitCode == 64)
        let notADatabase = try await opsctl.run("backup", "--db", "opsctl-missing.db", "--dir", "out")
        #expect(notADatabase.exitCode == 74)
        #expect(notADatabase.stderr.contains("no such database"))
    }

    /// SIGKILL at random moments: no file that looks like a backup is ever incomplete, and the
    /// next run removes what the killed one left.
    @Test func killNineNeverLeavesAPartialBackup() async throws {
        try await generate("big.db", megabytes: 40)
        let out = directory.path + "/out"
        var killedMidway = 0
        for round in 0..<12 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Opsctl.binary)
            process.arguments = ["backup", "--db", directory.path + "/big.db", "--dir", out, "--no-prune", "-q"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // From just after start-up (lock, snapshot) to well into compression.
            try await Task.sleep(for: .milliseconds(Int.random(in: 30...(200 + round * 60))))
            if process.isRunning { killedMidway += 1 }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            // A kill before the directory exists leaves nothing at all.
            let files = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
            for file in files where BackupNaming.time(of: file, name: "big") != nil {
                // Anything named like a backup is complete and matches its manifest.
                let manifest = try BackupManifest.read("\(out)/\(file).manifest.json")
                try await shell("gzip", ["-t", "\(out)/\(file)"])
                let size = try FileManager.default.attributesOfItem(atPath: "\(out)/\(file)")[.size] as? Int
                #expect(Int64(size ?? -1) == manifest.bytes, "\(file)")
            }
            try await Task.sleep(for: .milliseconds(1000))   // a new second: a new file name per round
        }
        #expect(killedMidway >= 10, "only \(killedMidway) of 12 runs were killed mid-way")
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { $0.hasPrefix(BackupNaming.temporaryPrefix) }
        let clean = try await opsctl.run("backup", "--db", "big.db", "--dir", "out", "--no-prune", "--json")
        #expect(clean.exitCode == 0, "\(clean.stderr)")
        #expect(Set((try clean.json()["stale_files_removed"] as? [String]) ?? []) == Set(leftovers))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix(BackupNaming.temporaryPrefix) }.isEmpty)
    }
}
