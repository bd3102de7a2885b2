// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CZlib
import Foundation
import Logging

/// Where a point-in-time restore reads the replica from.
public enum ReplicaSource: Sendable {
    case local(ReplicaStore)
    case remote(ReplicaRemote)

    public static func remote(_ settings: OffsiteSettings, logger: Logger) -> ReplicaSource { .remote(ReplicaRemote(settings: settings, logger: logger)) }

    var label: String {
        switch self {
        case .local(let store): store.directory
        case .remote(let remote): remote.url
        }
    }

    public func catalog() throws(OpsError) -> ReplicaCatalog {
        switch self {
        case .local(let store): try store.catalog()
        case .remote(let remote): try remote.catalog()
        }
    }

    /// The point's file on this machine: the local file itself, or a download into `scratch`.
    func fetch(_ point: ReplicaPoint, scratch: String) throws(OpsError) -> (path: String, temporary: Bool) {
        switch self {
        case .local(let store):
            return (store.path(of: point), false)
        case .remote(let remote):
            let path = "\(scratch)/\(BackupNaming.temporaryPrefix)replica-\(getpid())-\(point.fileName)"
            unlink(path)
            do { try remote.download(point, to: path) } catch {
                unlink(path)
                throw error
            }
            return (path, true)
        }
    }
}

/// Rebuilds the database as of one point: the generation's snapshot, verified as any backup is,
/// then every segment up to the point, each checked (checksum, seq, page size) before a byte of
/// it is applied.
public enum ReplicaRestore {
    public struct Result: Sendable, Codable, Equatable {
        /// The point restored: the last cut at or before the requested moment.
        public var point: Date
        public var generation: String
        public var seq: UInt64
        public var segments: Int
        public var pageCount: Int
        public var pageSize: Int
    }

    /// The chain for `time` in `catalog`, or the window error the issue's callers expect.
    /// `confirmedUntil`: the replicator's last round (local replica), when it is later than the
    /// newest point: nothing changed between them, so a moment up to it restores that point.
    public static func chain(for time: PointInTime, in catalog: ReplicaCatalog, source: String, confirmedUntil: ReplicaStatus? = nil) throws(OpsError) -> [ReplicaPoint] {
        guard let files = catalog.window else {
            throw OpsError(.outsideWindow, code: "replica.empty", "\(source) holds no restorable point yet",
                           details: ["run opsctl replicate (or replicate --once) first"])
        }
        let window = ReplicaHealth.extend(files, to: confirmedUntil, newestGeneration: catalog.generations.last?.name)
        let chain: [ReplicaPoint]?
        switch time {
        case .latest: chain = catalog.latestChain()
        case .at(let date):
            guard window.contains(date) else {
                throw OpsError(.outsideWindow, code: "replica.outside_window",
                               "\(PointInTime.format(date)) is outside the restorable window of \(source): \(window.description)",
                               details: ["earliest: \(PointInTime.format(window.earliest))", "latest: \(PointInTime.format(window.latest))"])
            }
            chain = catalog.chain(at: date)
        }
        guard let chain, !chain.isEmpty else {
            throw OpsError(.outsideWindow, code: "replica.outside_window", "no point of \(source) at or before \(time): the window is \(window.description)")
        }
        return chain
    }

