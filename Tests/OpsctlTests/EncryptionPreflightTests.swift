// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `encryption.identity`: the identity belongs where restores happen, not beside the backups it decrypts.
struct EncryptionPreflightTests {
    func configure(_ fixture: PreflightFixture, _ encryption: String) throws {
        try fixture.writeConfig()
        let config = try fixture.directory.read("opsctl.yml")
            .replacingOccurrences(of: "backup: {dir: backups}", with: "backup: {dir: backups, encryption: \(encryption)}")
        try fixture.directory.write("opsctl.yml", config)
    }

    func check(_ fixture: PreflightFixture) async throws -> (status: String, summary: String, output: String) {
        let result = try await fixture.run()
        let found = try #require(result.checks["encryption.identity"]?.first, "\(result.output)")
        return (found.status, found.summary, result.output)
    }

    @Test func warnsOnAnIdentityOnThisHostAndFailsOnOneOthersCanRead() async throws {
        let fixture = try await PreflightFixture()
        #expect(try await fixture.run().checks["encryption.identity"] == nil, "no encryption, no check")
        let identity = AgeIdentity.generate()
        let recipients = "[\"\(identity.recipient)\"]"

        try configure(fixture, "{recipients: \(recipients)}")
        var found = try await check(fixture)
        #expect(found.status == "pass" && found.summary.contains("this host can write backups but not read them"), "\(found)")

        try configure(fixture, "{recipients: \(recipients), identity_file: keys/identity.txt}")
        found = try await check(fixture)
        #expect(found.status == "pass" && found.summary.contains("keys/identity.txt is not on this host"), "\(found)")

        try fixture.directory.write("keys/identity.txt", "# created by a test\n\(identity.secretKeyText)\n", mode: 0o600)
        found = try await check(fixture)
        #expect(found.status == "warn" && found.summary.contains("is on this host with the recipients"), "\(found)")

        chmod(fixture.directory.file("keys/identity.txt"), 0o644)
        found = try await check(fixture)
        #expect(found.status == "fail" && found.summary.contains("is mode 644: group or others can read the backup identity"), "\(found)")
        #expect(!found.output.contains(identity.secretKeyText))

        try fixture.directory.write("keys/identity.txt", AgeIdentity.generate().secretKeyText + "\n", mode: 0o600)
        found = try await check(fixture)
        #expect(found.status == "fail" && found.summary.contains("matches none of backup.encryption.recipients"), "\(found)")

        // A command identity is never run by preflight.
        let marker = fixture.directory.file("ran")
        try configure(fixture, "{recipients: \(recipients), identity_command: [touch, \(marker)]}")
        found = try await check(fixture)
        #expect(found.status == "pass" && found.summary.contains("identity_command, run only by verify and restore"), "\(found)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }
}
