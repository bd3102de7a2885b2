// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CZlib
import Crypto
import Foundation

/// One pass over a gzip file: header, raw inflate into `target`, CRC-32 and ISIZE, SHA-256 of
/// the compressed bytes. Concatenated members (what `cat a.gz b.gz` makes) are valid gzip.
struct GzipCheck {
    var compressedBytes: Int64
    var uncompressedBytes: Int64
    var sha256: String

    struct Failure: Error {
        var reason: String
        var compressedBytes: Int64
    }

    /// `read` gives the gzip stream's next bytes (nil at its end): a file's, or what an age file decrypts to.
    static func inflate(read: () throws -> Data?, into target: String) throws -> GzipCheck {
        try withoutActuallyEscaping(read) { read in try inflate(GzipInput(read: read), into: target) }
    }

    static func inflate(_ input: GzipInput, into target: String) throws -> GzipCheck {
        let output = try OutputFile(creating: target)
        defer { output.close() }
        let inflater = try Inflater()
        var uncompressed: Int64 = 0
        var members = 0
        while try input.startsMember(after: members) {
            try input.skipHeader()
            let body = try inflater.member(from: input, into: output)
            try input.checkTrailer(crc: body.crc, bytes: body.bytes)
            uncompressed += body.bytes
            members += 1
            // Another member, zero padding (tolerated, as gzip does), or the end.
            guard try input.fill(1) else { break }
            if input.isZeroPaddingToTheEnd { break }
        }
        try output.synchronize()
        return GzipCheck(compressedBytes: input.total, uncompressedBytes: uncompressed, sha256: input.sha256)
    }
}

/// The compressed bytes not yet consumed, where they are in the file, and their hash.
final class GzipInput {
    private let read: () throws -> Data?
    private var hasher = SHA256()
    private(set) var buffer = Data()
    /// File offset of the buffer's first byte.
    private(set) var offset: Int64 = 0
    /// Every byte read so far.
    private(set) var total: Int64 = 0
    private(set) var endOfFile = false

    init(read: @escaping () throws -> Data?) { self.read = read }

    var sha256: String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }
    var isZeroPaddingToTheEnd: Bool { buffer.allSatisfy { $0 == 0 } && endOfFile }

    func failure(_ reason: String) -> GzipCheck.Failure { GzipCheck.Failure(reason: reason, compressedBytes: total) }

    /// At least `needed` bytes buffered, reading more as needed; false at the end of the file.
    @discardableResult
    func fill(_ needed: Int) throws -> Bool {
        while buffer.count < needed && !endOfFile {
            let chunk = try read() ?? Data()
            if chunk.isEmpty { endOfFile = true; break }
            hasher.update(data: chunk)
            total += Int64(chunk.count)
            buffer.append(chunk)
        }
        return buffer.count >= needed
    }

    func consume(_ count: Int) {
        buffer.removeFirst(count)
        offset += Int64(count)
    }

    func byte(_ index: Int) -> UInt8 { buffer[buffer.startIndex + index] }

    /// The buffered bytes in place, for zlib to read (it never writes through `next_in`).
    func withBytes<T>(_ body: (UnsafeMutablePointer<Bytef>, Int) throws -> T) rethrows -> T {
        try buffer.withUnsafeBytes { raw in try body(UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: Bytef.self)), raw.count) }
    }

    /// Whether another member starts here. Magic first: after a member, anything else is
    /// trailing garbage, not a short header.
    func startsMember(after members: Int) throws -> Bool {
        try fill(2)
        if members > 0 && buffer.isEmpty { return false }
        if total == 0 { throw failure("empty file (0 bytes)") }
        guard buffer.count >= 2, byte(0) == 0x1f, byte(1) == 0x8b else {
            throw failure(members > 0 ? "trailing garbage after the gzip stream at byte \(offset)" : "not gzip (bad magic bytes)")
        }
        return true
    }

    /// RFC 1952 §2.3: the fixed 10 bytes, then the optional extra field, name, comment and CRC-16.
    func skipHeader() throws {
        guard try fill(10) else { throw failure("truncated at byte \(offset + Int64(buffer.count)) (in the gzip header)") }
        guard byte(2) == 8 else { throw failure("unsupported gzip compression method \(byte(2))") }
        let flags = byte(3)
        var length = 10
        let truncated = failure("truncated at byte \(total) (in the gzip header)")
        if flags & 0x04 != 0 {
            guard try fill(length + 2) else { throw truncated }
            length += 2 + (Int(byte(length)) | Int(byte(length + 1)) << 8)
        }
        for flag in [UInt8(0x08), 0x10] where flags & flag != 0 {
            repeat {   // zero-terminated name / comment
                guard try fill(length + 1) else { throw truncated }
                length += 1
            } while byte(length - 1) != 0
        }
        if flags & 0x02 != 0 { length += 2 }
        guard try fill(length) else { throw truncated }
        consume(length)
    }

    /// CRC-32 and ISIZE, little endian, against what the member inflated to.
    func checkTrailer(crc: UInt32, bytes: Int64) throws {
        guard try fill(8) else { throw failure("truncated at byte \(total) (in the gzip trailer)") }
        func word(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(byte(at + $1)) << (8 * $1) } }
        guard word(0) == crc else { throw failure("CRC mismatch") }
        guard word(4) == UInt32(truncatingIfNeeded: bytes) else { throw failure("length mismatch (ISIZE)") }
        consume(8)
    }
}

