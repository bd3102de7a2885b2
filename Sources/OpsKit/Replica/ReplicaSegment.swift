// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// The pages that changed between two cuts of the database, and what the database looked like
/// after the second: its page size and page count. Applying every segment of a generation in
/// order to its snapshot gives the database as of the last one's cut.
///
/// Layout (big-endian), gzip-compressed on disk and age-encrypted when backups are:
/// `OPSCTL-SEGMENT-1` | page size u32 | page count u32 | seq u64 | cut time ms i64 | n u32 |
/// n × (page number u32, page) | SHA-256 of everything before it.
struct ReplicaSegment: Equatable {
    var pageSize: Int
    var pageCount: UInt32
    var seq: UInt64
    var timeMs: Int64
    var pages: [(number: UInt32, bytes: [UInt8])]

    static let magic = Array("OPSCTL-SEGMENT-1".utf8)
    static let headerSize = magic.count + 4 + 4 + 8 + 8 + 4

    static func == (lhs: ReplicaSegment, rhs: ReplicaSegment) -> Bool {
        lhs.pageSize == rhs.pageSize && lhs.pageCount == rhs.pageCount && lhs.seq == rhs.seq && lhs.timeMs == rhs.timeMs
            && lhs.pages.map(\.number) == rhs.pages.map(\.number) && lhs.pages.map(\.bytes) == rhs.pages.map(\.bytes)
    }

    func encoded() -> [UInt8] {
        var bytes = Self.magic
        bytes.reserveCapacity(Self.headerSize + pages.count * (4 + pageSize) + 32)
        bytes.appendBigEndian(UInt32(pageSize))
        bytes.appendBigEndian(pageCount)
        bytes.appendBigEndian(seq)
        bytes.appendBigEndian(UInt64(bitPattern: timeMs))
        bytes.appendBigEndian(UInt32(pages.count))
        for page in pages {
            bytes.appendBigEndian(page.number)
            bytes += page.bytes
        }
        bytes += SHA256.hash(data: bytes)
        return bytes
    }

    /// Parses and checks a segment; any damage is a reason, never a crash.
    static func decode(_ bytes: [UInt8]) -> Result<ReplicaSegment, ReplicaDamage> {
        guard bytes.count >= headerSize + 32, Array(bytes.prefix(magic.count)) == magic else { return .failure(.init("not an opsctl replica segment")) }
        let body = bytes.prefix(bytes.count - 32)
        guard Array(SHA256.hash(data: body)) == Array(bytes.suffix(32)) else { return .failure(.init("checksum mismatch (damaged or truncated)")) }
        var reader = BigEndianReader(bytes: bytes, offset: magic.count)
        let pageSize = Int(reader.u32())
        let pageCount = reader.u32()
        let seq = reader.u64()
        let time = Int64(bitPattern: reader.u64())
        let count = Int(reader.u32())
        guard pageSize >= 512, pageSize <= 65536, pageSize.nonzeroBitCount == 1, body.count == headerSize + count * (4 + pageSize) else {
            return .failure(.init("inconsistent header (page size \(pageSize), \(count) pages)"))
        }
        var pages: [(number: UInt32, bytes: [UInt8])] = []
        pages.reserveCapacity(count)
        for _ in 0..<count {
            let number = reader.u32()
            guard number >= 1, number <= pageCount else { return .failure(.init("page \(number) outside the database's \(pageCount) pages")) }
            pages.append((number, reader.take(pageSize)))
        }
        return .success(ReplicaSegment(pageSize: pageSize, pageCount: pageCount, seq: seq, timeMs: time, pages: pages))
    }
}

/// Why a replica file cannot be used.
struct ReplicaDamage: Error, Equatable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension [UInt8] {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}

struct BigEndianReader {
    let bytes: [UInt8]
    var offset: Int

    mutating func u32() -> UInt32 { integer() }
    mutating func u64() -> UInt64 { integer() }

    mutating func integer<T: FixedWidthInteger>() -> T {
        let value = bytes.withUnsafeBytes { T(bigEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        offset += MemoryLayout<T>.size
        return value
    }

    mutating func take(_ count: Int) -> [UInt8] {
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }
}
