// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation
import Testing
@testable import OpsKit

/// An environment whose backups are encrypted to an age key made by the real age-keygen, checked
/// with the real age CLI and gunzip, as an operator without opsctl would at 3 a.m.
final class EncryptionFixture {
    let directory = TemporaryDirectory("opsctl-encrypted")
    var opsctl: Opsctl { Opsctl(directory: directory.path) }
    var backups: String { directory.path + "/backups" }
    var live: String { directory.path + "/data/app.db" }
    var identityFile: String { directory.file("keys/identity.txt") }
    var wrongIdentityFile: String { directory.file("keys/wrong.txt") }
    private(set) var recipient = ""
    private(set) var secretKey = ""

    init() async throws {
        try FileManager.default.createDirectory(atPath: directory.file("keys"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory.file("data"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory.file("drill"), withIntermediateDirectories: true)
        try await shell("age-keygen", ["-o", identityFile])
        try await shell("age-keygen", ["-o", wrongIdentityFile])
        recipient = try await shell("age-keygen", ["-y", identityFile]).trimmingCharacters(in: .whitespacesAndNewlines)
        secretKey = try String(contentsOfFile: identityFile, encoding: .utf8).split(separator: "\n").first { $0.hasPrefix("AGE-SECRET-KEY-1") }.map(String.init) ?? ""
        try await shell("python3", [Opsctl.repositoryRoot + "/Tests/Fixtures/db/generate.py", live, "1"])
        try writeConfig()
    }

    /// `identity`: the lines under `encryption:` after the recipients (none: a host with only the public key).
    func writeConfig(identity: String? = "identity_file: keys/identity.txt", encrypted: Bool = true, name: String = "opsctl.yml") throws {
        let encryption = encrypted ? "\n      encryption:\n        recipients: [\"\(recipient)\"]" + (identity.map { "\n        \($0)" } ?? "") : ""
        try directory.write(name, """
            app: enc\(UInt32.random(in: 0...UInt32.max))
            image: opsctl-sample
            state: state.db
            environments:
              production:
                database: {path: data/app.db}
                backup:
                  dir: backups
                  name: app\(encryption)

            """)
    }

    func rows(_ path: String) throws -> Int {
        try SQLiteDatabase(path: path, mode: .readOnly).query("SELECT COUNT(*) FROM sessions").first?.int(0) ?? -1
    }

    func backup() async throws -> (file: String, manifest: BackupManifest) {
        let run = try await opsctl.run("backup", "production", "--json")
        #expect(run.exitCode == 0, "\(run.stderr)")
        let file = try #require(try run.json()["file"] as? String)
        return (file, try BackupManifest.read("\(backups)/\(file).manifest.json"))
    }

    func sha256(_ path: String) throws -> String {
        SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path))).map { String(format: "%02x", $0) }.joined()
    }

    /// Every file under the directory, recursively.
    func allFiles() throws -> [String] {
        (FileManager.default.enumerator(atPath: directory.path)?.allObjects as? [String] ?? []).map { directory.file($0) }
            .filter { (try? FileManager.default.attributesOfItem(atPath: $0)[.type] as? FileAttributeType) == .typeRegular }
    }

    /// A new second: backups are named to the second.
    func nextSecond() async throws { try await Task.sleep(for: .milliseconds(1050)) }
}

