// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The maintenance commands: each checks its input first (missing, not SQLite, corrupt, locked,
/// not WAL: nothing changed), runs, then records itself in the ledger and refreshes the metrics.
extension DatabaseService {
    public static func optimize(_ request: DatabaseRequest, full: Bool, context: OpsContext) throws(OpsError) -> OptimizeReport {
        let started = (clock: ContinuousClock.now, date: context.now())
        let (database, before) = try openForMaintenance(request, quickCheck: true)
        let method: MaintenanceMethod = full ? .full : .limited
        var holds = WriterHolds()
        do {
            let result = try DatabaseOptimizer.optimize(database, full: full, busyTimeout: request.limits.busyTimeout, context: context)
            holds = result.holds
            let report = OptimizeReport(env: request.env, path: request.path, method: method, analysisLimit: full ? 0 : DatabaseOptimizer.analysisLimit,
                                        changed: result.changed, current: result.current, writersHeld: holds,
                                        durationMs: (ContinuousClock.now - started.clock).milliseconds)
            finish(request, .optimize, method, started: started.date, before: before, holds: holds, summary: report.summary, context: context)
            return report
        } catch {
            finish(request, .optimize, method, started: started.date, before: before, holds: holds, error: error, context: context)
            throw error
        }
    }

    public static func checkpoint(_ request: DatabaseRequest, mode: CheckpointMode, context: OpsContext) throws(OpsError) -> CheckpointReport {
        let started = context.now()
        let (database, before) = try openForMaintenance(request, quickCheck: false)
        let method: MaintenanceMethod = mode == .truncate ? .truncate : .passive
        do {
            let report = try DatabaseCheckpoint.checkpoint(database, mode: mode, env: request.env, busyTimeout: request.limits.busyTimeout)
            let summary = "\(report.checkpointed) of \(report.frames) frames; WAL \(ByteCount.format(report.walBytesBefore)) -> \(ByteCount.format(report.walBytesAfter))"
            finish(request, .checkpoint, method, started: started, before: before, holds: report.writersHeld, summary: summary,
                   error: report.completed ? nil : OpsError(.databaseBusy, code: "database.checkpoint_incomplete", report.fix ?? "incomplete"), context: context)
            return report
        } catch {
            finish(request, .checkpoint, method, started: started, before: before, holds: WriterHolds(), error: error, context: context)
            throw error
        }
    }

    /// `ifNeeded`: only when the freelist is past `max_freelist` (the weekly timer's way).
    /// `autoVacuum`: the mode a swapped-in file gets (`--auto-vacuum`).
    public static func vacuum(_ request: DatabaseRequest, ifNeeded: Bool, autoVacuum: AutoVacuum?, context: OpsContext) async throws(OpsError) -> VacuumReport {
        let started = (clock: ContinuousClock.now, date: context.now())
        removeStaleScratch(near: request.path)
        let (database, before) = try openForMaintenance(request, quickCheck: true)
        var report = VacuumReport(env: request.env, path: request.path, bytesBefore: before.fileBytes, bytesAfter: before.fileBytes, walBytesAfter: before.walBytes,
                                  freelistBefore: before.freelistPages, freelistAfter: before.freelistPages, autoVacuum: before.autoVacuum, batches: 0,
                                  writersHeld: WriterHolds(), durationMs: 0)
        let wantsSwap = autoVacuum.map { $0 != before.autoVacuum } ?? false
        if let reason = skipReason(before, request: request, ifNeeded: ifNeeded, wantsSwap: wantsSwap) {
            report.skipped = reason
            return report
        }
        let method: MaintenanceMethod = before.autoVacuum == .incremental && !wantsSwap ? .incremental : .swap
        report.method = method
        do throws(OpsError) {
            if method == .incremental {
                report.batches = try IncrementalVacuum().run(database, busyTimeout: request.limits.busyTimeout, holds: &report.writersHeld, context: context)
            } else {
                _ = consume database
                let outcome = try await VacuumSwap(request: request, autoVacuum: autoVacuum).run(before, context: context)
                (report.safetyCopy, report.generation, report.pause) = (outcome.safetyCopy, outcome.generation, outcome.pause)
            }
            let after = try DatabaseInspector.inspect(request.path, busyTimeout: request.limits.busyTimeout, quickCheck: method == .swap)
            if after.quickCheckPassed == false {
                throw OpsError(.databaseCorrupt, code: "database.check_failed", "\(request.path) failed quick_check after the swap: \(after.quickCheck?.first ?? "")",
                               details: report.safetyCopy.map { ["the previous database is in \($0)"] } ?? [])
            }
            (report.bytesAfter, report.walBytesAfter, report.freelistAfter, report.autoVacuum) = (after.fileBytes, after.walBytes, after.freelistPages, after.autoVacuum)
            report.reclaimedBytes = max(0, report.bytesBefore - report.bytesAfter)
            if method == .incremental, let pinned = after.wal?.pinningReaders.first {
                report.note = "\(pinned.description) reads an old snapshot: the file shrinks at the first checkpoint after it ends"
            }
            report.durationMs = (ContinuousClock.now - started.clock).milliseconds
            finish(request, .vacuum, method, started: started.date, before: before, after: after, holds: report.writersHeld,
                   generation: report.generation, safetyCopy: report.safetyCopy,
                   summary: "\(ByteCount.format(report.reclaimedBytes)) reclaimed, freelist \(report.freelistBefore) -> \(report.freelistAfter) pages", context: context)
            return report
        } catch {
            finish(request, .vacuum, method, started: started.date, before: before, holds: report.writersHeld, generation: report.generation,
                   safetyCopy: report.safetyCopy, error: error, context: context)
            throw error
        }
    }

