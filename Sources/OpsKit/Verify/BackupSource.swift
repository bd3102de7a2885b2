// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// A backup file as the verifier reads it, one pass: the file's own SHA-256 and size always;
/// for an age file, the header parsed and the payload decrypted on the fly, so the gzip check
/// sees the gzip stream inside and no decrypted byte is ever written anywhere but the
/// verification copy. Without an identity only the header is read and the rest hashed.
final class BackupSource {
    /// None of the identities opens the file (kept apart from damage: the caller decides which it is).
    struct IdentityMismatch: Error {
        var stanzas: [String]
    }

    let input: FileHandle
    let isAge: Bool
    private var decryptor: AgeDecryptor
    private var fileHasher = SHA256()
    private(set) var fileBytes: Int64 = 0
    private var peeked: Data?
    private var finished = false

    /// Sniffs the first bytes: an age file by its content, or by its name or manifest (so a
    /// damaged `.age` file fails as a damaged age file, not as "not gzip").
    init(input: FileHandle, expectAge: Bool, identities: [AgeIdentity]) {
        self.input = input
        let first = Self.read(input)
        peeked = first
        isAge = expectAge || first.starts(with: Array(AgeHeader.versionPrefix.utf8))
        decryptor = AgeDecryptor(identities: identities)
    }

    static func read(_ input: FileHandle) -> Data {
        (try? input.read(upToCount: BackupVerifier.readSize)) ?? Data()
    }

    private func nextRaw() -> Data? {
        if let peeked {
            self.peeked = nil
            if !peeked.isEmpty { account(peeked) }
            return peeked.isEmpty ? nil : peeked
        }
        let chunk = Self.read(input)
        guard !chunk.isEmpty else { return nil }
        account(chunk)
        return chunk
    }

    private func account(_ chunk: Data) {
        fileHasher.update(data: chunk)
        fileBytes += Int64(chunk.count)
    }

    /// The gzip stream's next bytes, nil at its end. Damage is a `GzipCheck.Failure` (a result);
    /// a key that does not fit is `IdentityMismatch`.
    func next() throws -> Data? {
        guard isAge else { return nextRaw() }
        var plaintext = Data()
        let append = { (chunk: UnsafeRawBufferPointer) in plaintext.append(contentsOf: chunk) }
        while plaintext.isEmpty {
            guard !finished else { return nil }
            do throws(AgeDecryptor.Failure<Never>) {
                if let chunk = nextRaw() {
                    try decryptor.update([UInt8](chunk), output: append)
                } else {
                    finished = true
                    try decryptor.finish(output: append)
                }
            } catch {
                guard case .age(let failure) = error else { return nil }
                if case .noMatchingIdentity(let stanzas) = failure { throw IdentityMismatch(stanzas: stanzas) }
                throw GzipCheck.Failure(reason: failure.description, compressedBytes: fileBytes)
            }
        }
        return plaintext
    }

    /// No identity: parse the header, hash the rest. The header, or why the file is not a sound age file.
    func readHeaderOnly() -> Result<AgeHeader, AgeError> {
        while let chunk = nextRaw() {
            do throws(AgeDecryptor.Failure<Never>) { try decryptor.update([UInt8](chunk)) { _ in } } catch {
                if case .age(let failure) = error { return .failure(failure) }
            }
        }
        guard let header = decryptor.header else {
            do throws(AgeDecryptor.Failure<Never>) { try decryptor.finish { _ in } } catch {
                if case .age(let failure) = error { return .failure(failure) }
            }
            return .failure(.malformedHeader("the file ends inside the header"))
        }
        // Header, nonce, then a whole number of sealed chunks: a cut file shows even without the key.
        guard AgePayload.isValidSealedLength(fileBytes - Int64(header.length) - Int64(AgePayload.nonceSize)) else {
            return .failure(.truncated(atByte: fileBytes))
        }
        return .success(header)
    }

    var fileSha256: String { fileHasher.finalize().map { String(format: "%02x", $0) }.joined() }
}
