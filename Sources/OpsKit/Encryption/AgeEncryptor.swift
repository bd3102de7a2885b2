// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// age's payload constants (c2sp.org/age, "Payload"): a 16-byte nonce, then STREAM chunks of
/// 64 KiB of plaintext sealed with ChaCha20-Poly1305 under HKDF(file key, nonce, "payload"); the
/// chunk's 12-byte AEAD nonce is an 11-byte big-endian counter and a last-chunk flag byte.
enum AgePayload {
    /// `withUnsafeBytes` is `rethrows`, which loses a typed error: this keeps it.
    static func withBytes<Bytes: ContiguousBytes, E: Error>(_ bytes: Bytes, _ body: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        try bytes.withUnsafeBytes { raw in Result { () throws(E) in try body(raw) } }.get()
    }

    static let chunkSize = 64 * 1024
    static let tagSize = 16
    static let sealedChunkSize = chunkSize + tagSize
    static let nonceSize = 16
    static let fileKeySize = 16

    static func payloadKey(fileKey: SymmetricKey, nonce: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: fileKey, salt: nonce, info: Array("payload".utf8), outputByteCount: 32)
    }

    static func chunkNonce(_ counter: UInt64, last: Bool) -> ChaChaPoly.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for index in 0..<8 { bytes[3 + index] = UInt8(truncatingIfNeeded: counter >> UInt64(8 * (7 - index))) }
        bytes[11] = last ? 1 : 0
        // 12 bytes is always a valid ChaChaPoly nonce.
        return try! ChaChaPoly.Nonce(data: bytes)
    }

    /// Whether a payload of `bytes` (after the 16-byte nonce) can be a whole STREAM: every chunk
    /// but the last full, the last at least a tag (and only empty when it is the only one).
    static func isValidSealedLength(_ bytes: Int64) -> Bool {
        guard bytes >= Int64(tagSize) else { return false }
        let chunks = (bytes + Int64(sealedChunkSize) - 1) / Int64(sealedChunkSize)
        let plaintext = bytes - chunks * Int64(tagSize)
        let expected = plaintext == 0 ? 1 : (plaintext + Int64(chunkSize) - 1) / Int64(chunkSize)
        return expected == chunks
    }
}

/// Encrypts one stream to age v1, incrementally: feed plaintext in pieces of any size, get the
/// age file back in pieces, in order, through `output`. No temporary file and no plaintext
/// beyond one 64 KiB chunk is ever held; the result decrypts with `age -d -i KEY`.
///
///     var encryptor = try AgeEncryptor(recipients: recipients)
///     try encryptor.update(chunk) { try file.write($0) }     // as often as needed
///     try encryptor.finish { try file.write($0) }            // seals the final chunk
///
/// Each instance encrypts one file with its own random file key and nonce: make a new one per
/// file (per backup, per replica segment).
/// (`@unchecked Sendable`: swift-crypto 3 does not mark `SymmetricKey`, an immutable value, Sendable.)
public struct AgeEncryptor: @unchecked Sendable {
    private let header: [UInt8]
    private let key: SymmetricKey
    private var headerWritten = false
    private var counter: UInt64 = 0
    private var pending: [UInt8] = []
    private var finished = false
    /// Plaintext bytes taken so far.
    public private(set) var plaintextBytes: Int64 = 0
    /// age bytes handed to `output` so far (header included).
    public private(set) var ciphertextBytes: Int64 = 0

    /// A new file key and payload nonce, wrapped for each recipient (one X25519 stanza each).
    public init(recipients: [AgeRecipient]) throws(AgeError) {
        guard !recipients.isEmpty else { throw .noRecipients }
        let fileKey = SymmetricKey(size: .init(bitCount: AgePayload.fileKeySize * 8))
        var stanzas: [AgeStanza] = []
        for recipient in recipients { stanzas.append(try recipient.wrap(fileKey)) }
        var nonce = [UInt8](repeating: 0, count: AgePayload.nonceSize)
        var generator = SystemRandomNumberGenerator()
        for index in nonce.indices { nonce[index] = generator.next() }
        header = AgeHeader(stanzas: stanzas, fileKey: fileKey).encoded() + nonce
        key = AgePayload.payloadKey(fileKey: fileKey, nonce: nonce)
        pending.reserveCapacity(AgePayload.chunkSize)
    }

    /// Takes more plaintext; hands every chunk that is complete (and known not to be the last)
    /// to `output`, the header first.
    public mutating func update<E: Error>(_ plaintext: UnsafeRawBufferPointer,
                                          output: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        precondition(!finished, "AgeEncryptor.update after finish")
        try writeHeaderIfNeeded(output)
        plaintextBytes += Int64(plaintext.count)
        var offset = 0
        while offset < plaintext.count {
            // A full chunk is sealed only once more data follows: the final chunk carries a flag.
            if pending.count == AgePayload.chunkSize { try seal(last: false, output) }
            let take = min(AgePayload.chunkSize - pending.count, plaintext.count - offset)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: plaintext[offset..<(offset + take)]))
            offset += take
        }
    }

    public mutating func update<E: Error>(_ plaintext: [UInt8], output: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        try AgePayload.withBytes(plaintext) { (buffer) throws(E) in try update(buffer, output: output) }
    }

    /// Seals the final chunk (empty when the whole payload is). Call exactly once.
    public mutating func finish<E: Error>(output: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        precondition(!finished, "AgeEncryptor.finish called twice")
        try writeHeaderIfNeeded(output)
        try seal(last: true, output)
        finished = true
    }

    private mutating func writeHeaderIfNeeded<E: Error>(_ output: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        guard !headerWritten else { return }
        headerWritten = true
        ciphertextBytes += Int64(header.count)
        try AgePayload.withBytes(header, output)
    }

    private mutating func seal<E: Error>(last: Bool, _ output: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        // ChaChaPoly cannot fail with a 32-byte key and a 12-byte nonce.
        let box = try! ChaChaPoly.seal(pending, using: key, nonce: AgePayload.chunkNonce(counter, last: last))
        counter += 1
        pending.removeAll(keepingCapacity: true)
        // One piece per chunk (ciphertext and tag together): one write each for a file sink.
        let sealed = box.combined.dropFirst(12)
        ciphertextBytes += Int64(sealed.count)
        try AgePayload.withBytes(sealed, output)
    }

    /// A whole small file at once (a replica segment, a manifest): the age file's bytes.
    public static func encrypt(_ plaintext: [UInt8], to recipients: [AgeRecipient]) throws(AgeError) -> [UInt8] {
        var encryptor = try AgeEncryptor(recipients: recipients)
        var result: [UInt8] = []
        result.reserveCapacity(plaintext.count + 256 + (plaintext.count / AgePayload.chunkSize + 1) * AgePayload.tagSize)
        let append = { (chunk: UnsafeRawBufferPointer) in result.append(contentsOf: chunk) }
        encryptor.update(plaintext, output: append)
        encryptor.finish(output: append)
        return result
    }
}
