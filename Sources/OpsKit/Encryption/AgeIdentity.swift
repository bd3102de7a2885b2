// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// An age X25519 identity (`AGE-SECRET-KEY-1…`): the private key that decrypts backups. A
/// secret: its description and encoded form are the redaction marker, and no error ever
/// quotes it.
/// (`@unchecked Sendable`: swift-crypto 3 does not mark its keys, immutable values, Sendable.)
public struct AgeIdentity: @unchecked Sendable, CustomStringConvertible, Encodable {
    static let hrp = "AGE-SECRET-KEY-"

    let privateKey: Curve25519.KeyAgreement.PrivateKey
    /// The public key that goes with it: `age1…`, the recipient to put in opsctl.yml.
    public let recipient: AgeRecipient

    /// Parses one `AGE-SECRET-KEY-1…` line.
    public init(_ text: String) throws(AgeError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.uppercased().hasPrefix("AGE-SECRET-KEY-1") else {
            if trimmed.lowercased().hasPrefix("age1") {
                throw .malformedIdentity("found a public key (recipient) where a secret key was expected")
            }
            throw .malformedIdentity("a line does not start with \"AGE-SECRET-KEY-1\" (only X25519 identities are supported)")
        }
        let decoded: (hrp: String, data: [UInt8])
        do { decoded = try Bech32.decode(trimmed) } catch {
            throw .malformedIdentity("a secret key \(error)")
        }
        guard decoded.hrp.uppercased() == Self.hrp, decoded.data.count == 32,
              let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: decoded.data) else {
            throw .malformedIdentity("a secret key is not a 32-byte X25519 key")
        }
        privateKey = key
        recipient = AgeRecipient(publicKey: [UInt8](key.publicKey.rawRepresentation))
    }

    init(privateKey: Curve25519.KeyAgreement.PrivateKey) {
        self.privateKey = privateKey
        recipient = AgeRecipient(publicKey: [UInt8](privateKey.publicKey.rawRepresentation))
    }

    /// A new random identity (tests; operators use `age-keygen`).
    public static func generate() -> AgeIdentity { AgeIdentity(privateKey: Curve25519.KeyAgreement.PrivateKey()) }

    /// `AGE-SECRET-KEY-1…`, for writing an identity file. Never log it.
    public var secretKeyText: String { Bech32.encode(hrp: Self.hrp, data: [UInt8](privateKey.rawRepresentation)) }

    public var description: String { Secret.marker }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Secret.marker)
    }

    /// The identities of an identity file, as `age -i` reads it: one key a line, blank lines
    /// and `#` comments skipped. Errors name the line number, never its text.
    public static func parseFile(_ text: String) throws(AgeError) -> [AgeIdentity] {
        var identities: [AgeIdentity] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            do { identities.append(try AgeIdentity(String(line))) } catch {
                guard case .malformedIdentity(let why) = error else { throw error }
                throw .malformedIdentity("line \(index + 1): \(why)")
            }
        }
        guard !identities.isEmpty else { throw .malformedIdentity("no AGE-SECRET-KEY-1… line found") }
        return identities
    }

    /// The file key, when one of `stanzas` is addressed to this identity; nil when none is.
    /// A malformed X25519 stanza is a damaged header, whoever it was for (as age does).
    func unwrap(_ stanzas: [AgeStanza]) throws(AgeError) -> SymmetricKey? {
        for stanza in stanzas where stanza.type == AgeRecipient.stanzaType {
            guard stanza.arguments.count == 1, let share = AgeBase64.decode(Array(stanza.arguments[0].utf8)), share.count == 32 else {
                throw .malformedHeader("an X25519 stanza does not carry one 32-byte share")
            }
            guard stanza.body.count == 32 else { throw .malformedHeader("an X25519 stanza's body is not 32 bytes") }
            guard let ephemeral = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: share),
                  let secret = try? privateKey.sharedSecretFromKeyAgreement(with: ephemeral) else {
                throw .malformedHeader("an X25519 stanza's share is not a valid point")
            }
            guard !AgeRecipient.isAllZero(secret) else { throw .malformedHeader("an X25519 stanza's share is a low-order point") }
            let wrapKey = AgeRecipient.wrapKey(secret, share: share, recipient: recipient.publicKey)
            guard let box = try? ChaChaPoly.SealedBox(nonce: try ChaChaPoly.Nonce(data: [UInt8](repeating: 0, count: 12)),
                                                       ciphertext: stanza.body.prefix(16), tag: stanza.body.suffix(16)),
                  let fileKey = try? ChaChaPoly.open(box, using: wrapKey) else { continue }
            return SymmetricKey(data: fileKey)
        }
        return nil
    }
}
