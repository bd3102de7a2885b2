// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// The bad-backup corpus, built here, and the exact reason each one gets.
@Suite(.serialized)
struct BackupVerifierTests {
    let directory = TemporaryDirectory("opsctl-verify")
    var backups: String { directory.file("backups") }

    /// A real backup (with manifest) of a small generated database.
    func goodBackup() async throws -> BackupReport {
        try await generateDatabase(directory.file("app.db"), megabytes: 2)
        var request = BackupRequest(databasePath: directory.file("app.db"), directory: backups)
        request.prune = false
        return try BackupService.run(request, context: OpsContext())
    }

    func verify(_ path: String, deep: Bool = false) throws -> VerificationResult {
        try BackupVerifier.verify(path: path, deep: deep, temporaryDirectory: directory.path)
    }

    /// Copies a backup under a new seed-style name (no manifest) with `edit` applied to its bytes.
    func variant(_ report: BackupReport, _ name: String, edit: (inout Data) -> Void) throws -> String {
        var data = try Data(contentsOf: URL(fileURLWithPath: report.path))
        edit(&data)
        let path = "\(backups)/\(name)"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func aGoodBackupPassesQuickAndDeepChecks() async throws {
        let report = try await goodBackup()
        for deep in [false, true] {
            let result = try verify(report.path, deep: deep)
            #expect(result.ok, "\(result.reason ?? "")")
            #expect(result.hasManifest)
            #expect(result.pageCount == report.manifest.database.pageCount)
            #expect(result.databaseBytes == report.manifest.database.bytes)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(".opsctl-tmp") }.isEmpty)
    }

    @Test func brokenFilesGetPreciseReasons() async throws {
        let report = try await goodBackup()
        let size = try Data(contentsOf: URL(fileURLWithPath: report.path)).count
        let cases: [(String, (inout Data) -> Void, String)] = [
            ("app_20200101_000001.db.gz", { $0 = Data() }, "empty file (0 bytes)"),
            ("app_20200101_000002.db.gz", { $0 = Data("SQLite format 3\0 but not gzip".utf8) }, "not gzip (bad magic bytes)"),
            ("app_20200101_000003.db.gz", { $0 = $0.prefix(size / 2) }, "truncated at byte \(size / 2)"),
            ("app_20200101_000004.db.gz", { $0.append(contentsOf: Array("garbage".utf8)) }, "trailing garbage after the gzip stream at byte \(size)"),
            ("app_20200101_000005.db.gz", { $0 = $0.prefix(size - 3) }, "truncated at byte \(size - 3) (in the gzip trailer)"),
            ("app_20200101_000006.db.gz", { data in
                // The stored CRC itself.
                data[data.count - 8] ^= 0xff
            }, "CRC mismatch"),
        ]
        for (name, edit, expected) in cases {
            let result = try verify(try variant(report, name, edit: edit))
            #expect(!result.ok)
            #expect(result.reason?.hasPrefix(expected) == true, "\(name): \(result.reason ?? "ok")")
            #expect(!result.hasManifest)
        }
        // Flipped bits in the compressed data: zlib or the CRC catches them.
        let flipped = try verify(try variant(report, "app_20200101_000007.db.gz") { data in
            for offset in stride(from: data.count / 3, to: data.count / 3 + 64, by: 8) { data[offset] ^= 0x5a }
        })
        #expect(!flipped.ok)
        #expect(["corrupt deflate data", "CRC mismatch", "length mismatch"].contains { flipped.reason?.hasPrefix($0) == true }, "\(flipped.reason ?? "ok")")
    }

    @Test func manifestMismatches() async throws {
        let report = try await goodBackup()
        // A copy under another name, with its manifest: the bytes match, so it passes with a note.
        let copy = directory.file("pre-migration.db.gz")
        try FileManager.default.copyItem(atPath: report.path, toPath: copy)
        try FileManager.default.copyItem(atPath: report.path + ".manifest.json", toPath: copy + ".manifest.json")
        let renamed = try verify(copy)
        #expect(renamed.ok, "\(renamed.reason ?? "")")
        #expect(renamed.note == "a copy of \(report.file) (its manifest names that file; sha256 and size checked against it)")
        // Another name and other bytes (the gzip header's timestamp: still valid gzip): the manifest's hash decides.
        let other = try variant(report, "app_20200101_000011.db.gz") { $0[4] ^= 0x01 }
        try FileManager.default.copyItem(atPath: report.path + ".manifest.json", toPath: other + ".manifest.json")
        #expect(try verify(other).reason == "sha256 differs from manifest")
        // The right file name, a different hash.
        var manifest = report.manifest
        manifest.sha256 = String(repeating: "0", count: 64)
        try AtomicFile.write(try manifest.encoded(), to: report.path + ".manifest.json")
        #expect(try verify(report.path).reason == "sha256 differs from manifest")
        // No manifest at all (the old script's backups): checked as far as possible.
        unlink(report.path + ".manifest.json")
        let bare = try verify(report.path)
        #expect(bare.ok && !bare.hasManifest)
    }

    @Test func aValidGzipOfACorruptDatabaseFails() async throws {
        try await generateDatabase(directory.file("app.db"), megabytes: 1, journalMode: "delete")
        // Flip bytes in the header of a b-tree page in the middle of the file.
        var data = try Data(contentsOf: URL(fileURLWithPath: directory.file("app.db")))
        let page = (data.count / 4096 / 2) * 4096
        for offset in 0..<8 { data[page + offset] ^= 0xa5 }
        try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: directory.file("corrupt.db")))
        try await setUp("sh", ["-c", "gzip -c \"$1\" > \"$2\"", "sh", directory.file("corrupt.db"), "\(backups)/app_20200101_000020.db.gz"])
        try await setUp("gzip", ["-t", "\(backups)/app_20200101_000020.db.gz"])   // gzip -t is satisfied...
        let result = try verify("\(backups)/app_20200101_000020.db.gz")
        #expect(!result.ok)                                                        // ...opsctl is not
        #expect(result.reason?.hasPrefix("quick_check: ") == true || result.reason?.hasPrefix("database is corrupt") == true, "\(result.reason ?? "ok")")

        try directory.write("notes.txt", String(repeating: "plain text, not a database\n", count: 200))
        try await setUp("sh", ["-c", "gzip -c \"$1\" > \"$2\"", "sh", directory.file("notes.txt"), "\(backups)/app_20200101_000021.db.gz"])
        #expect(try verify("\(backups)/app_20200101_000021.db.gz").reason == "not an SQLite database (bad header)")
    }
}
