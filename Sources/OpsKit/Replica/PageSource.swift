// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Reads pages of the database as of a pinned cut: a page's newest WAL frame up to the cut when
/// it has one, else the database file. Sound while the pin is held: the pinned read
/// transaction keeps those frames from being overwritten (the WAL cannot start over under it)
/// and keeps checkpoints from copying newer frames into the file. When every frame up to the
/// cut is already in the file, the file alone is the cut, and the WAL is not read at all
/// (a restarted WAL may be overwriting it).
final class PageSource {
    let cut: SnapshotPin.Cut
    let databasePath: String
    private let database: Int32
    private var wal: Int32 = -1
    /// Page number → its newest frame up to the cut (only pages the caller asked about, or all).
    private var frames: [UInt32: UInt32] = [:]

    var pageSize: Int { cut.header.pageSize }
    var pageCount: UInt32 { cut.header.pageCount }
    /// Every frame up to the cut is in the database file.
    var fileIsTheCut: Bool { cut.header.backfilled >= cut.header.mxFrame }
    var walFrames: WALFrames { WALFrames(walPath: databasePath + "-wal", header: cut.header) }

    /// `database`: the pin's descriptor of the database file, never closed here.
    init(cut: SnapshotPin.Cut, databasePath: String, database: Int32) {
        self.cut = cut
        self.databasePath = databasePath
        self.database = database
    }

    deinit {
        if wal >= 0 { close(wal) }
    }

    /// Pages written by frames after `frame` (same WAL generation), or nil when those frames were
    /// overwritten meanwhile (the caller then compares every page).
    func pagesWritten(after frame: UInt32) throws(OpsError) -> [UInt32]? {
        guard cut.header.mxFrame > frame else { return [] }
        guard let latest = try walFrames.latestFrames((frame + 1)...cut.header.mxFrame) else { return nil }
        if !fileIsTheCut { frames.merge(latest) { _, new in new } }
        return latest.keys.filter { $0 <= pageCount }.sorted()
    }

    /// Prepares `page(_:)` for every page: the newest frame of each, when the WAL is needed.
    func prepareAllPages() throws(OpsError) {
        guard !fileIsTheCut, cut.header.mxFrame > 0 else { return }
        guard let latest = try walFrames.latestFrames(1...cut.header.mxFrame) else {
            // Frames up to the cut changed under a pinned reader: SQLite's guarantee is broken.
            throw OpsError(.software, code: "replica.wal_moved", "\(databasePath)-wal changed under a pinned read transaction; nothing was written")
        }
        frames = latest
    }

    /// Pages `first...last` as of the cut, in order: one read of the database file for the run,
    /// then the pages that have a frame taken from the WAL.
    func pages(_ first: UInt32, _ last: UInt32, _ body: (UInt32, [UInt8]) throws(OpsError) -> Void) throws(OpsError) {
        let count = Int(last - first + 1)
        var run = [UInt8](repeating: 0, count: count * pageSize)
        var available = 0
        // The file may be shorter than the page count: pages appended since the last checkpoint live in the WAL only.
        var info = stat()
        if fstat(database, &info) == 0 {
            let inFile = max(0, min(count, Int((Int64(info.st_size) - Int64(first - 1) * Int64(pageSize)) / Int64(pageSize))))
            if inFile > 0 { try ReplicaFiles.read(database, into: &run, count: inFile * pageSize, at: Int64(first - 1) * Int64(pageSize), path: databasePath) }
            available = inFile
        }
        for offset in 0..<count {
            let number = first + UInt32(offset)
            if frames[number] != nil || offset >= available {
                try body(number, try page(number))
            } else {
                try body(number, Array(run[(offset * pageSize)..<((offset + 1) * pageSize)]))
            }
        }
    }

    /// The page as of the cut.
    func page(_ number: UInt32) throws(OpsError) -> [UInt8] {
        if let frame = frames[number] {
            if wal < 0 { wal = try ReplicaFiles.openForReading(databasePath + "-wal") }
            guard let bytes = try walFrames.page(inFrame: frame, descriptor: wal) else {
                throw OpsError(.software, code: "replica.wal_moved", "\(databasePath)-wal frame \(frame) changed under a pinned read transaction; nothing was written")
            }
            return bytes
        }
        var bytes = [UInt8](repeating: 0, count: pageSize)
        try ReplicaFiles.read(database, into: &bytes, count: pageSize, at: Int64(number - 1) * Int64(pageSize), path: databasePath)
        return bytes
    }
}