    static func skipReason(_ facts: DatabaseFacts, request: DatabaseRequest, ifNeeded: Bool, wantsSwap: Bool) -> String? {
        if wantsSwap { return nil }
        if facts.freelistPages == 0 { return "no free pages to give back" }
        if facts.autoVacuum == .full { return "auto_vacuum=full gives free pages back at every commit (pass --auto-vacuum incremental to change it)" }
        if ifNeeded, facts.freelistPercent < request.limits.maxFreelist {
            return "\(DatabaseChecks.percent(facts.freelistPercent)) of the file is free, below max_freelist \(DatabaseMaintenance.percentText(request.limits.maxFreelist))"
        }
        return nil
    }

    /// Open, refuse what maintenance must not touch, and look at it once.
    static func openForMaintenance(_ request: DatabaseRequest, quickCheck: Bool) throws(OpsError) -> (SQLiteDatabase, DatabaseFacts) {
        let busyTimeout = request.limits.busyTimeout
        let database = try DatabaseFile.open(request.path, busyTimeout: busyTimeout)
        try DatabaseFile.requireWAL(database, busyTimeout: busyTimeout)
        // Commits without an fsync under the write lock: the app's next commit syncs these few
        // pages with its own, instead of waiting for a sync of ours. Safe in WAL mode (a power
        // cut can lose only maintenance the next run redoes).
        try DatabaseFile.run(database, busyTimeout: busyTimeout) { () throws(OpsError) in try database.execute("PRAGMA synchronous = NORMAL") }
        let facts = try DatabaseInspector.inspect(request.path, busyTimeout: busyTimeout, quickCheck: quickCheck)
        if facts.quickCheckPassed == false {
            throw OpsError(.databaseCorrupt, code: "database.corrupt", "\(request.path) fails quick_check: \(facts.quickCheck?.prefix(3).joined(separator: "; ") ?? "")",
                           details: ["nothing was changed; opsctl verify \(request.env) checks the backups, opsctl restore \(request.env) puts the newest verified one back"])
        }
        return (database, facts)
    }

    /// The ledger row and the metrics of a run that got past the input checks.
    static func finish(_ request: DatabaseRequest, _ operation: MaintenanceOperation, _ method: MaintenanceMethod, started: Date, before: DatabaseFacts,
                       after: DatabaseFacts? = nil, holds: WriterHolds, generation: String? = nil, safetyCopy: String? = nil, summary: String? = nil,
                       error: OpsError? = nil, context: OpsContext) {
        let now = after ?? (try? DatabaseInspector.inspect(request.path, busyTimeout: request.limits.busyTimeout, quickCheck: false))
        record(DatabaseMaintenanceRecord(
            env: request.env, databasePath: request.path, operation: operation, method: method, status: error == nil ? .succeeded : .failed,
            startedAt: started, finishedAt: context.now(), bytesBefore: before.fileBytes, bytesAfter: now?.fileBytes,
            freelistBefore: before.freelistPages, freelistAfter: now?.freelistPages, writerHoldMs: holds.totalMs, longestHoldMs: holds.longestMs,
            generation: generation, safetyCopy: safetyCopy, summary: summary, error: error?.message), request, context: context)
        if let now { writeMetrics(request, facts: now, history: history(request, context: context), context: context) }
    }

    /// Scratch files of runs that were killed (`.opsctl-tmp-vacuum-<pid>.db`, `…-analyze-<pid>.db`), their pid gone.
    static func removeStaleScratch(near database: String) {
        let directory = URL(fileURLWithPath: database).deletingLastPathComponent().path
        for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            for kind in ["vacuum", "analyze"] where file.hasPrefix("\(BackupNaming.temporaryPrefix)\(kind)-") {
                let pid = file.dropFirst(BackupNaming.temporaryPrefix.count + kind.count + 1).prefix { $0.isASCIIDigit }
                guard let number = Int32(pid), number != getpid(), !Ledger.isProcessAlive(number) else { continue }
                unlink("\(directory)/\(file)")
            }
        }
    }
}
