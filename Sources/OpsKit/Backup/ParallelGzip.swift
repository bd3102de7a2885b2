// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CZlib
import Dispatch
import Foundation
import Synchronization

/// One standard gzip stream (RFC 1952) compressed on all cores the way pigz does it:
/// the input is cut into 128 KiB blocks, each deflated independently (raw deflate) with the
/// previous block's last 32 KiB as its dictionary and ended with a sync flush, so the
/// pieces concatenate into one valid deflate stream; the CRC-32s are joined with
/// `crc32_combine`. gunzip, zcat, pigz and Python's gzip read the result.
public struct ParallelGzip: Sendable {
    public static let blockSize = 128 * 1024
    public static let dictionarySize = 32 * 1024

    public var level: Int32
    public var threads: Int
    /// Blocks compressed per round; bounds memory to about 4 rounds of compressed output.
    public var blocksPerRound: Int
    /// Run the workers as SCHED_IDLE: the application on the same machine gets the CPU the
    /// moment it wants it, and the backup uses whatever is left (all of it on an idle box).
    public var yieldsToOtherWork = false

    public init(level: Int = 6, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.level = Int32(min(max(level, 1), 9))
        self.threads = max(1, threads)
        self.blocksPerRound = max(32, self.threads * 16)
    }

    public struct Summary: Sendable {
        public var inputBytes: Int
        public var outputBytes: Int
        public var crc32: UInt32
    }

    /// Compresses `input`, handing the gzip stream to `sink` in order. `sink` runs on one
    /// serial queue, overlapped with the compression of the next round.
    public func compress(_ input: UnsafeRawBufferPointer, modificationTime: UInt32 = 0,
                         progress: (@Sendable (Int) -> Void)? = nil,
                         sink: @escaping @Sendable (UnsafeRawBufferPointer) throws(OpsError) -> Void) throws(OpsError) -> Summary {
        let writer = OrderedWriter(sink: sink)
        writer.submit([Self.header(modificationTime: modificationTime, level: level)])

        let blockCount = (input.count + Self.blockSize - 1) / Self.blockSize
        var crc: UInt32 = UInt32(truncatingIfNeeded: crc32(0, nil, 0))
        var outputBytes = 10
        let pool = StreamPool(count: threads, level: level)
        defer { pool.release() }

        var roundStart = 0
        while roundStart < blockCount || (blockCount == 0 && roundStart == 0) {
            let roundEnd = min(roundStart + blocksPerRound, blockCount)
            let blocks = try compressRound(input, blocks: roundStart..<roundEnd, totalBlocks: blockCount, pool: pool)
            var pieces: [[UInt8]] = []
            pieces.reserveCapacity(blocks.count)
            for block in blocks {
                pieces.append(block.bytes)
                outputBytes += block.bytes.count
                crc = UInt32(truncatingIfNeeded: crc32_combine(uLong(crc), uLong(block.crc), off_t(block.length)))
            }
            if blockCount == 0 {
                // An empty input still needs a final (empty) deflate block.
                pieces = [[0x03, 0x00]]
                outputBytes += 2
            }
            try writer.check()
            writer.submit(pieces)
            progress?(min(roundEnd * Self.blockSize, input.count))
            if blockCount == 0 { break }
            roundStart = roundEnd
        }
        var trailer = [UInt8]()
        trailer.reserveCapacity(8)
        for value in [crc, UInt32(truncatingIfNeeded: input.count)] {
            for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
        }
        writer.submit([trailer])
        outputBytes += 8
        try writer.finish()
        return Summary(inputBytes: input.count, outputBytes: outputBytes, crc32: crc)
    }

    struct CompressedBlock: Sendable {
        var bytes: [UInt8]
        var crc: UInt32
        var length: Int
    }

