// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// One database's replication, round by round. Each round pins a cut (see `SnapshotPin`),
/// finds the pages that changed since the last one and writes them as the next segment of the
/// current generation.
///
/// Which pages changed: those the WAL frames appended since the last cut name, when the WAL is
/// the same generation of the WAL (same salts); when the app's checkpoint reset it meanwhile
/// (TRUNCATE, RESTART, or a writer after a full checkpoint), those frames are gone, so every
/// page is compared with the hash kept from the last cut. Either way the pages are read as of
/// the cut, so a segment is always a transaction-consistent state and nothing that committed
/// can fall between two rounds unseen. The replicator never checkpoints and never holds a read
/// transaction between rounds: the app's WAL grows no more than it would without it.
final class Replicator {
    struct Position {
        var generation: String
        var generationStart: Date
        var seq: UInt64
        var salt: UInt64
        var frame: UInt32
        var pageSize: Int
        var pageCount: UInt32
        var database: FileIdentity
        /// SHA-256 (first 16 bytes) of each page as of the last cut, index = page number - 1.
        var hashes: [PageHash]
        var lastPointTime: Date
    }

    struct PageHash: Equatable {
        var high: UInt64
        var low: UInt64

        init(_ page: UnsafeRawBufferPointer) {
            let digest = SHA256.hash(data: page)
            (high, low) = digest.withUnsafeBytes { ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        }

        init(_ page: [UInt8]) { self = page.withUnsafeBytes { PageHash($0) } }
    }

    /// What one round did.
    struct Round: Sendable {
        enum Outcome: String, Sendable, Codable { case snapshot, segment, heartbeat, unchanged }
        var outcome: Outcome
        var point: ReplicaPoint?
        var cut: Date
        var pages: Int
        /// Every page was compared: the WAL had started over since the last round.
        var fullScan: Bool
    }

    let databasePath: String
    let settings: ReplicaSettings
    let store: ReplicaStore
    let now: @Sendable () -> Date
    private var pin: SnapshotPin?
    private(set) var position: Position?

    init(databasePath: String, settings: ReplicaSettings, store: ReplicaStore, now: @escaping @Sendable () -> Date) throws(OpsError) {
        self.databasePath = databasePath
        self.settings = settings
        self.store = store
        self.now = now
        pin = try SnapshotPin(databasePath: databasePath)
    }

    /// The pin on the file now at the path: a new one (new connections, new descriptors) when a
    /// restore or a swap replaced the database, the old one closed first.
    func currentPin() throws(OpsError) -> SnapshotPin {
        if let pin, SnapshotPin.identity(of: databasePath) == pin.identity { return pin }
        pin = nil
        let fresh = try SnapshotPin(databasePath: databasePath)
        pin = fresh
        return fresh
    }

    /// An idle database still gets a point this often, so the window (local and off-site) keeps up.
    var heartbeatInterval: TimeInterval { max(1, settings.syncInterval.seconds * 10) }

    func round() throws(OpsError) -> Round {
        let pin = try currentPin()
        let identity = pin.identity
        let cut = try pin.pin(now: now)
        var pinned = true
        defer { if pinned { pin.release() } }
        let source = PageSource(cut: cut, databasePath: databasePath, database: pin.databaseDescriptor)
        guard let position, position.database == identity, position.pageSize == cut.header.pageSize,
              cut.time.timeIntervalSince(position.generationStart) < settings.snapshotInterval.seconds else {
            return try snapshot(source, identity: identity) { pin.release(); pinned = false }
        }
        var (changed, fullScan) = try changedPages(source, since: position)
        let pageCount = cut.header.pageCount
        changed = changed.filter { $0.number <= pageCount }
        pin.release()
        pinned = false
        return try segment(changed, cut: cut, fullScan: fullScan, pageCount: pageCount)
    }

    /// The pages whose content differs from the last cut, read as of this one.
    func changedPages(_ source: PageSource, since position: Position) throws(OpsError) -> ([(number: UInt32, bytes: [UInt8])], Bool) {
        let header = source.cut.header
        var candidates: [UInt32]?
        if header.salt == position.salt, header.mxFrame >= position.frame {
            candidates = try source.pagesWritten(after: position.frame)
        }
        let fullScan = candidates == nil
        if fullScan { try source.prepareAllPages() }
        // A database that grew has pages the last cut did not: always candidates.
        let grown = position.pageCount < header.pageCount ? Array((position.pageCount + 1)...header.pageCount) : []
        var changed: [(number: UInt32, bytes: [UInt8])] = []
        func compare(_ number: UInt32, _ bytes: [UInt8]) {
            let index = Int(number - 1)
            if index < position.hashes.count, position.hashes[index] == PageHash(bytes) { return }
            changed.append((number, bytes))
        }
        if fullScan {
            try Self.inRuns(of: header.pageCount) { (first, last) throws(OpsError) in try source.pages(first, last) { number, bytes in compare(number, bytes) } }
        } else {
            for number in Set((candidates ?? []) + grown).sorted() where number <= header.pageCount { compare(number, try source.page(number)) }
        }
        return (changed, fullScan)
    }

