// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CSQLite
import Foundation
import Testing
@testable import OpsKit

struct LedgerTests {
    let directory = TemporaryDirectory("opsctl-ledger")

    @Test func aNewLedgerIsWALAtTheLatestSchema() throws {
        let ledger = try Ledger(path: directory.file("state/state.db"))
        #expect(ledger.schemaVersion == LedgerSchema.latestVersion)
        #expect(try ledger.database.query("PRAGMA journal_mode").first?.string(0) == "wal")
        for table in ["deployments", "backups", "verifications", "smoke_runs", "notes", "locks", "restores"] {
            #expect(try ledger.database.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", [.text(table)]).count == 1, "\(table)")
        }
    }

    @Test func migratesAnOlderSchemaKeepingItsRows() throws {
        let path = directory.file("old.db")
        do {
            // A ledger as the first schema left it, with a deploy recorded.
            let old = try SQLiteDatabase(path: path)
            try old.execute(LedgerSchema.migrations[0])
            try old.execute("PRAGMA user_version = 1")
            try old.query("INSERT INTO deployments (env, version, status, started_at) VALUES ('production', '1.0.0', 'succeeded', 1700000000)")
        }
        let ledger = try Ledger(path: path)
        #expect(ledger.schemaVersion == LedgerSchema.latestVersion)
        let kept = try #require(try ledger.lastDeployment(env: "production"))
        #expect(kept.version == "1.0.0")
        #expect(kept.status == .succeeded)
        #expect(try ledger.lastBackup(env: "production") == nil)   // the v2 table exists and is usable
        // Opening again is a no-op.
        #expect(try Ledger(path: path).schemaVersion == LedgerSchema.latestVersion)
    }

    @Test func refusesASchemaFromTheFuture() throws {
        let path = directory.file("future.db")
        do {
            let future = try SQLiteDatabase(path: path)
            try future.execute("PRAGMA user_version = 99")
        }
        let error = opsError { () throws(OpsError) in _ = try Ledger(path: path) }
        #expect(error?.code == "ledger.too_new")
        #expect(error?.exitCode == 78)
    }

    @Test func recordsAndReadsDeployments() throws {
        let ledger = try Ledger(path: directory.file("state.db"))
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let first = try ledger.beginDeployment(env: "production", kind: .deploy, version: "1.0.0", previousVersion: nil, gitCommit: "abc",
                                               image: "app:1.0.0", container: "app-production-1.0.0", actor: "alice", message: nil, at: start)
        try ledger.finishDeployment(id: first, status: .succeeded, at: start.addingTimeInterval(12))
        let second = try ledger.beginDeployment(env: "production", kind: .deploy, version: "1.0.1", previousVersion: "1.0.0", gitCommit: "def",
                                                image: "app:1.0.1", container: "app-production-1.0.1", actor: "bob", message: "fix",
                                                at: start.addingTimeInterval(60))
        try ledger.finishDeployment(id: second, status: .rolledBack, reason: "health check failed", at: start.addingTimeInterval(90))
        let history = try ledger.deployments(env: "production", limit: 10)
        #expect(history.map(\.version) == ["1.0.1", "1.0.0"])
        #expect(history[0].status == .rolledBack)
        #expect(history[0].reason == "health check failed")
        #expect(history[1].duration == 12)
        #expect(try ledger.lastDeployment(env: "production", status: .succeeded)?.version == "1.0.0")
        #expect(try ledger.deployments(env: "staging", limit: 10).isEmpty)
    }

    @Test func anOrphanedRunIsMarkedInterrupted() throws {
        let ledger = try Ledger(path: directory.file("state.db"))
        // A pid that cannot be alive: above the kernel's pid_max.
        try ledger.database.query("""
            INSERT INTO deployments (env, version, status, started_at, host, pid) VALUES ('production', '2.0.0', 'running', 1, ?, 2147483646)
            """, [.text(ProcessInfo.processInfo.hostName)])
        // Our own run is alive and must be left alone.
        _ = try ledger.beginDeployment(env: "production", kind: .deploy, version: "2.0.1", previousVersion: nil, gitCommit: nil,
                                       image: nil, container: nil, actor: nil, message: nil)
        let marked = try ledger.markOrphanedRuns(host: ProcessInfo.processInfo.hostName)
        #expect(marked.map(\.version) == ["2.0.0"])
        let rows = try ledger.deployments(env: "production", limit: 10)
        #expect(rows.first { $0.version == "2.0.0" }?.status == .interrupted)
        #expect(rows.first { $0.version == "2.0.1" }?.status == .running)
    }

    /// Separate connections behave like separate processes to SQLite's locking. Each writer
    /// holds its transaction open a while, so they collide on every round.
    @Test func concurrentWritersNeverSeeDatabaseIsLocked() async throws {
        let path = directory.file("state.db")
        _ = try Ledger(path: path)
        let writers = 4, notesEach = 25
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let ledger = try Ledger(path: path)
                    for index in 0..<notesEach {
                        try ledger.database.writeTransaction { () throws(OpsError) in
                            try ledger.database.query("INSERT INTO notes (env, text, created_at) VALUES ('p', ?, 0)", [.text("\(writer)-\(index)")])
                            usleep(2000)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let ledger = try Ledger(path: path)
        #expect(try ledger.pendingNotes(env: "p").count == writers * notesEach)
    }
}

struct AtomicFileTests {
    let directory = TemporaryDirectory("opsctl-atomic")

    @Test func writesWithTheRequestedModeAndLeavesNoTemporaryFiles() throws {
        let target = directory.file("config.yml")
        try AtomicFile.write("one\n", to: target)
        try AtomicFile.write("two\n", to: target, permissions: 0o600)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "two\n")
        let mode = try FileManager.default.attributesOfItem(atPath: target)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["config.yml"])
    }

    @Test func aReadOnlyDirectoryIsAnIOErrorAndTheOldFileSurvives() throws {
        guard getuid() != 0 else {
            // root ignores directory permissions; a missing directory exercises the same failure path.
            let error = opsError { () throws(OpsError) in try AtomicFile.write("x", to: directory.file("missing/dir/file")) }
            #expect(error?.exitCode == 74)
            #expect(error?.message.contains("No such file or directory") == true)
            return
        }
        let target = directory.file("keep.txt")
        try AtomicFile.write("old", to: target)
        chmod(directory.path, 0o555)
        defer { chmod(directory.path, 0o755) }
        let error = opsError { () throws(OpsError) in try AtomicFile.write("new", to: target) }
        #expect(error?.exitCode == 74)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "old")
    }
}
