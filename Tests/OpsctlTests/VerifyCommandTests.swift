// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

@Suite(.serialized)
struct VerifyCommandTests {
    let directory = TemporaryDirectory("opsctl-verify-e2e")
    var opsctl: Opsctl { Opsctl(directory: directory.path) }

    @Test func verifiesRecordsAndExitsOneOnABadBackup() async throws {
        try FileManager.default.createDirectory(atPath: directory.path + "/data", withIntermediateDirectories: true)
        try await shell("python3", [Opsctl.repositoryRoot + "/Tests/Fixtures/db/generate.py", directory.path + "/data/app.db", "2"])
        try directory.write("opsctl.yml", """
            app: app
            image: app
            environments:
              production:
                database: {path: data/app.db}
                backup: {dir: backups}
                metrics: {textfile_dir: metrics}

            """)
        let backup = try await opsctl.run("backup", "production", "--json")
        #expect(backup.exitCode == 0, "\(backup.stderr)")
        let file = try #require(try backup.json()["file"] as? String)
        // An old, truncated backup from the seed script.
        let good = try Data(contentsOf: URL(fileURLWithPath: "\(directory.path)/backups/\(file)"))
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: "\(directory.path)/backups/app_20200101_020000.db.gz"))

        let all = try await opsctl.run("verify", "production")
        #expect(all.exitCode == 1)
        #expect(all.stdout.contains("ok      \(file)"))
        #expect(all.stdout.contains("FAILED  app_20200101_020000.db.gz  truncated at byte \(good.count / 2)"))
        #expect(all.stdout.contains("ok      live database"))

        let manifest = try BackupManifest.read("\(directory.path)/backups/\(file).manifest.json")
        #expect(manifest.verification?.status == .ok)
        #expect(try await opsctl.run("backups", "production").stdout.contains("yes ("))
        let metrics = try directory.read("metrics/opsctl_production.prom")
        #expect(metrics.contains("opsctl_verify_failed_backups{env=\"production\"} 1"))
        #expect(try await opsctl.run("status", "production").stdout.contains("last verify:     "))

        let latest = try await opsctl.run("verify", "production", "--latest", "--deep", "--json")
        #expect(latest.exitCode == 0, "\(latest.stdout)")
        let results = try #require(try latest.json()["results"] as? [[String: Any]])
        #expect(results.count == 1)
        #expect(results.first?["ok"] as? Bool == true)

        let single = try await opsctl.run("verify", "--file", "backups/app_20200101_020000.db.gz")
        #expect(single.exitCode == 1)

        // A copy under another name, manifest and all (pre-migration, a download from off-site):
        // the bytes match the manifest, so it verifies, with a note naming the original.
        try FileManager.default.copyItem(atPath: "\(directory.path)/backups/\(file)", toPath: "\(directory.path)/pre-migration.db.gz")
        try FileManager.default.copyItem(atPath: "\(directory.path)/backups/\(file).manifest.json", toPath: "\(directory.path)/pre-migration.db.gz.manifest.json")
        let copy = try await opsctl.run("verify", "--file", "pre-migration.db.gz")
        #expect(copy.exitCode == 0, "\(copy.stdout)\(copy.stderr)")
        #expect(copy.stdout.contains("ok      pre-migration.db.gz"))
        #expect(copy.stdout.contains("note: a copy of \(file)"))
        // One changed byte in the copy and the manifest's hash fails it.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: "\(directory.path)/pre-migration.db.gz"))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: "\(directory.path)/pre-migration.db.gz"))
        let tampered = try await opsctl.run("verify", "--file", "pre-migration.db.gz")
        #expect(tampered.exitCode == 1, "\(tampered.stdout)")
        let usage = try await opsctl.run("verify", "production", "--file", "x")
        #expect(usage.exitCode == 64)
    }
}
