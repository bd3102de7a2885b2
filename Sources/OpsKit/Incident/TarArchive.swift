// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// A POSIX ustar archive built in memory, then gzip-compressed: what `tar -xzf` reads. A
/// bundle is logs and JSON of a few megabytes, so memory is the simple place to build it; no
/// subprocess and no shell is involved.
public struct TarArchive: Sendable {
    public private(set) var bytes: [UInt8] = []
    let modified: Date

    public init(modified: Date) { self.modified = modified }


    public mutating func addDirectory(_ path: String) {
        appendHeader(name: path.hasSuffix("/") ? path : path + "/", size: 0, mode: 0o700, type: UInt8(ascii: "5"))
    }

    public mutating func addFile(_ path: String, _ contents: Data, mode: Int = 0o600) {
        appendHeader(name: path, size: contents.count, mode: mode, type: UInt8(ascii: "0"))
        bytes += contents
        pad()
    }

    /// The archive with its end (two zero blocks), gzip-compressed.
    public func gzipped() throws(OpsError) -> Data {
        var archive = bytes
        archive += [UInt8](repeating: 0, count: 1024)
        let sink = ByteSink()
        let gzip = ParallelGzip(level: 6, threads: 1)
        let time = UInt32(max(0, modified.timeIntervalSince1970))
        let collect: @Sendable (UnsafeRawBufferPointer) throws(OpsError) -> Void = { chunk in sink.append(chunk) }
        let compressed = archive.withUnsafeBytes { buffer -> Result<ParallelGzip.Summary, OpsError> in
            do throws(OpsError) { return .success(try gzip.compress(buffer, modificationTime: time, sink: collect)) } catch { return .failure(error) }
        }
        _ = try compressed.get()
        return sink.data
    }

    /// ustar keeps a long name as a prefix (up to 155 bytes) and a name (up to 100), split at a
    /// slash. Names are opsctl's own and short; one that still does not fit is cut, never fatal.
    static func split(_ path: String) -> (prefix: String, name: String) {
        let bytes = Array(path.utf8)
        guard bytes.count > 100 else { return ("", path) }
        for index in bytes.indices.reversed() where bytes[index] == UInt8(ascii: "/") && index <= 155 && bytes.count - index - 1 <= 100 {
            return (String(decoding: bytes[..<index], as: UTF8.self), String(decoding: bytes[(index + 1)...], as: UTF8.self))
        }
        return ("", String(decoding: bytes.prefix(100), as: UTF8.self))
    }

    private mutating func pad() {
        let remainder = bytes.count % 512
        if remainder != 0 { bytes += [UInt8](repeating: 0, count: 512 - remainder) }
    }

    private mutating func appendHeader(name: String, size: Int, mode: Int, type: UInt8) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            put(String(String(value, radix: 8).suffix(width - 1)).zeroPadded(to: width - 1), at: offset, width: width - 1)
        }
        let (prefix, last) = Self.split(name)
        put(last, at: 0, width: 100)
        put(prefix, at: 345, width: 155)
        octal(mode, at: 100, width: 8)
        octal(Int(getuid()), at: 108, width: 8)
        octal(Int(getgid()), at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(Int(max(0, modified.timeIntervalSince1970)), at: 136, width: 12)
        header[156] = type
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        // The checksum is computed with its own field as spaces.
        for index in 148..<156 { header[index] = UInt8(ascii: " ") }
        let sum = header.reduce(0) { $0 + Int($1) }
        put(String(String(sum, radix: 8)).zeroPadded(to: 6), at: 148, width: 6)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        bytes += header
    }
}

/// Collects what the compressor hands over, in order.
final class ByteSink: Sendable {
    private let buffer = Mutex(Data())

    func append(_ chunk: UnsafeRawBufferPointer) { buffer.withLock { $0.append(contentsOf: chunk) } }

    var data: Data { buffer.withLock { $0 } }
}

extension String {
    /// Zeros on the left up to `width` (tar's octal fields).
    func zeroPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
