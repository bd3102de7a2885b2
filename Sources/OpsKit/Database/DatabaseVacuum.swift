// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl db ENV vacuum`: free pages given back without stopping the app for long, and never
/// by a plain in-place VACUUM, which holds every writer for its whole run and rewrites the file
/// under anything that ships its WAL. With auto_vacuum=incremental: `incremental_vacuum` in
/// small batches while the app runs. Otherwise: `VACUUM INTO` a new file, checked, swapped in
/// under the restore machinery while nothing has the database open (behind a proxy, with users'
/// requests held in nginx while the app is stopped for it).
public struct VacuumReport: Report {
    public var env: String
    public var path: String
    /// nil when skipped (`--if-needed` below `max_freelist`, or nothing to reclaim).
    public var method: MaintenanceMethod?
    public var skipped: String?
    /// The database file; the WAL beside it is reused, not shrunk (`checkpoint --mode truncate` cuts it).
    public var bytesBefore: Int64
    public var bytesAfter: Int64
    public var walBytesAfter: Int64
    public var freelistBefore: Int
    public var freelistAfter: Int
    public var autoVacuum: AutoVacuum
    /// incremental: how many transactions it took.
    public var batches: Int
    public var writersHeld: WriterHolds
    public var safetyCopy: String?
    /// swap: the new file's generation (recorded in the ledger for anything that ships the WAL).
    public var generation: String?
    public var note: String?
    public var durationMs: Int

    public var reclaimedBytes: Int64 = 0
    /// A swap behind the proxy: how users were held while the app was stopped, the file swapped and the app started.
    public var pause: PauseOutcome?

    /// 4 when the app did not come back healthy after a paused swap: users get the maintenance page.
    public var exitCode: Int32 { pause?.healthy == false ? OpsError.Kind.serviceMayBeDown.exitCode : 0 }

    public func renderText() -> String {
        if let skipped { return "vacuum of \(path) (\(env)) skipped: \(skipped)" }
        var lines = ["vacuumed \(path) (\(env), \(method == .swap ? "VACUUM INTO a new file, swapped in" : "incremental_vacuum while the app runs"))"]
        lines.append("  size      \(ByteCount.format(bytesBefore)) -> \(ByteCount.format(bytesAfter)) (\(ByteCount.format(reclaimedBytes)) reclaimed; the WAL beside it: \(ByteCount.format(walBytesAfter)))")
        lines.append("  freelist  \(freelistBefore) -> \(freelistAfter) pages; auto_vacuum \(autoVacuum.rawValue)")
        if method == .incremental { lines.append("  writers   held \(writersHeld.summary) over \(batches) batch(es)") }
        if let safetyCopy { lines.append("  safety    the previous database is in \(safetyCopy)") }
        if let generation { lines.append("  generation \(generation) (a WAL replica must start over from this file)") }
        if let pause { lines += pause.lines.map { "  pause     " + $0 } }
        if let note { lines.append("  note      \(note)") }
        lines.append("  took      \(TextFormat.duration(milliseconds: durationMs))")
        return lines.joined(separator: "\n")
    }
}

/// `incremental_vacuum` in batches, each its own short write transaction, with pauses in
/// between so the app's commits find the lock free almost always.
struct IncrementalVacuum {
    struct Pacing: Sendable {
        // Each batch leaves its moved pages in the WAL for the app's next commit to fsync: kept
        // small (scripts/bench/db.sh: 16 pages kept the app's p99 within 1.5x where 64 did not).
        var firstBatch = 16
        var minBatch = 4
        var maxBatch = 16
        /// A batch grows while it holds the write lock for less than half this, shrinks above it.
        var targetHold: Duration = .milliseconds(2)
        /// After each batch the lock stays free for this many times the batch's hold, at least `minPause`.
        var pauseFactor = 12
        var minPause: Duration = .milliseconds(25)
        /// A passive checkpoint once this many frames wait: well before the app's own
        /// auto-checkpoint (1000), which would run inside one of its commits, and seldom enough
        /// that the checkpoints' fsyncs do not crowd the app's.
        var checkpointFrames = 400
    }

    var pacing = Pacing()

    /// Returns the number of batches. The database file shrinks when a checkpoint has copied the
    /// moved pages back; opsctl runs passive checkpoints itself (they never wait for the app)
    /// between batches, so the WAL stays small and the app's own commits never have to checkpoint it.
    func run(_ database: SQLiteDatabase, busyTimeout: OpsDuration, holds: inout WriterHolds, context: OpsContext) throws(OpsError) -> Int {
        // Checkpoints are opsctl's own, between batches (see below).
        try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in try database.execute("PRAGMA wal_autocheckpoint = 0") }
        var batch = pacing.firstBatch
        var batches = 0
        func freePages() throws(OpsError) -> Int {
            try DatabaseFile.run(database, busyTimeout: busyTimeout, { () throws(OpsError) in try database.pragmaInt("freelist_count") })
        }
        // At most the pages free when it began: an app that frees pages as fast as the batches
        // give them back would otherwise keep the weekly run going for ever.
        var budget = try freePages()
        while budget > 0, try freePages() > 0 {
            budget -= batch
            try holds.write(database, busyTimeout: busyTimeout) { () throws(OpsError) in _ = try database.query("PRAGMA incremental_vacuum(\(batch))") }
            let held = holds.last
            batches += 1
            context.logger.debug("vacuum batch \(batches): \(batch) pages, write lock held \(held)")
            if (WALIndex.read(database: database.path)?.pendingFrames ?? 0) >= pacing.checkpointFrames {
                _ = try? DatabaseCheckpoint.run(database, "PASSIVE", busyTimeout: busyTimeout)
            }
            if held < pacing.targetHold / 2 { batch = min(pacing.maxBatch, batch * 2) }
            if held > pacing.targetHold { batch = max(pacing.minBatch, batch / 2) }
            Thread.sleep(forTimeInterval: max(pacing.minPause, held * pacing.pauseFactor).seconds)
        }
        settle(database, busyTimeout: busyTimeout)
        return batches
    }

    /// The file shrinks when a checkpoint copies the last batch back: a few passive tries (the
    /// app's own checkpoint may hold the checkpoint lock at that moment); a reader on an old
    /// snapshot defers it to the first checkpoint after that reader ends.
    func settle(_ database: SQLiteDatabase, busyTimeout: OpsDuration) {
        for _ in 0..<20 {
            guard let result = try? DatabaseCheckpoint.run(database, "PASSIVE", busyTimeout: busyTimeout) else { return }
            if !result.busy, result.checkpointed >= result.frames { return }
            if !(WALIndex.read(database: database.path)?.pinningReaders.isEmpty ?? true) { return }
            Thread.sleep(forTimeInterval: pacing.minPause.seconds)
        }
    }
}
