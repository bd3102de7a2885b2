// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

public enum DatabaseVerdict: String, Sendable, Codable, Comparable {
    case ok, warn, fail

    var rank: Int { self == .ok ? 0 : self == .warn ? 1 : 2 }
    public static func < (lhs: DatabaseVerdict, rhs: DatabaseVerdict) -> Bool { lhs.rank < rhs.rank }
}

/// The lines of `opsctl db ENV`, spelled once for the report, its JSON and the metrics' labels.
public enum DatabaseCheckID: String, Sendable, Codable, CaseIterable {
    case size, freelist, journalMode = "journal_mode", wal, checkpoint, autoVacuum = "auto_vacuum", schema, quickCheck = "quick_check", statistics
}

/// One line: what was found, how it stands, and the fix when it does not stand well.
public struct DatabaseCheck: Sendable, Codable, Equatable {
    public var id: DatabaseCheckID
    public var verdict: DatabaseVerdict
    public var summary: String
    public var fix: String?
}

/// The rules. They read facts only, so status, preflight, the handoff and the metrics all judge
/// the same database the same way.
public enum DatabaseChecks {
    /// The WAL warns at this share of `max_wal`.
    static let walWarnShare = 0.5
    /// SQLite's default auto-checkpoint: an app that checkpoints at all has done so long before
    /// this many frames wait, unless a reader keeps it from completing.
    static let checkpointLagFrames = 1000
    /// Statistics count as stale when opsctl has not optimized for this long (two weekly runs).
    static let statisticsMaxAge: TimeInterval = 14 * 86_400

    public struct Context: Sendable {
        public var env: String
        public var limits: DatabaseMaintenance
        public var history: MaintenanceHistory?
        public var now: Date

        public init(env: String, limits: DatabaseMaintenance, history: MaintenanceHistory?, now: Date) {
            self.env = env
            self.limits = limits
            self.history = history
            self.now = now
        }
    }

    /// Every line that applies, in the report's order.
    public static func evaluate(_ facts: DatabaseFacts, _ context: Context) -> [DatabaseCheck] {
        var checks = [size(facts, context), freelist(facts, context), journalMode(facts, context)]
        if facts.journalMode == .wal {
            checks.append(wal(facts, context))
            if let index = facts.wal { checks.append(checkpoint(index, facts: facts, context)) }
        }
        checks += [autoVacuum(facts, context), schema(facts)]
        if let problems = facts.quickCheck { checks.append(quickCheck(problems, context)) }
        checks.append(statistics(facts, context))
        return checks
    }

    /// The lines the thresholds speak about: what status, preflight, the handoff and the metrics watch.
    public static func thresholds(_ facts: DatabaseFacts, _ context: Context) -> [DatabaseCheck] {
        evaluate(facts, context).filter { [.wal, .checkpoint, .freelist].contains($0.id) }
    }

    static func size(_ facts: DatabaseFacts, _ context: Context) -> DatabaseCheck {
        let text = "\(ByteCount.format(facts.fileBytes)): \(facts.pageCount) pages of \(facts.pageSize) B"
        guard facts.pageSize >= 4096 else {
            return DatabaseCheck(id: .size, verdict: .warn, summary: text + "; pages under 4 KiB cost extra I/O on SSDs and the OS page cache",
                                 fix: "with the app stopped: sqlite3 \(facts.path) 'PRAGMA journal_mode=DELETE; PRAGMA page_size=4096; VACUUM; PRAGMA journal_mode=WAL'")
        }
        return DatabaseCheck(id: .size, verdict: .ok, summary: text)
    }

