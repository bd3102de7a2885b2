// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `backup.encryption` in opsctl.yml: recipients validated at load (a typo would make every
/// backup unreadable), the identity only located, never read.
struct EncryptionConfigTests {
    let directory = TemporaryDirectory("opsctl-encryption-config")
    let identity = AgeIdentity.generate()

    func parse(_ encryption: String) throws(OpsError) -> BackupEncryption? {
        let yaml = """
            app: dashboard
            image: dashboard
            environments:
              production:
                backup:
                  dir: backups
                  encryption: \(encryption)

            """
        let config = try ConfigLoader.parse(yaml, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: [:])
        return try config.environment(named: "production").backup?.encryption
    }

    func message(_ encryption: String) -> String {
        do throws(OpsError) { _ = try parse(encryption); return "parsed" } catch { return error.message }
    }

    @Test func recipientsAndIdentityLocation() throws {
        let other = AgeIdentity.generate().recipient
        let encryption = try #require(try parse("{recipients: [\"\(identity.recipient)\", \"\(other)\", \"\(identity.recipient)\"], identity_file: keys/id.txt}"))
        #expect(encryption.recipients == [identity.recipient, other], "duplicates dropped, order kept")
        #expect(encryption.identityFile == directory.path + "/keys/id.txt", "relative to the config, and not read: it does not exist")
        let command = try #require(try parse("{recipients: [\"\(identity.recipient)\"], identity_command: [pass, show, ops/backup-identity]}"))
        #expect(command.identityCommand == ["pass", "show", "ops/backup-identity"])
    }

    @Test func badRecipientsAreConfigErrorsNamingTheKey() {
        var typo = Array(identity.recipient.description)
        typo[12] = typo[12] == "q" ? "p" : "q"
        let cases: [(String, String)] = [
            ("{identity_file: k.txt}", "environments.production.backup.encryption.recipients: required to enable encryption"),
            ("{recipients: []}", "environments.production.backup.encryption.recipients: needs at least one recipient"),
            ("{recipients: [\"\(identity.recipient)\", \"\(String(typo))\"]}", "environments.production.backup.encryption.recipients[1]: malformed age recipient"),
            ("{recipients: [\"\(identity.secretKeyText)\"]}", "that is a secret key (identity), not a recipient"),
            ("{recipients: \"\(identity.recipient)\"}", "expected a list"),
            ("{recipients: [\"\(identity.recipient)\"], identity_file: a, identity_command: [cat, a]}", "identity_file and identity_command are alternatives"),
            ("{recipients: [\"\(identity.recipient)\"], identity: x}", "identity"),
        ]
        for (yaml, expected) in cases {
            let text = message(yaml)
            #expect(text.contains(expected), "\(yaml): \(text)")
            #expect(!text.contains(identity.secretKeyText), "a pasted secret key is never quoted back")
        }
        #expect(OpsError.Kind.config.exitCode == 78)
    }
}

/// The backup service itself: the scratch copy of a database too large for memory goes beside
/// the database, never beside the encrypted backups; nothing of it is left.
@Suite(.serialized)
struct EncryptedBackupServiceTests {
    let directory = TemporaryDirectory("opsctl-encrypted-service")

    @Test(arguments: [true, false])
    func encryptedBackupsDecryptToTheGzipTheManifestDescribes(inMemory: Bool) async throws {
        try FileManager.default.createDirectory(atPath: directory.file("data"), withIntermediateDirectories: true)
        try await generateDatabase(directory.file("data/app.db"), megabytes: 1)
        let identity = AgeIdentity.generate()
        var request = BackupRequest(databasePath: directory.file("data/app.db"), directory: directory.file("backups"))
        request.encryption = BackupEncryption(recipients: [identity.recipient])
        request.snapshotInMemory = inMemory
        request.prune = false
        let report = try BackupService.run(request, context: OpsContext())
        #expect(report.file.hasSuffix(".db.gz.age"))
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: report.path)))
        let gzip = try AgeDecryptor.decrypt(file, identities: [identity])
        #expect(gzip.starts(with: [0x1f, 0x8b]))
        let encryption = try #require(report.manifest.encryption)
        #expect(encryption.plaintextBytes == Int64(gzip.count))
        #expect(report.manifest.bytes == Int64(file.count))
        let result = try BackupVerifier.verify(path: report.path, deep: true, temporaryDirectory: directory.path, keys: BackupKeys(identities: [identity]))
        #expect(result.ok, "\(result.reason ?? "")")
        #expect(result.encrypted && result.skipped == nil)
        #expect(result.databaseBytes == report.manifest.database.bytes)
        for folder in ["data", "backups"] {
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file(folder)).filter { $0.hasPrefix(".opsctl-tmp") }.isEmpty)
        }
    }
}
