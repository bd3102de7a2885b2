// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `opsctl db` against a real app: writer.py commits a row every 5 ms the whole time, and must
/// lose nothing and never see SQLITE_BUSY.
@Suite(.serialized)
struct DatabaseMaintenanceTests {
    let directory = TemporaryDirectory("opsctl-db")
    let context = OpsContext()

    var database: String { directory.file("app.db") }

    func request(busyTimeout: OpsDuration = .seconds(5)) -> DatabaseRequest {
        var request = DatabaseRequest(env: "production", path: database, backupName: "app",
                                      pause: RefuseWhileInUse(env: "production", runtime: { nil }))
        request.limits.busyTimeout = busyTimeout
        request.ledgerPath = directory.file("state.db")
        request.backupDirectory = directory.file("backups")
        return request
    }

    /// A generated database with free pages: rows deleted from both tables.
    func databaseWithFreePages(megabytes: Double = 8, incremental: Bool) async throws {
        try await generateDatabase(database, megabytes: megabytes)
        let db = try SQLiteDatabase(path: database)
        if incremental { try db.execute("PRAGMA auto_vacuum = INCREMENTAL; VACUUM") }
        try db.execute("DELETE FROM attachments WHERE id % 2 = 0; DELETE FROM sessions WHERE id % 3 = 0")
        #expect(try db.pragmaInt("freelist_count") > 0)
    }

    /// Every id the writer logged as committed is in the table, and the ids are 1...max without a gap.
    func expectEveryCommittedRow(_ writer: WriterProcess) throws {
        let committed = try #require(writer.committedIDs().last)
        let row = try #require(try SQLiteDatabase(path: database, mode: .readOnly).query("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM seq").first)
        #expect(row.int(0) == row.int(1), "ids 1...\(row.int(1) ?? 0) without gaps (\(row.int(0) ?? 0) rows)")
        #expect(row.int(1) == committed, "the last id the writer committed (\(committed)) is the newest row")
    }

    func expectNoBusy(_ writer: WriterProcess) {
        let (status, report) = writer.finish()
        #expect(status == 0, "the writer saw a failed commit: \(report)")
        #expect(report.contains("busy 0 errors 0"), "\(report)")
    }

    func rows(_ table: String) throws -> Int {
        try SQLiteDatabase(path: database, mode: .readOnly).query("SELECT COUNT(*) FROM \(table)").first?.int(0) ?? -1
    }

    @Test func optimizeUnderAWriterLosesNothingAndSaysWhatChanged() async throws {
        try await generateDatabase(database, megabytes: 8)
        let writer = try WriterProcess(database: database, intervalMs: 5)
        try await writer.waitForCommits(20)
        let first = try DatabaseService.optimize(request(), full: false, context: context)
        #expect(first.changed.map(\.table) == ["sessions"])
        #expect(first.changed.first?.reason == "never analyzed")
        #expect(first.changed.first?.rowsAfter ?? 0 > 0)
        #expect(first.writersHeld.transactions >= 2)
        let again = try DatabaseService.optimize(request(), full: false, context: context)
        #expect(again.changed.isEmpty, "statistics are current now: \(again.changed)")
        let full = try DatabaseService.optimize(request(), full: true, context: context)
        #expect(full.method == .full)
        #expect(full.writersHeld.transactions == 1, "the statistics are copied in one transaction")
        try await writer.waitForCommits(20)
        expectNoBusy(writer)
        try expectEveryCommittedRow(writer)
        let stat = try SQLiteDatabase(path: database, mode: .readOnly).query("SELECT stat FROM sqlite_stat1 WHERE tbl = 'sessions'").first?.string(0)
        #expect(stat?.split(separator: " ").first.flatMap { Int($0) } == (try rows("sessions")), "the full ANALYZE counted every row")
        let history = try Ledger(path: directory.file("state.db")).maintenanceHistory(env: "production")
        #expect(history.lastOptimize?.method == .full)
        #expect(history.lastOptimize?.status == .succeeded)
    }

    /// Also against an app that opens a connection per commit: each of its closes may be the
    /// last one (it would checkpoint and delete the WAL) unless opsctl's own locks say otherwise.
    @Test(arguments: [false, true])
    func incrementalVacuumUnderAWriterLosesNothing(reconnecting: Bool) async throws {
        try await databaseWithFreePages(incremental: true)
        let sessions = try rows("sessions")
        let pagesBefore = try SQLiteDatabase(path: database).pragmaInt("page_count")
        let writer = try WriterProcess(database: database, intervalMs: 5, extra: reconnecting ? ["--reconnect"] : [])
        try await writer.waitForCommits(20)
        let report = try await DatabaseService.vacuum(request(), ifNeeded: false, autoVacuum: nil, context: context)
        #expect(report.method == .incremental)
        #expect(report.freelistAfter == 0)
        #expect(report.batches >= 1)
        #expect(report.writersHeld.transactions == report.batches)
        #expect(report.safetyCopy == nil && report.generation == nil, "the file was not replaced")
        try await writer.waitForCommits(20)
        expectNoBusy(writer)
        try expectEveryCommittedRow(writer)
        #expect(try rows("sessions") == sessions)
        let after = try SQLiteDatabase(path: database)
        #expect(try after.query("PRAGMA integrity_check").first?.string(0) == "ok")
        #expect(try after.pragmaInt("page_count") < pagesBefore, "free pages were given back")
        #expect(try Ledger(path: directory.file("state.db")).maintenanceHistory(env: "production").lastVacuum?.method == .incremental)
    }