    /// Writes the database of `chain`'s last point into `target` (created; the caller's temp file).
    static func materialize(_ chain: [ReplicaPoint], from source: ReplicaSource, into target: String, keys: BackupKeys) throws(OpsError) -> Result {
        let scratch = URL(fileURLWithPath: target).deletingLastPathComponent().path
        guard let snapshot = chain.first, snapshot.kind == .snapshot, let last = chain.last else {
            throw OpsError(.checkFailed, code: "replica.no_snapshot", "the chain has no snapshot to start from")
        }
        if chain.contains(where: \.encrypted), !keys.hasIdentity { throw keys.missing(for: snapshot.key) }
        let base = try source.fetch(snapshot, scratch: scratch)
        defer { if base.temporary { unlink(base.path) } }
        let verified = try BackupVerifier.verify(path: base.path, deep: false, temporaryDirectory: scratch, keepAs: target, keys: keys)
        guard verified.ok else {
            throw OpsError(.checkFailed, code: "replica.damaged", "\(snapshot.key): the snapshot failed verification: \(verified.reason ?? "unknown")")
        }
        var pageSize = 0
        var pageCount = UInt32(verified.pageCount ?? 0)
        let descriptor = open(target, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw AtomicFile.failure("cannot open \(target)") }
        defer { close(descriptor) }
        for (expected, point) in chain.enumerated().dropFirst() {
            let segment = try read(point, expectedSeq: UInt64(expected), from: source, scratch: scratch, keys: keys)
            if pageSize == 0 { pageSize = segment.pageSize }
            guard segment.pageSize == pageSize else {
                throw OpsError(.checkFailed, code: "replica.damaged", "\(point.key): page size \(segment.pageSize), the generation's is \(pageSize)")
            }
            try apply(segment, to: descriptor, path: target)
            pageCount = segment.pageCount
        }
        if pageSize == 0 { pageSize = verified.pageCount.map { Int(verified.databaseBytes) / max(1, $0) } ?? 4096 }
        guard ftruncate(descriptor, off_t(Int64(pageCount) * Int64(pageSize))) == 0, fsync(descriptor) == 0 else {
            throw AtomicFile.failure("cannot finish \(target)")
        }
        return Result(point: last.time, generation: last.generation, seq: last.seq, segments: chain.count - 1, pageCount: Int(pageCount), pageSize: pageSize)
    }

    static func read(_ point: ReplicaPoint, expectedSeq: UInt64, from source: ReplicaSource, scratch: String, keys: BackupKeys) throws(OpsError) -> ReplicaSegment {
        let file = try source.fetch(point, scratch: scratch)
        defer { if file.temporary { unlink(file.path) } }
        guard var bytes = FileManager.default.contents(atPath: file.path).map(Array.init) else {
            throw OpsError(.io, code: "replica.unreadable", "\(file.path): cannot read")
        }
        func damaged(_ why: String) -> OpsError { OpsError(.checkFailed, code: "replica.damaged", "\(point.key): \(why); nothing was restored") }
        if point.encrypted {
            do throws(AgeError) { bytes = try AgeDecryptor.decrypt(bytes, identities: keys.identities) } catch {
                throw error.opsError
            }
        }
        guard let plain = Gunzip.decompress(bytes) else { throw damaged("not a complete gzip stream") }
        let segment: ReplicaSegment
        switch ReplicaSegment.decode(plain) {
        case .success(let decoded): segment = decoded
        case .failure(let damage): throw damaged(damage.description)
        }
        guard segment.seq == expectedSeq, segment.seq == point.seq else { throw damaged("holds point \(segment.seq), expected \(expectedSeq)") }
        guard segment.timeMs == point.timeMs else { throw damaged("its name and content disagree on the time") }
        return segment
    }

    static func apply(_ segment: ReplicaSegment, to descriptor: Int32, path: String) throws(OpsError) {
        for page in segment.pages {
            let offset = off_t(Int64(page.number - 1) * Int64(segment.pageSize))
            let written = page.bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, offset) }
            guard written == segment.pageSize else { throw AtomicFile.failure("cannot write \(path)") }
        }
    }
}

/// A whole gzip stream (any number of members) in memory: a segment is small.
enum Gunzip {
    static func decompress(_ input: [UInt8]) -> [UInt8]? {
        var stream = z_stream()
        guard opsctl_inflateInit2(&stream, 15 + 32) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        var input = input
        var status = Z_OK
        let complete = input.withUnsafeMutableBytes { raw -> Bool in
            stream.next_in = raw.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.avail_in = uInt(raw.count)
            while true {
                chunk.withUnsafeMutableBytes { out in
                    stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(out.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    output.append(contentsOf: out.prefix(out.count - Int(stream.avail_out)))
                }
                if status == Z_STREAM_END {
                    guard stream.avail_in > 0 else { return true }
                    inflateReset(&stream)   // another member follows
                } else if status != Z_OK {
                    return false
                }
            }
        }
        return complete ? output : nil
    }
}
