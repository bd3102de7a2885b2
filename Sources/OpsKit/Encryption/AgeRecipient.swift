// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// An age X25519 recipient: the public key a backup is encrypted to, written `age1…`
/// (what `age-keygen` prints as "Public key"). Public: safe in opsctl.yml, logs and manifests.
public struct AgeRecipient: Sendable, Hashable, Codable, CustomStringConvertible {
    static let hrp = "age"
    static let stanzaType = "X25519"
    static let label = Array("age-encryption.org/v1/X25519".utf8)

    /// The 32-byte Curve25519 point.
    public let publicKey: [UInt8]

    /// Parses `age1…`; throws `.malformedRecipient` saying what is wrong with it.
    public init(_ text: String) throws(AgeError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("age1") else {
            if trimmed.hasPrefix("AGE-SECRET-KEY-") {
                throw .malformedRecipient("that is a secret key (identity), not a recipient: put the \"age1…\" public key here and keep the secret key off this host")
            }
            throw .malformedRecipient("\"\(Self.shortened(trimmed))\" does not start with \"age1\" (only X25519 recipients are supported)")
        }
        let decoded: (hrp: String, data: [UInt8])
        do { decoded = try Bech32.decode(trimmed) } catch {
            throw .malformedRecipient("\"\(Self.shortened(trimmed))\" \(error)")
        }
        guard decoded.hrp == Self.hrp, decoded.data.count == 32 else {
            throw .malformedRecipient("\"\(Self.shortened(trimmed))\" is not an X25519 recipient (\(decoded.data.count) bytes; post-quantum and plugin recipients are not supported)")
        }
        publicKey = decoded.data
    }

    init(publicKey: [UInt8]) {
        self.publicKey = publicKey
    }

    /// `age1…`, as age-keygen prints it.
    public var description: String { Bech32.encode(hrp: Self.hrp, data: publicKey) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The file key wrapped for this recipient: a fresh ephemeral share, X25519, HKDF, and
    /// ChaCha20-Poly1305 with an all-zero nonce (the key is used once).
    func wrap(_ fileKey: SymmetricKey) throws(AgeError) -> AgeStanza {
        let ephemeral = Curve25519.KeyAgreement.PrivateKey()
        let share = [UInt8](ephemeral.publicKey.rawRepresentation)
        let theirs: Curve25519.KeyAgreement.PublicKey
        do { theirs = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: publicKey) } catch {
            throw .malformedRecipient("\(description) is not a valid Curve25519 point")
        }
        guard let secret = try? ephemeral.sharedSecretFromKeyAgreement(with: theirs), !Self.isAllZero(secret) else {
            throw .malformedRecipient("\(description) is a low-order point")
        }
        let wrapKey = Self.wrapKey(secret, share: share, recipient: publicKey)
        let body: [UInt8]
        do {
            let sealed = try ChaChaPoly.seal(fileKey.withUnsafeBytes { Array($0) }, using: wrapKey, nonce: try ChaChaPoly.Nonce(data: [UInt8](repeating: 0, count: 12)))
            body = Array(sealed.ciphertext) + Array(sealed.tag)
        } catch {
            throw .malformedRecipient("cannot wrap the file key: \(error)")
        }
        return AgeStanza(type: Self.stanzaType, arguments: [AgeBase64.encode(share)], body: body)
    }

    static func wrapKey(_ secret: SharedSecret, share: [UInt8], recipient: [UInt8]) -> SymmetricKey {
        secret.hkdfDerivedSymmetricKey(using: SHA256.self, salt: share + recipient, sharedInfo: label, outputByteCount: 32)
    }

    /// X25519 with a low-order point gives all zeros; the spec says to abort (swift-crypto does not check).
    static func isAllZero(_ secret: SharedSecret) -> Bool {
        secret.withUnsafeBytes { bytes in bytes.allSatisfy { $0 == 0 } }
    }

    static func shortened(_ text: String) -> String { text.count > 24 ? String(text.prefix(20)) + "…" : text }
}