    static func freelist(_ facts: DatabaseFacts, _ context: Context) -> DatabaseCheck {
        let share = facts.freelistPercent
        let text = "\(facts.freelistPages) free pages (\(ByteCount.format(Int64(facts.freelistPages) * Int64(facts.pageSize))), "
            + "\(percent(share)) of the file; max_freelist \(DatabaseMaintenance.percentText(context.limits.maxFreelist)))"
        guard share >= context.limits.maxFreelist, facts.freelistPages > 0 else { return DatabaseCheck(id: .freelist, verdict: .ok, summary: text) }
        let fix = switch facts.autoVacuum {
        case .incremental: "opsctl db \(context.env) vacuum (online: incremental_vacuum in small batches)"
        case .none, .full: "opsctl db \(context.env) vacuum --auto-vacuum incremental (a new file swapped in: behind a proxy users wait in nginx meanwhile, "
            + "else stop the app first; later vacuums run online)"
        }
        return DatabaseCheck(id: .freelist, verdict: .warn, summary: text, fix: fix)
    }

    static func journalMode(_ facts: DatabaseFacts, _ context: Context) -> DatabaseCheck {
        guard facts.journalMode != .wal else { return DatabaseCheck(id: .journalMode, verdict: .ok, summary: "wal") }
        return DatabaseCheck(id: .journalMode, verdict: .fail,
                             summary: "\(facts.journalMode.rawValue): readers and the writer block each other, and opsctl maintains a database online only in WAL mode",
                             fix: "with the app stopped: sqlite3 \(facts.path) 'PRAGMA journal_mode=WAL' (it stays set in the file)")
    }

    static func wal(_ facts: DatabaseFacts, _ context: Context) -> DatabaseCheck {
        let limit = context.limits.maxWAL
        let pending = facts.wal.map { "; \($0.pendingFrames) frames since the last checkpoint" } ?? ""
        let text = "\(ByteCount.format(facts.walBytes)) (max_wal \(ByteCount.format(limit)))" + pending
        let blocked = !(facts.wal?.pinningReaders.isEmpty ?? true)
        let fix = (blocked ? "end the reader that keeps it from being checkpointed (see the checkpoint line), then: " : "")
            + "opsctl db \(context.env) checkpoint --mode truncate (gives the file's space back)"
        if facts.walBytes >= limit {
            return DatabaseCheck(id: .wal, verdict: .fail, summary: text + ": past max_wal", fix: fix)
        }
        if Double(facts.walBytes) >= Double(limit) * walWarnShare {
            return DatabaseCheck(id: .wal, verdict: .warn, summary: text + ": over half of max_wal", fix: fix)
        }
        return DatabaseCheck(id: .wal, verdict: .ok, summary: text)
    }

    /// The early warning: a reader on an old snapshot keeps every checkpoint from completing, so
    /// the WAL grows with each write until that reader ends, long before it reaches max_wal.
    static func checkpoint(_ index: WALIndex, facts: DatabaseFacts, _ context: Context) -> DatabaseCheck {
        let frameBytes = Int64(index.pageSize + 24)
        let waiting = "\(index.pendingFrames) frames (\(ByteCount.format(Int64(index.pendingFrames) * frameBytes))) wait to be checkpointed"
        let pinning = index.pinningReaders
        if index.pendingFrames >= checkpointLagFrames, let reader = pinning.first {
            let snapshot = reader.slot == 0 ? "reads the database file from before frame \(index.backfilled + 1)" : "reads a snapshot from frame \(reader.snapshotFrame)"
            return DatabaseCheck(
                id: .checkpoint, verdict: .warn,
                summary: "a reader keeps the WAL from being checkpointed: \(reader.description) \(snapshot) of \(index.frames); \(waiting), "
                    + "and the WAL grows with every write until that reader ends (max_wal \(ByteCount.format(context.limits.maxWAL)))",
                fix: "find what \(reader.description) is doing (a long query, a stuck request, an open sqlite3 shell, a transaction left open) and end it; "
                    + "then: opsctl db \(context.env) checkpoint --mode truncate")
        }
        if index.pendingFrames >= checkpointLagFrames, Int64(index.pendingFrames) * frameBytes * 4 >= context.limits.maxWAL {
            return DatabaseCheck(id: .checkpoint, verdict: .warn, summary: "\(waiting) and no reader holds them back: the app does not checkpoint (wal_autocheckpoint off?)",
                                 fix: "opsctl db \(context.env) checkpoint, or let the app checkpoint (SQLite's default wal_autocheckpoint is 1000 pages)")
        }
        let readers = index.readers.isEmpty ? "no reader" : "\(index.readers.count) reader(s), \(pinning.count) on an older snapshot"
        return DatabaseCheck(id: .checkpoint, verdict: .ok, summary: "\(index.pendingFrames) of \(index.frames) frames wait to be checkpointed; \(readers)")
    }