    private func compressRound(_ input: UnsafeRawBufferPointer, blocks: Range<Int>, totalBlocks: Int, pool: StreamPool) throws(OpsError) -> [CompressedBlock] {
        let results = ResultSlots(count: blocks.count)
        let next = Atomic<Int>(blocks.lowerBound)
        let base = UInt(bitPattern: input.baseAddress)
        let count = input.count
        let workers = min(threads, blocks.count)
        let yields = yieldsToOtherWork
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            // Pool threads are shared: lower this one only while it compresses.
            let previous = yields ? ThreadPriority.enterIdle() : nil
            defer { if let previous { ThreadPriority.restore(previous) } }
            let input = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: base), count: count)
            let stream = pool.streams[worker]
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < blocks.upperBound else { break }
                let start = index * Self.blockSize
                let end = min(start + Self.blockSize, count)
                let dictionaryStart = max(0, start - Self.dictionarySize)
                let block = Self.deflateBlock(stream: stream, level: level,
                                              data: UnsafeRawBufferPointer(rebasing: input[start..<end]),
                                              dictionary: index == 0 ? nil : UnsafeRawBufferPointer(rebasing: input[dictionaryStart..<start]),
                                              isLast: index == totalBlocks - 1)
                results.set(index - blocks.lowerBound, block)
            }
        }
        return try results.collect()
    }

    /// Deflates one block. Not the last: sync flush (ends byte-aligned with an empty stored
    /// block). The last: finish (sets BFINAL).
    static func deflateBlock(stream: UnsafeMutablePointer<z_stream>, level: Int32, data: UnsafeRawBufferPointer,
                             dictionary: UnsafeRawBufferPointer?, isLast: Bool) -> Result<CompressedBlock, OpsError> {
        guard deflateReset(stream) == Z_OK else { return .failure(zlibFailure("deflateReset", stream)) }
        if let dictionary, dictionary.count > 0 {
            let status = deflateSetDictionary(stream, dictionary.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(dictionary.count))
            guard status == Z_OK else { return .failure(zlibFailure("deflateSetDictionary", stream)) }
        }
        let capacity = Int(deflateBound(stream, uLong(data.count))) + 64
        var produced: Int32 = Z_OK
        // Uninitialized: zero-filling 128 KiB per block is measurable at 200 MB.
        let output = [UInt8](unsafeUninitializedCapacity: capacity) { out, count in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: data.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(data.count)
            stream.pointee.next_out = out.baseAddress!
            stream.pointee.avail_out = uInt(out.count)
            produced = deflate(stream, isLast ? Z_FINISH : Z_SYNC_FLUSH)
            count = out.count - Int(stream.pointee.avail_out)
        }
        let expected = isLast ? Z_STREAM_END : Z_OK
        guard produced == expected, stream.pointee.avail_in == 0 else { return .failure(zlibFailure("deflate", stream)) }
        let crc = data.baseAddress.map { UInt32(truncatingIfNeeded: crc32(0, $0.assumingMemoryBound(to: Bytef.self), uInt(data.count))) } ?? 0
        return .success(CompressedBlock(bytes: output, crc: crc, length: data.count))
    }

    static func zlibFailure(_ call: String, _ stream: UnsafeMutablePointer<z_stream>) -> OpsError {
        let message = stream.pointee.msg.map { String(cString: $0) } ?? "unknown error"
        return OpsError(.software, code: "gzip.failed", "zlib \(call) failed: \(message)")
    }

    /// The 10-byte gzip header: deflate, no name, mtime, XFL by level, OS = Unix.
    static func header(modificationTime: UInt32, level: Int32) -> [UInt8] {
        let extraFlags: UInt8 = level == 9 ? 2 : (level == 1 ? 4 : 0)
        return [0x1f, 0x8b, 0x08, 0x00,
                UInt8(truncatingIfNeeded: modificationTime), UInt8(truncatingIfNeeded: modificationTime >> 8),
                UInt8(truncatingIfNeeded: modificationTime >> 16), UInt8(truncatingIfNeeded: modificationTime >> 24),
                extraFlags, 0x03]
    }
}

/// Per-thread scheduling policy (Linux: sched_setscheduler with pid 0 is the calling thread).
enum ThreadPriority {
    static func enterIdle() -> (policy: Int32, param: sched_param)? {
        var param = sched_param()
        let policy = sched_getscheduler(0)
        guard policy >= 0, sched_getparam(0, &param) == 0 else { return nil }
        var idle = sched_param()
        idle.sched_priority = 0
        let schedIdle: Int32 = 5   // SCHED_IDLE in <linux/sched.h>; Glibc does not export it to Swift
        guard sched_setscheduler(0, schedIdle, &idle) == 0 else { return nil }
        return (policy, param)
    }

    static func restore(_ previous: (policy: Int32, param: sched_param)) {
        var param = previous.param
        _ = sched_setscheduler(0, previous.policy, &param)
    }
}

/// One raw-deflate z_stream per worker, reused across blocks with deflateReset.
private final class StreamPool: @unchecked Sendable {
    let streams: [UnsafeMutablePointer<z_stream>]

    init(count: Int, level: Int32) {
        streams = (0..<count).map { _ in
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            // windowBits -15: raw deflate, 32 KiB window; memLevel 8 is zlib's default.
            let status = opsctl_deflateInit2(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY)
            precondition(status == Z_OK, "deflateInit2 failed: \(status)")
            return stream
        }
    }

    func release() {
        for stream in streams {
            deflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
    }
}

/// Per-round result slots, filled concurrently by index.
private final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<ParallelGzip.CompressedBlock, OpsError>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<ParallelGzip.CompressedBlock, OpsError>) {
        lock.withLock { slots[index] = value }
    }

    func collect() throws(OpsError) -> [ParallelGzip.CompressedBlock] {
        var blocks: [ParallelGzip.CompressedBlock] = []
        blocks.reserveCapacity(slots.count)
        for slot in slots {
            guard let slot else { throw OpsError(.software, code: "gzip.failed", "a compression worker did not finish its block") }
            blocks.append(try slot.get())
        }
        return blocks
    }
}

/// Writes chunks in submission order on a serial queue, so output I/O and hashing overlap
/// with compressing the next round; at most four rounds wait in memory.
private final class OrderedWriter: @unchecked Sendable {
    private let queue = DispatchQueue(label: "opsctl.gzip.writer")
    private let slots = DispatchSemaphore(value: 4)
    private let lock = NSLock()
    private var failure: OpsError?
    private let sink: @Sendable (UnsafeRawBufferPointer) throws(OpsError) -> Void

    init(sink: @escaping @Sendable (UnsafeRawBufferPointer) throws(OpsError) -> Void) { self.sink = sink }

    /// Queues pieces to be written in order (no concatenation copy).
    func submit(_ pieces: [[UInt8]]) {
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            for bytes in pieces {
                guard lock.withLock({ failure == nil }) else { return }
                let result: Result<Void, OpsError> = bytes.withUnsafeBytes { buffer in
                    do throws(OpsError) { try sink(buffer); return .success(()) } catch { return .failure(error) }
                }
                if case .failure(let error) = result { lock.withLock { failure = error } }
            }
        }
    }

    func check() throws(OpsError) {
        if let failure = lock.withLock({ failure }) { throw failure }
    }

    func finish() throws(OpsError) {
        queue.sync {}
        try check()
    }
}
