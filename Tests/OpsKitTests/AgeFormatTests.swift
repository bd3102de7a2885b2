// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CZlib
import Crypto
import Foundation
import OpsTestSupport
import Testing
@testable import OpsKit

/// The age testkit (C2SP/CCTV): every X25519, header, stanza, HMAC and STREAM vector decrypts,
/// or fails, exactly as the spec's reference implementation says.
struct AgeTestkitTests {
    struct Vector {
        var name: String
        var expect: String
        var payload: String?
        var identities: [String]
        var file: [UInt8]
    }

    static let directory = "\(repositoryRoot)/Tests/Fixtures/age-testkit"

    static func vectors() throws -> [Vector] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasSuffix(".md") }.sorted().map(load)
    }

    static func load(_ name: String) throws -> Vector {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)")))
        var vector = Vector(name: name, expect: "", payload: nil, identities: [], file: [])
        var rest = bytes[...]
        var compressed = false
        while let newline = rest.firstIndex(of: 0x0a) {
            let line = String(decoding: rest[rest.startIndex..<newline], as: UTF8.self)
            rest = rest[(newline + 1)...]
            if line.isEmpty { break }
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            switch parts[0] {
            case "expect": vector.expect = parts[1]
            case "payload": vector.payload = parts[1]
            case "identity": vector.identities.append(parts[1])
            case "compressed": compressed = parts[1] == "zlib"
            default: break
            }
        }
        vector.file = compressed ? try inflate(Array(rest)) : Array(rest)
        return vector
    }

    static func inflate(_ input: [UInt8]) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 64 << 20)
        var length = uLongf(output.count)
        let status = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                uncompress(target.baseAddress, &length, source.baseAddress, uLong(source.count))
            }
        }
        guard status == Z_OK else { throw OpsError(.software, code: "test.zlib", "uncompress failed: \(status)") }
        return Array(output.prefix(Int(length)))
    }

    /// The outcome class a testkit vector names, from what our decryptor did.
    static func outcome(_ vector: Vector) -> (String, [UInt8]) {
        var plaintext: [UInt8] = []
        do {
            let identities = try vector.identities.map { (text) throws(AgeError) in try AgeIdentity(text) }
            plaintext = try AgeDecryptor.decrypt(vector.file, identities: identities)
            return ("success", plaintext)
        } catch {
            switch error {
            case .noMatchingIdentity: return ("no match", plaintext)
            case .badHeaderMAC: return ("HMAC failure", plaintext)
            case .notAgeFile, .unsupportedVersion, .malformedHeader: return ("header failure", plaintext)
            case .payloadCorrupt, .finalChunkCorrupt, .truncated, .trailingData: return ("payload failure", plaintext)
            case .malformedIdentity, .malformedRecipient, .noRecipients: return ("bad key: \(error)", plaintext)
            }
        }
    }

    @Test func everyVectorHasTheExpectedOutcome() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count >= 60)
        for vector in vectors {
            let (got, plaintext) = Self.outcome(vector)
            #expect(got == vector.expect, "\(vector.name): expected \(vector.expect), got \(got)")
            if vector.expect == "success", let payload = vector.payload {
                let digest = SHA256.hash(data: plaintext).map { String(format: "%02x", $0) }.joined()
                #expect(digest == payload, "\(vector.name): payload hash")
            }
        }
    }

    /// Re-encrypting every successful vector's plaintext round-trips (the encoder side of STREAM).
    @Test func successfulPayloadsRoundTrip() throws {
        let identity = AgeIdentity.generate()
        for vector in try Self.vectors() where vector.expect == "success" {
            let (_, plaintext) = Self.outcome(vector)
            let file = try AgeEncryptor.encrypt(plaintext, to: [identity.recipient])
            #expect(try AgeDecryptor.decrypt(file, identities: [identity]) == plaintext, "\(vector.name)")
        }
    }
}

/// Streaming in pieces of any size, chunk boundaries, keys and their errors.
struct AgeStreamTests {
    @Test func theSpecsExampleKeysMatch() throws {
        let identity = try AgeIdentity("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX")
        #expect(identity.recipient.description == "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj")
        #expect(try AgeRecipient("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj") == identity.recipient)
        #expect(identity.secretKeyText == "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX")
        #expect("\(identity)" == Secret.marker)
    }

