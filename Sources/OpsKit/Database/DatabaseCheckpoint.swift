// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

public enum CheckpointMode: String, Sendable, Codable, CaseIterable {
    /// Copies what it can without waiting for anyone: the app's writers never wait.
    case passive
    /// Copies everything, then cuts the WAL file to zero bytes (gives its space back).
    case truncate
}

/// `opsctl db ENV checkpoint [--mode passive|truncate]`.
public struct CheckpointReport: Report {
    public var env: String
    public var path: String
    public var mode: CheckpointMode
    /// WAL frames when it started, and how many of them are now in the database file.
    public var frames: Int
    public var checkpointed: Int
    public var walBytesBefore: Int64
    public var walBytesAfter: Int64
    public var completed: Bool
    /// The readers that kept it from completing.
    public var blockedBy: [WALIndex.Reader]
    /// truncate holds the write lock while it copies the last frames and cuts the file.
    public var writersHeld: WriterHolds
    public var fix: String?

    /// 75 when a reader (or a writer past the busy timeout) kept the checkpoint from completing.
    public var exitCode: Int32 { completed ? 0 : OpsError.Kind.databaseBusy.exitCode }

    public func renderText() -> String {
        var lines = ["checkpoint (\(mode.rawValue)) of \(path) (\(env)): " + (completed ? "complete" : "INCOMPLETE")]
        lines.append("  frames    \(checkpointed) of \(frames) in the database file")
        lines.append("  wal       \(ByteCount.format(walBytesBefore)) -> \(ByteCount.format(walBytesAfter))")
        if mode == .truncate { lines.append("  writers   held \(writersHeld.summary)") }
        for reader in blockedBy { lines.append("  blocked   by \(reader.description), reading a snapshot from frame \(reader.snapshotFrame)") }
        if let fix { lines.append("  fix       \(fix)") }
        return lines.joined(separator: "\n")
    }
}

enum DatabaseCheckpoint {
    /// `PRAGMA wal_checkpoint(MODE)`: (frames in the WAL, frames checkpointed, busy).
    static func run(_ database: SQLiteDatabase, _ mode: String, busyTimeout: OpsDuration) throws(OpsError) -> (frames: Int, checkpointed: Int, busy: Bool) {
        let row = try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in
            try database.query("PRAGMA wal_checkpoint(\(mode))").first
        }
        return (max(0, row?.int(1) ?? 0), max(0, row?.int(2) ?? 0), (row?.int(0) ?? 0) != 0)
    }

    /// Passive first (never waits). Truncate only when no reader is on an old snapshot: a
    /// truncating checkpoint holds the write lock while it waits for readers, so trying it
    /// behind a stuck reader would stall the app's writers for the whole busy timeout.
    static func checkpoint(_ database: SQLiteDatabase, mode: CheckpointMode, env: String, busyTimeout: OpsDuration) throws(OpsError) -> CheckpointReport {
        let walBefore = DatabaseFile.sizes(database.path).wal
        let passive = try run(database, "PASSIVE", busyTimeout: busyTimeout)
        var report = CheckpointReport(env: env, path: database.path, mode: mode, frames: passive.frames, checkpointed: passive.checkpointed,
                                      walBytesBefore: walBefore, walBytesAfter: walBefore, completed: !passive.busy && passive.checkpointed >= passive.frames,
                                      blockedBy: [], writersHeld: WriterHolds())
        let pinning = WALIndex.read(database: database.path)?.pinningReaders ?? []
        if mode == .truncate, pinning.isEmpty {
            let started = ContinuousClock.now
            let truncate = try run(database, "TRUNCATE", busyTimeout: busyTimeout)
            report.writersHeld.record(ContinuousClock.now - started)
            report.completed = !truncate.busy
            if !truncate.busy { report.checkpointed = report.frames }
        } else if mode == .truncate {
            report.completed = false
        }
        report.walBytesAfter = DatabaseFile.sizes(database.path).wal
        if !report.completed {
            report.blockedBy = pinning
            report.fix = pinning.first.map { "end what \($0.description) is doing (a long query, a stuck request, an open sqlite3 shell, a transaction left open), then run this again" }
                ?? "another connection held the database past the busy timeout (\(busyTimeout)); run this again"
        }
        return report
    }
}