/// Raw inflate of one member at a time, writing what it produces.
final class Inflater {
    private var stream = z_stream()
    private var out = [UInt8](repeating: 0, count: 1 << 20)

    init() throws {
        guard opsctl_inflateInit2(&stream, -15) == Z_OK else { throw OpsError(.software, code: "verify.zlib", "inflateInit2 failed") }
    }

    deinit { inflateEnd(&stream) }

    /// Inflates one member's deflate stream from `input` into `output`; its CRC-32 and length.
    func member(from input: GzipInput, into output: OutputFile) throws -> (crc: UInt32, bytes: Int64) {
        inflateReset(&stream)
        var crc = UInt32(truncatingIfNeeded: crc32(0, nil, 0))
        var bytes: Int64 = 0
        var status = Z_OK
        while status != Z_STREAM_END {
            if input.buffer.isEmpty, !(try input.fill(1)) {
                throw input.failure("truncated at byte \(input.total) (the deflate stream ends early)")
            }
            let available = input.buffer.count
            let consumed = try input.withBytes { (pointer, count) -> Int in
                stream.next_in = pointer
                stream.avail_in = uInt(count)
                repeat {
                    status = try step(input: input, available: available, output: output, crc: &crc, bytes: &bytes)
                } while status == Z_OK && stream.avail_out == 0
                return available - Int(stream.avail_in)
            }
            input.consume(consumed)
            if status == Z_BUF_ERROR && consumed == 0 && input.endOfFile {
                throw input.failure("truncated at byte \(input.total) (the deflate stream ends early)")
            }
        }
        return (crc, bytes)
    }

    /// One inflate call into the output buffer, and what it produced written out.
    private func step(input: GzipInput, available: Int, output: OutputFile, crc: inout UInt32, bytes: inout Int64) throws -> Int32 {
        try out.withUnsafeMutableBytes { (outRaw: UnsafeMutableRawBufferPointer) -> Int32 in
            stream.next_out = outRaw.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(outRaw.count)
            let status = CZlib.inflate(&stream, Z_NO_FLUSH)
            if [Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR, Z_STREAM_ERROR].contains(status) {
                let message = stream.msg.map { String(cString: $0) } ?? "invalid data"
                throw input.failure("corrupt deflate data near byte \(input.offset + Int64(available - Int(stream.avail_in))): \(message)")
            }
            let produced = UnsafeRawBufferPointer(rebasing: outRaw[0..<(outRaw.count - Int(stream.avail_out))])
            if !produced.isEmpty {
                crc = UInt32(truncatingIfNeeded: crc32(uLong(crc), produced.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(produced.count)))
                bytes += Int64(produced.count)
                try output.write(produced)
            }
            return status
        }
    }
}

/// The inflated database, written in order.
final class OutputFile {
    let path: String
    private let descriptor: Int32

    init(creating path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AtomicFile.failure("cannot create \(path)") }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var written = 0
        while written < bytes.count {
            let count = Foundation.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if count < 0 {
                if errno == EINTR { continue }
                throw AtomicFile.failure("cannot write the verification copy \(path)")
            }
            written += count
        }
    }

    func synchronize() throws {
        guard fsync(descriptor) == 0 || errno == EINVAL else { throw AtomicFile.failure("cannot sync \(path)") }
    }

    func close() { Foundation.close(descriptor) }
}