    @Test(arguments: [0, 1, 65_535, 65_536, 65_537, 131_072, 200_001])
    func sizesAroundChunkBoundariesRoundTripInRandomPieces(size: Int) throws {
        let identities = [AgeIdentity.generate(), AgeIdentity.generate()]
        let plaintext = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        var encryptor = try AgeEncryptor(recipients: identities.map(\.recipient))
        var file: [UInt8] = []
        var offset = 0
        while offset < plaintext.count {
            let piece = min(Int.random(in: 1...100_000), plaintext.count - offset)
            encryptor.update(Array(plaintext[offset..<(offset + piece)])) { file.append(contentsOf: $0) }
            offset += piece
        }
        encryptor.finish { file.append(contentsOf: $0) }
        #expect(encryptor.ciphertextBytes == Int64(file.count))
        let sealedChunks = max(1, (size + 65_535) / 65_536)
        #expect(AgePayload.isValidSealedLength(Int64(size + sealedChunks * 16)))
        // Each identity alone decrypts it, fed in random pieces too.
        for identity in identities {
            var decryptor = AgeDecryptor(identities: [identity])
            var output: [UInt8] = []
            var position = 0
            while position < file.count {
                let piece = min(Int.random(in: 1...70_000), file.count - position)
                try decryptor.update(Array(file[position..<(position + piece)])) { output.append(contentsOf: $0) }
                position += piece
            }
            try decryptor.finish { output.append(contentsOf: $0) }
            #expect(output == plaintext)
            #expect(decryptor.stanzaTypes == ["X25519", "X25519"])
        }
    }

    @Test func aWrongIdentityIsNoMatchAndCorruptionIsNamed() throws {
        let identity = AgeIdentity.generate()
        let plaintext = [UInt8](repeating: 7, count: 150_000)
        let file = try AgeEncryptor.encrypt(plaintext, to: [identity.recipient])
        #expect(throws: AgeError.noMatchingIdentity(stanzas: ["X25519"])) { try AgeDecryptor.decrypt(file, identities: [AgeIdentity.generate()]) }
        let header = try AgeHeader.parse(Array(file.prefix(try #require(try AgeDecryptor.headerLength(file)))))
        let payloadStart = header.length + 16
        var flipped = file
        flipped[payloadStart + 70_000] ^= 0x01
        #expect(throws: AgeError.payloadCorrupt(chunk: 1, atByte: Int64(payloadStart + 65_552))) { try AgeDecryptor.decrypt(flipped, identities: [identity]) }
        var macFlipped = file
        macFlipped[header.length - 5] = macFlipped[header.length - 5] == 0x41 ? 0x42 : 0x41
        #expect(throws: AgeError.badHeaderMAC) { try AgeDecryptor.decrypt(macFlipped, identities: [identity]) }
        // Cut inside the last chunk, and exactly at a chunk boundary.
        #expect(throws: AgeError.finalChunkCorrupt(chunk: 2, atByte: Int64(payloadStart + 2 * 65_552))) {
            try AgeDecryptor.decrypt(Array(file.dropLast(10)), identities: [identity])
        }
        #expect(throws: AgeError.truncated(atByte: Int64(payloadStart + 2 * 65_552))) {
            try AgeDecryptor.decrypt(Array(file.prefix(payloadStart + 2 * 65_552)), identities: [identity])
        }
        #expect(throws: AgeError.finalChunkCorrupt(chunk: 2, atByte: Int64(payloadStart + 2 * 65_552))) {
            try AgeDecryptor.decrypt(file + [0], identities: [identity])
        }
        // After a full final chunk, one more byte is trailing data.
        let full = try AgeEncryptor.encrypt([UInt8](repeating: 1, count: 131_072), to: [identity.recipient])
        #expect(throws: AgeError.trailingData(atByte: Int64(full.count))) { try AgeDecryptor.decrypt(full + [0], identities: [identity]) }
        #expect(throws: AgeError.notAgeFile("it does not start with \"age-encryption.org/v1\"")) {
            try AgeDecryptor.decrypt([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3] + [UInt8](repeating: 0, count: 40), identities: [identity])
        }
    }

    @Test func malformedKeysSayWhatIsWrongWithoutQuotingASecret() throws {
        let identity = AgeIdentity.generate()
        let recipient = identity.recipient.description
        var typo = Array(recipient)
        typo[10] = typo[10] == "q" ? "p" : "q"
        for (text, expected) in [(String(typo), "bad checksum"), (String(recipient.uppercased().prefix(20) + recipient.dropFirst(20)), "mixes upper and lower case"),
                                 ("ssh-ed25519 AAAAC3", "does not start with \"age1\""), (identity.secretKeyText, "that is a secret key")] {
            do throws(AgeError) {
                _ = try AgeRecipient(text)
                Issue.record("\(text) parsed")
            } catch {
                #expect(error.description.contains(expected), "\(error)")
                #expect(!error.description.contains(identity.secretKeyText))
            }
        }
        var badSecret = Array(identity.secretKeyText)
        badSecret[30] = badSecret[30] == "Q" ? "P" : "Q"
        do throws(AgeError) {
            _ = try AgeIdentity.parseFile("# a comment\n\n" + String(badSecret) + "\n")
            Issue.record("parsed")
        } catch {
            #expect(error.description == "malformed age identity: line 3: a secret key has a bad checksum (a typo, or a truncated copy)")
        }
        #expect(throws: AgeError.malformedIdentity("no AGE-SECRET-KEY-1… line found")) { try AgeIdentity.parseFile("# only a comment\n") }
        #expect(throws: AgeError.noRecipients) { try AgeEncryptor(recipients: []) }
    }
}