    func segment(_ pages: [(number: UInt32, bytes: [UInt8])], cut: SnapshotPin.Cut, fullScan: Bool, pageCount: UInt32) throws(OpsError) -> Round {
        guard var position else { preconditionFailure("segment without a generation") }
        let resized = pageCount != position.pageCount
        let idle = cut.time.timeIntervalSince(position.lastPointTime) >= heartbeatInterval
        guard !pages.isEmpty || resized || idle else {
            position.salt = cut.header.salt
            position.frame = cut.header.mxFrame
            self.position = position
            return Round(outcome: .unchanged, point: nil, cut: cut.time, pages: 0, fullScan: fullScan)
        }
        let seq = position.seq + 1
        let timeMs = Self.milliseconds(cut.time)
        let segment = ReplicaSegment(pageSize: position.pageSize, pageCount: pageCount, seq: seq, timeMs: timeMs, pages: pages)
        let point = ReplicaPoint(generation: position.generation, seq: seq, timeMs: timeMs, kind: .segment, encrypted: store.encryption != nil, bytes: 0)
        let written = try store.write(point, image: segment.encoded())
        // Only once the point is durable does the position move: a failed write leaves it where
        // it was, so a later round would compare against the last point written, never skip one.
        position.salt = cut.header.salt
        position.frame = cut.header.mxFrame
        position.seq = seq
        position.lastPointTime = cut.time
        position.hashes = Self.resize(position.hashes, to: pageCount)
        for page in pages { position.hashes[Int(page.number - 1)] = PageHash(page.bytes) }
        position.pageCount = pageCount
        self.position = position
        return Round(outcome: pages.isEmpty && !resized ? .heartbeat : .segment, point: written, cut: cut.time, pages: pages.count, fullScan: fullScan)
    }

    /// A new generation: every page as of the cut, in one `.snapshot.db.gz` that gunzips to the
    /// database itself. The pin is released (`unpin`) before compressing.
    func snapshot(_ source: PageSource, identity: FileIdentity, unpin: () -> Void) throws(OpsError) -> Round {
        let cut = source.cut
        try source.prepareAllPages()
        let pageCount = cut.header.pageCount
        let image = try SnapshotImage(bytes: Int64(pageCount) * Int64(source.pageSize), databasePath: databasePath,
                                      scratchDirectory: store.scratchDirectory(databasePath: databasePath))
        var hashes: [PageHash] = []
        hashes.reserveCapacity(Int(pageCount))
        try Self.inRuns(of: pageCount) { (first, last) throws(OpsError) in
            try source.pages(first, last) { (_, page) throws(OpsError) in
                hashes.append(PageHash(page))
                try image.append(page)
            }
        }
        unpin()
        let generation = ReplicaGeneration.newName(at: cut.time)
        let timeMs = Self.milliseconds(cut.time)
        let point = ReplicaPoint(generation: generation, seq: 0, timeMs: timeMs, kind: .snapshot, encrypted: store.encryption != nil, bytes: 0)
        let written = try image.withBytes { (bytes) throws(OpsError) in
            try store.write(point, image: bytes, threads: ProcessInfo.processInfo.activeProcessorCount)
        }
        position = Position(generation: generation, generationStart: cut.time, seq: 0, salt: cut.header.salt, frame: cut.header.mxFrame,
                            pageSize: source.pageSize, pageCount: pageCount, database: identity, hashes: hashes, lastPointTime: cut.time)
        return Round(outcome: .snapshot, point: written, cut: cut.time, pages: Int(pageCount), fullScan: true)
    }

    /// Pages 1...count in runs of 1 MiB or so (256 pages of 4 KiB): one read each.
    static func inRuns(of count: UInt32, _ body: (UInt32, UInt32) throws(OpsError) -> Void) throws(OpsError) {
        var first: UInt32 = 1
        while first <= count {
            let last = min(count, first + 255)
            try body(first, last)
            first = last + 1
        }
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.up)) }

    static func resize(_ hashes: [PageHash], to count: UInt32) -> [PageHash] {
        if hashes.count > Int(count) { return Array(hashes.prefix(Int(count))) }
        // New pages get a hash no page has, until a segment records them.
        return hashes + Array(repeating: PageHash(high: 0, low: 0), count: Int(count) - hashes.count)
    }
}

extension Replicator.PageHash {
    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
}