@Suite(.serialized, .enabled(if: RequiredTool.shouldRun("age", "age-keygen", "gunzip"), "needs age, age-keygen and gunzip (scripts/setup.sh)"))
struct EncryptionCommandTests {
    @Test func backupsAreAgeFilesThatAgeAndGunzipRestoreByHand() async throws {
        let fixture = try await EncryptionFixture()
        let (file, manifest) = try await fixture.backup()
        #expect(file.hasPrefix("app_") && file.hasSuffix(".db.gz.age"))
        let path = "\(fixture.backups)/\(file)"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(bytes.starts(with: Data("age-encryption.org/v1\n-> X25519 ".utf8)))
        #expect(manifest.sha256 == (try fixture.sha256(path)))
        #expect(manifest.bytes == Int64(bytes.count))
        let encryption = try #require(manifest.encryption)
        #expect(encryption.recipients == [fixture.recipient])
        #expect(encryption.format == "age-encryption.org/v1")

        // By hand: age -d -i KEY FILE | gunzip > app.db.
        let gzip = fixture.directory.file("drill/by-hand.db.gz")
        try await shell("age", ["-d", "-i", fixture.identityFile, "-o", gzip, path])
        #expect(try fixture.sha256(gzip) == encryption.plaintextSha256)
        #expect(Int64(try Data(contentsOf: URL(fileURLWithPath: gzip)).count) == encryption.plaintextBytes)
        try await shell("gunzip", [gzip])
        #expect(try fixture.rows(fixture.directory.file("drill/by-hand.db")) == (try fixture.rows(fixture.live)))

        // No plaintext left anywhere but the live database: no scratch file, no SQLite or gzip bytes in the backups.
        for other in try fixture.allFiles() where other.hasPrefix(fixture.backups) {
            let content = try Data(contentsOf: URL(fileURLWithPath: other))
            #expect(!URL(fileURLWithPath: other).lastPathComponent.hasPrefix(".opsctl-tmp"), "\(other)")
            #expect(content.range(of: Data("SQLite format 3".utf8)) == nil, "\(other)")
            if other.hasSuffix(".age") { #expect(!content.starts(with: [0x1f, 0x8b])) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.directory.file("data")).filter { $0.hasPrefix(".opsctl-tmp") }.isEmpty)
    }

    @Test func verifyDecryptsWithTheIdentityAndChecksWhatItCanWithout() async throws {
        let fixture = try await EncryptionFixture()
        let (file, _) = try await fixture.backup()
        let deep = try await fixture.opsctl.run("verify", "production", "--deep", "--json")
        #expect(deep.exitCode == 0, "\(deep.stdout)\(deep.stderr)")
        let result = try #require((try deep.json()["results"] as? [[String: Any]])?.first)
        #expect(result["encrypted"] as? Bool == true)
        #expect(result["skipped"] == nil)
        #expect(result["page_count"] as? Int ?? result["pageCount"] as? Int ?? 0 > 0, "\(result)")

        // The production host: recipients only, or an identity_file that is elsewhere.
        for identity in [nil, "identity_file: /nonexistent/backup-identity.txt"] {
            try fixture.writeConfig(identity: identity)
            let shallow = try await fixture.opsctl.run("verify", "production")
            #expect(shallow.exitCode == 0, "\(shallow.stdout)\(shallow.stderr)")
            #expect(shallow.stdout.contains("ok      \(file)  ciphertext sha256 and age header"), "\(shallow.stdout)")
            #expect(shallow.stdout.contains("deep check skipped"), "\(shallow.stdout)")
        }
        #expect(try await fixture.opsctl.run("verify", "production").stdout.contains("/nonexistent/backup-identity.txt is not on this host"))
        let manifest = try BackupManifest.read("\(fixture.backups)/\(file).manifest.json")
        #expect(manifest.verification?.status == .ok)
        #expect(manifest.verification?.skipped?.contains("deep check skipped") == true)

        // --identity on the command line; the wrong key is exit 7 and says so.
        let given = try await fixture.opsctl.run("verify", "--file", "backups/\(file)", "--identity", fixture.identityFile)
        #expect(given.exitCode == 0, "\(given.stdout)\(given.stderr)")
        #expect(!given.stdout.contains("skipped"))
        let wrong = try await fixture.opsctl.run("verify", "--file", "backups/\(file)", "--identity", fixture.wrongIdentityFile)
        #expect(wrong.exitCode == 7, "\(wrong.stdout)\(wrong.stderr)")
        #expect(wrong.stderr.contains("the identity does not match the backup's recipients (encrypted to \(fixture.recipient)"), "\(wrong.stderr)")
    }

    @Test func restoreDecryptsOnTheFlyAndAWrongOrMissingIdentityLeavesNothing() async throws {
        let fixture = try await EncryptionFixture()
        _ = try await fixture.backup()
        #expect(try await fixture.opsctl.run("verify", "production").exitCode == 0)
        let restored = try await fixture.opsctl.run("restore", "production", "--to", "drill/restored.db")
        #expect(restored.exitCode == 0, "\(restored.stdout)\(restored.stderr)")
        #expect(try fixture.rows(fixture.directory.file("drill/restored.db")) == (try fixture.rows(fixture.live)))

        // In place (--force: no runtime to ask): the safety copy of the replaced database is encrypted too.
        let inPlace = try await fixture.opsctl.run("restore", "production", "--force", "--json")
        #expect(inPlace.exitCode == 0, "\(inPlace.stdout)\(inPlace.stderr)")
        let safety = try #require(try inPlace.json()["safety_copy"] as? String ?? inPlace.json()["safetyCopy"] as? String, "\(inPlace.stdout)")
        #expect(safety.hasSuffix(".pre-restore.db.gz.age"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: safety)).starts(with: Data("age-encryption.org/v1\n".utf8)))

        let wrong = try await fixture.opsctl.run("restore", "production", "--to", "drill/wrong.db", "--identity", fixture.wrongIdentityFile, "--json")
        #expect(wrong.exitCode == 7, "\(wrong.stdout)\(wrong.stderr)")
        #expect((try wrong.json()["error"] as? [String: Any])?["code"] as? String == "encryption.identity_mismatch")
        try fixture.writeConfig(identity: nil)
        let missing = try await fixture.opsctl.run("restore", "production", "--to", "drill/missing.db")
        #expect(missing.exitCode == 7, "\(missing.stdout)\(missing.stderr)")
        #expect(missing.stderr.contains("is encrypted (age) and there is no identity to decrypt it"), "\(missing.stderr)")
        // (restored.db-wal and -shm are this test's own reads of the restored WAL database.)
        let left = try FileManager.default.contentsOfDirectory(atPath: fixture.directory.file("drill")).filter { !$0.hasPrefix("restored.db") }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func truncatedAndBitFlippedCopiesFailClearlyAndRestoreNothing() async throws {
        let fixture = try await EncryptionFixture()
        let (file, _) = try await fixture.backup()
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(fixture.backups)/\(file)"))
        let manifestText = try fixture.directory.read("backups/\(file).manifest.json")
        // Damaged copies, each with the original's manifest beside it.
        var flipped = original
        flipped[original.count / 2] ^= 0x10
        let cases: [(String, Data, String)] = [
            ("app_20200101_000001.db.gz.age", original.prefix(original.count - 1000), "does not authenticate: the file is truncated or corrupted"),
            ("app_20200101_000002.db.gz.age", flipped, "does not authenticate: the file is corrupted or was tampered with"),
        ]
        for (name, bytes, expected) in cases {
            try bytes.write(to: URL(fileURLWithPath: "\(fixture.backups)/\(name)"))
            try fixture.directory.write("backups/\(name).manifest.json", manifestText)
            let deep = try await fixture.opsctl.run("verify", "--file", "backups/\(name)", "--identity", fixture.identityFile)
            #expect(deep.exitCode == 1, "\(deep.stdout)\(deep.stderr)")
            #expect(deep.stdout.contains(expected), "\(name): \(deep.stdout)")
            let restore = try await fixture.opsctl.run("restore", "production", name, "--to", "drill/\(name).db")
            #expect(restore.exitCode == 1, "\(restore.stdout)\(restore.stderr)")
            #expect(restore.stderr.contains("failed verification"), "\(restore.stderr)")
        }
        // Without the key: the ciphertext hash catches both.
        try fixture.writeConfig(identity: nil)
        for (name, _, _) in cases {
            let shallow = try await fixture.opsctl.run("verify", "--file", "backups/\(name)")
            #expect(shallow.exitCode == 1)
            #expect(shallow.stdout.contains("sha256 differs from manifest"), "\(shallow.stdout)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.directory.file("drill")).isEmpty)
    }

    @Test func opsctlRestoresWhatAgeEncryptedAndMixedDirectoriesKeepWorking() async throws {
        let fixture = try await EncryptionFixture()
        // An old plaintext backup, from before encryption was turned on.
        try fixture.writeConfig(encrypted: false)
        let (plain, _) = try await fixture.backup()
        #expect(plain.hasSuffix(".db.gz"))
        try await fixture.nextSecond()
        try fixture.writeConfig()
        let (encrypted, _) = try await fixture.backup()
        // One written by hand with gzip | age -r, no manifest.
        let gzip = fixture.directory.file("by-hand.db.gz")
        try await shell("sh", ["-c", "gzip -c \"$1\" > \"$2\"", "sh", fixture.live, gzip])
        try await shell("age", ["-r", fixture.recipient, "-o", "\(fixture.backups)/app_20200101_000000.db.gz.age", gzip])

        let listed = try await fixture.opsctl.run("backups", "production", "--json")
        let files = (try listed.json()["backups"] as? [[String: Any]])?.compactMap { $0["file"] as? String }
        #expect(files == [encrypted, plain, "app_20200101_000000.db.gz.age"], "\(listed.stdout)")
        let verified = try await fixture.opsctl.run("verify", "production")
        #expect(verified.exitCode == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout.contains("all 3 backup(s) verified"), "\(verified.stdout)")
        #expect(try await fixture.opsctl.run("verify", "production", "--latest").stdout.contains(encrypted))

        let byHand = try await fixture.opsctl.run("restore", "production", "app_20200101_000000.db.gz.age", "--to", "drill/by-hand.db")
        #expect(byHand.exitCode == 0, "\(byHand.stdout)\(byHand.stderr)")
        let oldPlain = try await fixture.opsctl.run("restore", "production", plain, "--to", "drill/plain.db")
        #expect(oldPlain.exitCode == 0, "\(oldPlain.stdout)\(oldPlain.stderr)")
        let newest = try await fixture.opsctl.run("restore", "production", "--to", "drill/newest.db", "--json")
        #expect(newest.exitCode == 0, "\(newest.stdout)\(newest.stderr)")
        #expect((try newest.json()["backup"] as? String)?.hasSuffix(encrypted) == true)

        let pruned = try await fixture.opsctl.run("prune", "production", "--keep-last", "1", "--json")
        #expect(pruned.exitCode == 0, "\(pruned.stdout)\(pruned.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.backups).filter { BackupNaming.time(of: $0, name: "app") != nil } == [encrypted])
    }

    @Test func identityCommandRunsOnlyForCommandsThatDecryptAndNothingSecretIsPrinted() async throws {
        let fixture = try await EncryptionFixture()
        let marker = fixture.directory.file("identity-command-ran")
        try fixture.writeConfig(identity: "identity_command: [sh, -c, 'touch \"$0\"; cat keys/identity.txt', \(marker)]")
        var outputs: [String] = []
        for arguments in [["backup", "production", "-v", "-v"], ["backups", "production", "--json"], ["config", "check", "--json"]] {
            let run = try await fixture.opsctl.run(arguments)
            #expect(run.exitCode == 0, "\(arguments): \(run.stderr)")
            outputs += [run.stdout, run.stderr]
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "backup, backups and config check never fetch the identity")
        for arguments in [["verify", "production", "--deep", "-v", "-v", "--json"], ["restore", "production", "--to", "drill/r.db", "-v", "-v", "--json"]] {
            let run = try await fixture.opsctl.run(arguments)
            #expect(run.exitCode == 0, "\(arguments): \(run.stdout)\(run.stderr)")
            outputs += [run.stdout, run.stderr]
        }
        #expect(FileManager.default.fileExists(atPath: marker))
        let secret = String(fixture.secretKey.dropFirst("AGE-SECRET-KEY-1".count))
        #expect(secret.count > 40)
        for text in outputs { #expect(!text.uppercased().contains(secret), "\(text)") }
        for file in try fixture.allFiles() where !file.hasPrefix(fixture.directory.file("keys")) {
            let content = String(decoding: try Data(contentsOf: URL(fileURLWithPath: file)), as: UTF8.self).uppercased()
            #expect(!content.contains(secret), "the identity leaked into \(file)")
        }

        // A failing identity command: the secret error (setting named), exit 69, nothing restored.
        try fixture.writeConfig(identity: "identity_command: [sh, -c, 'echo vault is sealed >&2; exit 3']")
        let failed = try await fixture.opsctl.run("restore", "production", "--to", "drill/failed.db")
        #expect(failed.exitCode == 69, "\(failed.stderr)")
        #expect(failed.stderr.contains("environments.production.backup.encryption.identity_command: the secret command"), "\(failed.stderr)")
        #expect(failed.stderr.contains("vault is sealed"))
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("drill/failed.db")))
    }

    @Test func aMalformedRecipientIsAConfigErrorNamingTheKey() async throws {
        let fixture = try await EncryptionFixture()
        try fixture.directory.write("opsctl.yml", try fixture.directory.read("opsctl.yml").replacingOccurrences(of: fixture.recipient, with: fixture.recipient.dropLast() + "x"))
        let run = try await fixture.opsctl.run("backup", "production")
        #expect(run.exitCode == 78, "\(run.stderr)")
        #expect(run.stderr.contains("environments.production.backup.encryption.recipients[0]: malformed age recipient"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fixture.backups))
    }
}