/// The real `age` CLI (Debian's age 1.1) reads what opsctl writes, and opsctl reads what it writes.
@Suite(.enabled(if: RequiredTool.shouldRun("age", "age-keygen")))
struct AgeCLIInteropTests {
    let directory = TemporaryDirectory("opsctl-age")

    /// An identity file as age-keygen writes it: comment lines and the key; two keys, one file.
    func keyFile() async throws -> (path: String, recipients: [AgeRecipient]) {
        var recipients: [AgeRecipient] = []
        var text = ""
        for index in 0..<2 {
            let path = directory.file("key\(index).txt")
            try await setUp("age-keygen", ["-o", path])
            text += try String(contentsOfFile: path, encoding: .utf8) + "\n"
            recipients.append(try AgeRecipient(try await setUp("age-keygen", ["-y", path]).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let path = try directory.write("keys.txt", text, mode: 0o600)
        return (path, recipients)
    }

    @Test func ageDecryptsWhatOpsctlEncrypts() async throws {
        let keys = try await keyFile()
        let identities = try AgeIdentity.parseFile(try String(contentsOfFile: keys.path, encoding: .utf8))
        #expect(identities.map(\.recipient) == keys.recipients)
        for size in [0, 65_536, 300_000] {
            let plaintext = (0..<size).map { _ in UInt8.random(in: 0...255) }
            let encrypted = directory.file("opsctl-\(size).age")
            try Data(try AgeEncryptor.encrypt(plaintext, to: keys.recipients)).write(to: URL(fileURLWithPath: encrypted))
            // Each key on its own, as age -d -i reads it.
            for index in 0..<2 {
                let output = directory.file("out-\(size)-\(index)")
                try await setUp("age", ["-d", "-i", directory.file("key\(index).txt"), "-o", output, encrypted])
                // age opens -o on its first write: an empty plaintext leaves no file.
                let decrypted = FileManager.default.fileExists(atPath: output) ? [UInt8](try Data(contentsOf: URL(fileURLWithPath: output))) : []
                #expect(decrypted == plaintext)
            }
        }
    }

    @Test func opsctlDecryptsWhatAgeEncrypts() async throws {
        let keys = try await keyFile()
        let identities = try AgeIdentity.parseFile(try String(contentsOfFile: keys.path, encoding: .utf8))
        let plaintext = (0..<200_000).map { _ in UInt8.random(in: 0...255) }
        let input = directory.file("plain")
        try Data(plaintext).write(to: URL(fileURLWithPath: input))
        let encrypted = directory.file("age-written.age")
        try await setUp("age", ["-r", keys.recipients[1].description, "-r", AgeIdentity.generate().recipient.description, "-o", encrypted, input])
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: encrypted)))
        #expect(try AgeDecryptor.decrypt(file, identities: identities) == plaintext)
        #expect(try AgeDecryptor.decrypt(file, identities: [identities[1]]) == plaintext)
        #expect(throws: AgeError.noMatchingIdentity(stanzas: ["X25519", "X25519"])) { try AgeDecryptor.decrypt(file, identities: [identities[0]]) }
    }
}
