// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// Decrypts one age v1 file incrementally: feed the file in pieces of any size (as it is read
/// from disk or downloaded), get the plaintext back through `output` one authenticated 64 KiB
/// chunk at a time. Nothing is released before its chunk authenticates; `finish` fails unless
/// the final chunk was seen, so a truncated file never passes for a short one.
///
///     var decryptor = AgeDecryptor(identities: identities)
///     try decryptor.update(piece) { plaintext in … }   // throws AgeError as soon as it knows
///     try decryptor.finish()
///
/// Without identities it still reads and checks the header (`header`, `stanzaTypes`) and then
/// stops: what `verify` does on a host that holds only the recipients.
/// (`@unchecked Sendable`: swift-crypto 3 does not mark `SymmetricKey`, an immutable value, Sendable.)
public struct AgeDecryptor: @unchecked Sendable {
    public enum State: Sendable, Equatable {
        case readingHeader
        case readingNonce
        case payload
        case done
    }

    private let identities: [AgeIdentity]
    private var buffer: [UInt8] = []
    private var key: SymmetricKey?
    private var counter: UInt64 = 0
    /// File offset of the first byte in `buffer`.
    private var offset: Int64 = 0
    public private(set) var state: State = .readingHeader
    /// The parsed header, once its `---` line was read.
    public private(set) var header: AgeHeader?
    /// Plaintext bytes released so far.
    public private(set) var plaintextBytes: Int64 = 0

    public init(identities: [AgeIdentity]) {
        self.identities = identities
    }

    /// Stanza types of the header, e.g. ["X25519", "X25519"] (nil until it was read).
    public var stanzaTypes: [String]? { header?.stanzas.map(\.type) }