    @Test func aSwapIsRefusedWhileAnotherProcessHasTheDatabaseOpen() async throws {
        try await databaseWithFreePages(incremental: false)
        let inode = try inodeOf(database)
        let writer = try WriterProcess(database: database, intervalMs: 5)
        try await writer.waitForCommits(10)
        let refused = await asyncOpsError { () async throws(OpsError) in _ = try await DatabaseService.vacuum(request(), ifNeeded: false, autoVacuum: nil, context: context) }
        #expect(refused?.code == "database.in_use")
        #expect(refused?.exitCode == 1)
        #expect(refused?.message.contains("pid \(writer.pid)") == true, "\(refused?.message ?? "")")
        expectNoBusy(writer)
        try expectEveryCommittedRow(writer)
        #expect(try inodeOf(database) == inode, "the file was not replaced")
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: directory.file("backups"))) ?? [])
            + (try FileManager.default.contentsOfDirectory(atPath: directory.path)).filter { $0.hasPrefix(".opsctl-tmp") }
        #expect(leftovers.filter { !$0.hasSuffix(".lock") }.isEmpty, "no safety copy, no scratch file: \(leftovers)")
    }

    @Test func aSwapReplacesTheFileWithACheckedCopyAndSaysSo() async throws {
        try await databaseWithFreePages(incremental: false)
        let before = try SQLiteDatabase(path: database)
        let content = try before.query("SELECT COUNT(*), SUM(id), SUM(length(note)) FROM sessions").first?.values
        let pages = try before.pragmaInt("page_count")
        let inode = try inodeOf(database)
        let report = try await DatabaseService.vacuum(request(), ifNeeded: false, autoVacuum: .incremental, context: context)
        #expect(report.method == .swap)
        #expect(report.freelistAfter == 0)
        #expect(report.autoVacuum == .incremental)
        #expect(report.reclaimedBytes > 0)
        let safety = try #require(report.safetyCopy)
        #expect(safety.hasSuffix(".pre-vacuum.db.gz"))
        try await setUp("gzip", ["-t", safety])
        #expect(try inodeOf(database) != inode)
        let after = try SQLiteDatabase(path: database)
        #expect(try after.query("SELECT COUNT(*), SUM(id), SUM(length(note)) FROM sessions").first?.values == content)
        #expect(try after.query("PRAGMA journal_mode").first?.string(0) == "wal")
        #expect(try after.pragmaInt("page_count") < pages)
        let swap = try #require(try Ledger(path: directory.file("state.db")).maintenanceHistory(env: "production").lastSwap)
        #expect(swap.generation == report.generation && swap.generation != nil, "a replica can see the file was replaced")
        #expect(swap.safetyCopy == safety)
        // The safety copy is not a backup that retention counts.
        #expect(try BackupCatalog.list(directory: directory.file("backups"), name: "app").isEmpty)

        // Incremental from now on: the next vacuum runs while the app does.
        try after.execute("DELETE FROM sessions WHERE id % 5 = 0")
        let next = try await DatabaseService.vacuum(request(), ifNeeded: false, autoVacuum: nil, context: context)
        #expect(next.method == .incremental)
        // --if-needed leaves a database below max_freelist alone.
        try after.execute("DELETE FROM sessions WHERE id % 7 = 0")
        let skipped = try await DatabaseService.vacuum(request(), ifNeeded: true, autoVacuum: nil, context: context)
        #expect(skipped.method == nil)
        #expect(skipped.skipped?.contains("below max_freelist 20%") == true, "\(skipped.skipped ?? "")")
    }

    /// The app holds its write transaction past the busy timeout: exit 75, nothing changed.
    @Test func aWriterHoldingTheLockPastTheBusyTimeoutIsExit75() async throws {
        try await databaseWithFreePages(megabytes: 4, incremental: true)
        let holder = try LockHolder(database: database, statements: "BEGIN IMMEDIATE; INSERT INTO sessions (user) VALUES ('held')")
        defer { holder.stop() }
        let files = try snapshot()
        let optimize = opsError { () throws(OpsError) in _ = try DatabaseService.optimize(request(busyTimeout: .seconds(1)), full: false, context: context) }
        #expect(optimize?.kind == .databaseBusy)
        #expect(optimize?.code == "database.busy")
        let vacuum = await asyncOpsError { () async throws(OpsError) in
            _ = try await DatabaseService.vacuum(request(busyTimeout: .seconds(1)), ifNeeded: false, autoVacuum: nil, context: context)
        }
        #expect(vacuum?.exitCode == 75)
        let checkpoint = try DatabaseService.checkpoint(request(busyTimeout: .seconds(1)), mode: .truncate, context: context)
        #expect(checkpoint.exitCode == 75 && !checkpoint.completed)
        #expect(try snapshot() == files, "nothing changed")
    }

    /// The database file and its WAL, byte for byte.
    func snapshot() throws -> [Data] {
        [database, database + "-wal"].map { (try? Data(contentsOf: URL(fileURLWithPath: $0))) ?? Data() }
    }

    func inodeOf(_ path: String) throws -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw OpsError(.io, code: "test.stat", "\(path): cannot stat") }
        return UInt64(info.st_ino)
    }
}
