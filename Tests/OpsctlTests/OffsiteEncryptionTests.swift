// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// With backup.encryption, what lands in the bucket is the age file: awscli fetches ciphertext,
/// and only the identity turns it back into the database, through opsctl or through age | gunzip.
@Suite(.serialized, .enabled(if: MotoS3Server.shouldRun && RequiredTool.shouldRun("age", "age-keygen", "gunzip"),
                             "needs moto, awscli, age and gunzip (scripts/setup.sh; always required under CI=true)"))
struct OffsiteEncryptionTests {
    @Test func theOffsiteCopyIsCiphertextAndVerifiesAndRestoresRemotely() async throws {
        let fixture = try await OffsiteFixture(megabytes: 1)
        let identity = fixture.directory.file("identity.txt")
        try await shell("age-keygen", ["-o", identity])
        let recipient = try await shell("age-keygen", ["-y", identity]).trimmingCharacters(in: .whitespacesAndNewlines)
        // A plaintext backup first, from before encryption: the remote holds both kinds.
        let plain = try await fixture.run("backup", "production", "--json")
        #expect(plain.exitCode == 0, "\(plain.stderr)")
        try await fixture.nextSecond()
        try fixture.writeConfig(encryption: "{recipients: [\"\(recipient)\"], identity_file: identity.txt}")
        let backup = try await fixture.run("backup", "production", "--json")
        #expect(backup.exitCode == 0, "\(backup.stdout)\(backup.stderr)")
        let file = try #require(try backup.json()["file"] as? String)
        #expect(file.hasSuffix(".db.gz.age"))
        let manifest = try BackupManifest.read(fixture.backups + "/\(file).manifest.json")

        // Fetched by another client: the age file, byte for byte; gunzip cannot read it, no SQLite page is in it.
        let downloaded = fixture.directory.file("downloaded.db.gz.age")
        try await fixture.s3.aws(["s3", "cp", "s3://\(fixture.bucket)/\(fixture.prefix)\(file)", downloaded])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: downloaded))
        #expect(bytes.starts(with: Data("age-encryption.org/v1\n".utf8)))
        #expect(try fixture.sha256(downloaded) == manifest.sha256)
        #expect(bytes.range(of: Data("SQLite format 3".utf8)) == nil)
        let gunzip = try await SubprocessRunner().run(ProcessRequest("gunzip", ["-c", downloaded], timeout: .seconds(30)))
        #expect(!gunzip.succeeded, "gunzip must not read ciphertext")
        #expect(!gunzip.standardOutput.contains("SQLite format 3"))
        let head = try await fixture.s3.aws(["s3api", "head-object", "--bucket", fixture.bucket, "--key", fixture.prefix + file])
        #expect(head.contains("application/octet-stream"), "\(head)")
        // The identity holder decrypts it without opsctl.
        let gzip = fixture.directory.file("by-hand.db.gz")
        try await shell("age", ["-d", "-i", identity, "-o", gzip, downloaded])
        try await shell("gunzip", [gzip])
        let check = try await shell("sqlite3", [fixture.directory.file("by-hand.db"), "PRAGMA integrity_check"])
        #expect(check.trimmingCharacters(in: .whitespacesAndNewlines) == "ok")

        let listed = try await fixture.run("backups", "production", "--remote")
        #expect(listed.stdout.contains("2 off-site copies"), "\(listed.stdout)")
        #expect(listed.stdout.contains(file))
        let verified = try await fixture.run("verify", "production", "--remote", "--deep")
        #expect(verified.exitCode == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout.contains("all 2 backup(s) deep-verified"), "\(verified.stdout)")
        #expect(!verified.stdout.contains("skipped"))

        // A new host after a disaster: no local backups, the identity brought along.
        try FileManager.default.removeItem(atPath: fixture.backups)
        try FileManager.default.createDirectory(atPath: fixture.directory.file("drill"), withIntermediateDirectories: true)
        let restored = try await fixture.run("restore", "production", "--remote", "--to", "drill/restored.db", "--json")
        #expect(restored.exitCode == 0, "\(restored.stdout)\(restored.stderr)")
        #expect((try restored.json()["backup"] as? String)?.hasSuffix(file) == true)
        #expect(try SQLiteDatabase(path: fixture.directory.file("drill/restored.db"), mode: .readOnly).query("PRAGMA integrity_check").first?.string(0) == "ok")

        // Without the identity: the remote verify checks the ciphertext, a remote restore refuses (exit 7).
        try fixture.writeConfig(encryption: "{recipients: [\"\(recipient)\"]}")
        let shallow = try await fixture.run("verify", "production", "--remote", "--latest")
        #expect(shallow.exitCode == 0, "\(shallow.stdout)\(shallow.stderr)")
        #expect(shallow.stdout.contains("deep check skipped"), "\(shallow.stdout)")
        let refused = try await fixture.run("restore", "production", "--remote", file, "--to", "drill/refused.db")
        #expect(refused.exitCode == 7, "\(refused.stdout)\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("drill/refused.db")))
    }
}