    /// Takes more of the file. Header and nonce first; with no identity given, everything after
    /// the header is ignored (the caller decides what to do with a header-only check).
    public mutating func update<E: Error>(_ bytes: UnsafeRawBufferPointer,
                                          output: (UnsafeRawBufferPointer) throws(E) -> Void) throws(Failure<E>) {
        var input = bytes[...]
        while !input.isEmpty {
            switch state {
            case .readingHeader:
                // Headers are small: gather them whole, then parse strictly.
                let take = min(input.count, AgeHeader.maximumLength + 1 - buffer.count)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input.prefix(take)))
                let length: Int?
                do throws(AgeError) { length = try Self.headerLength(buffer) } catch { throw .age(error) }
                guard let length else {
                    input = input.dropFirst(take)
                    continue
                }
                let extra = buffer.count - length
                input = input.dropFirst(take - extra)
                do throws(AgeError) { try readHeader(Array(buffer.prefix(length))) } catch { throw .age(error) }
                offset = Int64(length)
                buffer.removeAll(keepingCapacity: true)
                if identities.isEmpty { state = .done; return }
                state = .readingNonce
            case .readingNonce:
                let take = min(input.count, AgePayload.nonceSize - buffer.count)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input.prefix(take)))
                input = input.dropFirst(take)
                guard buffer.count == AgePayload.nonceSize else { continue }
                key = AgePayload.payloadKey(fileKey: fileKey!, nonce: buffer)
                fileKey = nil
                offset += Int64(AgePayload.nonceSize)
                buffer.removeAll(keepingCapacity: true)
                buffer.reserveCapacity(AgePayload.sealedChunkSize + 1)
                state = .payload
            case .payload:
                // One byte past a full sealed chunk proves it is not the last one.
                let take = min(input.count, AgePayload.sealedChunkSize + 1 - buffer.count)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input.prefix(take)))
                input = input.dropFirst(take)
                if buffer.count == AgePayload.sealedChunkSize + 1 { try openChunk(length: AgePayload.sealedChunkSize, more: true, output) }
            case .done:
                // Header-only: the rest of the file is someone else's business.
                if identities.isEmpty { return }
                throw .age(.trailingData(atByte: offset))
            }
        }
    }

    public mutating func update<E: Error>(_ bytes: [UInt8], output: (UnsafeRawBufferPointer) throws(E) -> Void) throws(Failure<E>) {
        try AgePayload.withBytes(bytes) { (raw) throws(Failure<E>) in try update(raw, output: output) }
    }

    /// The end of the file: opens the final chunk, or fails when it is missing.
    public mutating func finish<E: Error>(output: (UnsafeRawBufferPointer) throws(E) -> Void) throws(Failure<E>) {
        switch state {
        case .readingHeader:
            do throws(AgeError) { _ = try Self.headerLength(buffer) } catch { throw .age(error) }
            throw .age(.malformedHeader("the file ends inside the header (at byte \(buffer.count))"))
        case .readingNonce:
            throw .age(.malformedHeader("the file ends before the payload's 16-byte nonce (at byte \(offset + Int64(buffer.count)))"))
        case .payload:
            guard buffer.count >= AgePayload.tagSize else { throw .age(.truncated(atByte: offset + Int64(buffer.count))) }
            try openChunk(length: buffer.count, more: false, output)
        case .done:
            break
        }
    }

    /// Why decryption stopped: the file (`age`), or the caller's own `output` (`output`).
    public enum Failure<E: Error>: Error {
        case age(AgeError)
        case output(E)
    }

    private var fileKey: SymmetricKey?

    static func headerLength(_ buffer: [UInt8]) throws(AgeError) -> Int? {
        try buffer.withUnsafeBytes { raw in Result { () throws(AgeError) in try AgeHeader.headerLength(in: raw) } }.get()
    }

    private mutating func readHeader(_ bytes: [UInt8]) throws(AgeError) {
        let parsed = try AgeHeader.parse(bytes)
        header = parsed
        guard !identities.isEmpty else { return }
        for identity in identities {
            guard let unwrapped = try identity.unwrap(parsed.stanzas) else { continue }
            guard parsed.hasValidMAC(fileKey: unwrapped) else { throw .badHeaderMAC }
            fileKey = unwrapped
            return
        }
        throw .noMatchingIdentity(stanzas: parsed.stanzas.map(\.type))
    }

    /// Opens the chunk at the start of `buffer`: a middle chunk when more data follows it (one
    /// that only opens as final means trailing data), else the final chunk (a full one that
    /// only opens as a middle chunk means the file was cut at a chunk boundary).
    private mutating func openChunk<E: Error>(length: Int, more: Bool, _ output: (UnsafeRawBufferPointer) throws(E) -> Void) throws(Failure<E>) {
        let chunk = buffer.prefix(length)
        let index = counter
        let key = key!
        func open(last: Bool) -> Data? {
            guard let box = try? ChaChaPoly.SealedBox(nonce: AgePayload.chunkNonce(index, last: last),
                                                       ciphertext: chunk.dropLast(AgePayload.tagSize), tag: chunk.suffix(AgePayload.tagSize)) else { return nil }
            return try? ChaChaPoly.open(box, using: key)
        }
        let plaintext = open(last: !more)
        if plaintext == nil {
            if more, open(last: true) != nil { throw .age(.trailingData(atByte: offset + Int64(length))) }
            if !more, length == AgePayload.sealedChunkSize, open(last: false) != nil { throw .age(.truncated(atByte: offset + Int64(length))) }
            throw .age(more ? .payloadCorrupt(chunk: Int(index), atByte: offset) : .finalChunkCorrupt(chunk: Int(index), atByte: offset))
        }
        // Only an empty file may end with an empty chunk.
        if !more, plaintext!.isEmpty, index > 0 { throw .age(.payloadCorrupt(chunk: Int(index), atByte: offset)) }
        counter += 1
        offset += Int64(length)
        buffer.removeFirst(length)
        plaintextBytes += Int64(plaintext!.count)
        if !more { state = .done }
        do throws(E) { try AgePayload.withBytes(plaintext!, output) } catch { throw .output(error) }
    }

    /// A whole small file at once: the plaintext, or the first problem.
    public static func decrypt(_ file: [UInt8], identities: [AgeIdentity]) throws(AgeError) -> [UInt8] {
        var decryptor = AgeDecryptor(identities: identities)
        var result: [UInt8] = []
        let append = { (chunk: UnsafeRawBufferPointer) in result.append(contentsOf: chunk) }
        do throws(Failure<Never>) {
            try decryptor.update(file, output: append)
            try decryptor.finish(output: append)
        } catch {
            if case .age(let failure) = error { throw failure }
        }
        if identities.isEmpty { throw .noMatchingIdentity(stanzas: decryptor.stanzaTypes ?? []) }
        return result
    }
}