    static func autoVacuum(_ facts: DatabaseFacts, _ context: Context) -> DatabaseCheck {
        let text = switch facts.autoVacuum {
        case .none: "none: free pages come back only by rewriting the file, with the app stopped (opsctl db \(context.env) vacuum --auto-vacuum incremental makes later vacuums online)"
        case .incremental: "incremental: opsctl db \(context.env) vacuum gives free pages back while the app runs"
        case .full: "full: SQLite gives free pages back at every commit"
        }
        return DatabaseCheck(id: .autoVacuum, verdict: .ok, summary: text)
    }

    static func schema(_ facts: DatabaseFacts) -> DatabaseCheck {
        let schema = facts.schema
        return DatabaseCheck(id: .schema, verdict: .ok,
                             summary: "\(schema.tables) table(s), \(schema.indexes) index(es), \(schema.views) view(s), \(schema.triggers) trigger(s)")
    }

    static func quickCheck(_ problems: [String], _ context: Context) -> DatabaseCheck {
        guard problems != ["ok"] else { return DatabaseCheck(id: .quickCheck, verdict: .ok, summary: "ok") }
        return DatabaseCheck(id: .quickCheck, verdict: .fail, summary: problems.prefix(3).joined(separator: "; ") + (problems.count > 3 ? " (\(problems.count) problems)" : ""),
                             fix: "stop writing to it: opsctl verify \(context.env) finds the newest good backup, opsctl restore \(context.env) puts it back")
    }

    static func statistics(_ facts: DatabaseFacts, _ context: Context) -> DatabaseCheck {
        let schema = facts.schema
        let coverage = "statistics for \(schema.analyzedTables) of \(schema.indexedTables) indexed table(s)"
        let last = context.history?.lastOptimize
        let when = last.map { "last optimize by opsctl \(TextFormat.age(of: $0.finishedAt, now: context.now))" + ($0.summary.map { " (\($0))" } ?? "") }
            ?? "no optimize recorded by opsctl"
        let stale = last.map { context.now.timeIntervalSince($0.finishedAt) > statisticsMaxAge } ?? true
        guard schema.indexedTables > 0, stale || schema.analyzedTables < schema.indexedTables else {
            return DatabaseCheck(id: .statistics, verdict: .ok, summary: "\(coverage); \(when)")
        }
        return DatabaseCheck(id: .statistics, verdict: .warn, summary: "\(coverage); \(when)",
                             fix: "opsctl db \(context.env) optimize, and weekly: systemctl enable --now opsctl-db@\(context.env).timer")
    }

    /// 65 when quick_check failed, 9 when not in WAL mode, 1 for any other failing line, else 0.
    public static func exitCode(_ checks: [DatabaseCheck]) -> Int32 {
        if checks.contains(where: { $0.id == .quickCheck && $0.verdict == .fail }) { return OpsError.Kind.databaseCorrupt.exitCode }
        if checks.contains(where: { $0.id == .journalMode && $0.verdict == .fail }) { return OpsError.Kind.databaseMode.exitCode }
        return checks.contains { $0.verdict == .fail } ? OpsError.Kind.checkFailed.exitCode : 0
    }

    static func percent(_ value: Double) -> String { value >= 10 || value == 0 ? "\(Int(value.rounded()))%" : String(format: "%.1f%%", value) }
}
