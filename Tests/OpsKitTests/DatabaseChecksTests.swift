// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// The rules `opsctl db`, status, preflight, the handoff and the metrics share, on facts built by hand.
struct DatabaseChecksTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let mib: Int64 = 1 << 20

    func facts(walBytes: Int64 = 0, frames: Int = 0, backfilled: Int = 0, readers: [WALIndex.Reader] = [], freelist: Int = 0,
               journal: JournalMode = .wal, quickCheck: [String]? = ["ok"]) -> DatabaseFacts {
        DatabaseFacts(path: "/srv/app.db", fileBytes: 400 * Self.mib, walBytes: walBytes, pageSize: 4096, pageCount: 102_400, freelistPages: freelist,
                      journalMode: journal, autoVacuum: .incremental,
                      schema: .init(tables: 3, indexes: 2, views: 0, triggers: 0, indexedTables: 2, analyzedTables: 2),
                      wal: journal == .wal ? WALIndex(frames: frames, backfilled: backfilled, pageSize: 4096, readers: readers) : nil, quickCheck: quickCheck)
    }

    func context(maxWAL: Int64 = 256 << 20, history: MaintenanceHistory? = nil) -> DatabaseChecks.Context {
        var limits = DatabaseMaintenance()
        limits.maxWAL = maxWAL
        return DatabaseChecks.Context(env: "production", limits: limits, history: history, now: Self.now)
    }

    func check(_ id: DatabaseCheckID, _ facts: DatabaseFacts, _ context: DatabaseChecks.Context) throws -> DatabaseCheck {
        try #require(DatabaseChecks.evaluate(facts, context).first { $0.id == id })
    }

    @Test func theWALWarnsAtHalfOfMaxWALAndFailsPastIt() throws {
        #expect(try check(.wal, facts(walBytes: 127 * Self.mib), context()).verdict == .ok)
        let half = try check(.wal, facts(walBytes: 128 * Self.mib), context())
        #expect(half.verdict == .warn)
        #expect(half.fix == "opsctl db production checkpoint --mode truncate (gives the file's space back)")
        #expect(try check(.wal, facts(walBytes: 256 * Self.mib), context()).verdict == .fail)
    }

    /// The early warning: a reader on an old snapshot, and more frames waiting than an app's
    /// own auto-checkpoint would ever let pile up, whatever the WAL's size.
    @Test func aReaderPinningTheWALWarnsLongBeforeMaxWAL() throws {
        let reader = WALIndex.Reader(pid: 4242, command: "worker", slot: 1, snapshotFrame: 120, pinsWAL: true)
        let pinned = try check(.checkpoint, facts(walBytes: 5 * Self.mib, frames: 1300, backfilled: 120, readers: [reader]), context())
        #expect(pinned.verdict == .warn)
        #expect(pinned.summary.contains("pid 4242 (worker) reads a snapshot from frame 120 of 1300"))
        #expect(pinned.summary.contains("1180 frames (4.6 MiB) wait"))
        #expect(pinned.fix?.hasPrefix("find what pid 4242 (worker) is doing") == true)
        #expect(try check(.wal, facts(walBytes: 5 * Self.mib, frames: 1300, backfilled: 120, readers: [reader]), context()).verdict == .ok)
        // Fewer frames than an auto-checkpoint lets through: a reader that is merely busy.
        #expect(try check(.checkpoint, facts(frames: 900, backfilled: 0, readers: [reader]), context()).verdict == .ok)
        // A reader on the newest snapshot holds nothing back.
        let current = WALIndex.Reader(pid: 4242, command: nil, slot: 2, snapshotFrame: 5000, pinsWAL: false)
        #expect(try check(.checkpoint, facts(frames: 5000, backfilled: 100, readers: [current]), context()).verdict == .ok)
        // No reader, yet a quarter of max_wal waits: the app does not checkpoint.
        let lagging = try check(.checkpoint, facts(frames: 20_000, backfilled: 0), context(maxWAL: 64 << 20))
        #expect(lagging.verdict == .warn)
        #expect(lagging.summary.contains("the app does not checkpoint"))
    }

    @Test func theFreelistWarnsAtMaxFreelistWithTheFixForItsAutoVacuum() throws {
        #expect(try check(.freelist, facts(freelist: 20_000), context()).verdict == .ok)
        let due = try check(.freelist, facts(freelist: 20_480), context())
        #expect(due.verdict == .warn)
        #expect(due.summary.contains("20% of the file; max_freelist 20%"))
        #expect(due.fix == "opsctl db production vacuum (online: incremental_vacuum in small batches)")
        var none = facts(freelist: 30_000)
        none.autoVacuum = .none
        #expect(try check(.freelist, none, context()).fix?.hasPrefix("opsctl db production vacuum --auto-vacuum incremental (a new file swapped in: behind a proxy users wait in nginx meanwhile, else stop the app first") == true)
    }

    @Test func statisticsWarnWhenNeverOptimizedOrTwoWeeksOld() throws {
        #expect(try check(.statistics, facts(), context()).verdict == .warn)
        func optimized(daysAgo: Double) -> MaintenanceHistory {
            MaintenanceHistory(lastOptimize: DatabaseMaintenanceRecord(env: "production", databasePath: "/srv/app.db", operation: .optimize, method: .limited,
                                                               status: .succeeded, startedAt: Self.now - daysAgo * 86_400, finishedAt: Self.now - daysAgo * 86_400))
        }
        #expect(try check(.statistics, facts(), context(history: optimized(daysAgo: 6))).verdict == .ok)
        #expect(try check(.statistics, facts(), context(history: optimized(daysAgo: 15))).verdict == .warn)
    }

    @Test func exitCodesNameTheWorstProblem() throws {
        #expect(DatabaseChecks.exitCode(DatabaseChecks.evaluate(facts(), context())) == 0)
        #expect(DatabaseChecks.exitCode(DatabaseChecks.evaluate(facts(walBytes: 300 * Self.mib), context())) == 1)
        #expect(DatabaseChecks.exitCode(DatabaseChecks.evaluate(facts(journal: .delete), context())) == 9)
        #expect(DatabaseChecks.exitCode(DatabaseChecks.evaluate(facts(journal: .delete, quickCheck: ["row 3 missing from index x"]), context())) == 65)
        // Without WAL mode there is no WAL line to judge.
        #expect(!DatabaseChecks.evaluate(facts(journal: .delete), context()).contains { $0.id == .wal || $0.id == .checkpoint })
    }

    // MARK: - database.maintenance in opsctl.yml

    let directory = TemporaryDirectory("opsctl-db-config")

    func parse(_ maintenance: String) throws(OpsError) -> DatabaseMaintenance {
        let config = try ConfigLoader.parse("""
            app: dashboard
            image: dashboard
            environments:
              production:
                database:
                  path: data/app.db
            \(maintenance)
            """, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: [:])
        guard let database = try config.environment(named: "production").database else {
            throw OpsError(.software, code: "test.no_database", "no database section parsed")
        }
        return database.maintenance
    }

    @Test func maintenanceKeysParseWithTheirDefaults() throws {
        #expect(try parse("") == DatabaseMaintenance())
        let limits = try parse("      maintenance: {max_wal: 64MiB, max_freelist: 12.5%, busy_timeout: 2s}")
        #expect(limits.maxWAL == 64 << 20)
        #expect(limits.maxFreelist == 12.5)
        #expect(limits.busyTimeout == .seconds(2))
        #expect(ReportEncoder.json(limits).contains("\"max_freelist\" : \"12.5%\""))
    }

    @Test(arguments: [
        ("max_wal: 12 parsecs", "environments.production.database.maintenance.max_wal: \"12 parsecs\" is not a size"),
        ("max_wal: 1KiB", "environments.production.database.maintenance.max_wal: 1KiB is out of range"),
        ("max_freelist: 20", "environments.production.database.maintenance.max_freelist: \"20\" is not a percentage"),
        ("max_freelist: 150%", "environments.production.database.maintenance.max_freelist: 150% is out of range"),
        ("busy_timeout: 0s", "environments.production.database.maintenance.busy_timeout: must be greater than 0"),
        ("max_wall: 1GiB", "max_wall"),
    ])
    func badMaintenanceKeysNameTheKey(_ yaml: String, _ expected: String) throws {
        let error = opsError { () throws(OpsError) in _ = try parse("      maintenance: {\(yaml)}") }
        #expect(error?.exitCode == 78)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
    }

    /// promtool evaluates the shipped database alerts over synthetic series.
    @Test(.enabled(if: RequiredTool.shouldRun("promtool"), "needs promtool (scripts/setup.sh; always required under CI=true)"))
    func theDatabaseAlertsFireOnAPinnedOrLargeWAL() async throws {
        let rules = repositoryRoot + "/templates/prometheus/opsctl-alerts.yml"
        let test = try directory.write("database-test.yml", """
            rule_files: [\(rules)]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
                  - series: 'opsctl_database_wal_pinned{env="production"}'
                    values: '0x10 1x60'
                  - series: 'opsctl_database_wal_bytes{env="production"}'
                    values: '0x30 200000000x30'
                  - series: 'opsctl_database_wal_max_bytes{env="production"}'
                    values: '268435456x60'
                alert_rule_test:
                  - eval_time: 20m
                    alertname: OpsctlDatabaseWALPinned
                    exp_alerts: []
                  - eval_time: 30m
                    alertname: OpsctlDatabaseWALPinned
                    exp_alerts:
                      - exp_labels: {severity: warning, env: production}
                        exp_annotations:
                          summary: "A reader keeps the production database's WAL from being checkpointed: opsctl db production names it"
                          runbook: "runbooks/database.md#the-wal-keeps-growing"
                  - eval_time: 20m
                    alertname: OpsctlDatabaseWALLarge
                    exp_alerts: []
                  - eval_time: 40m
                    alertname: OpsctlDatabaseWALLarge
                    exp_alerts:
                      - exp_labels: {severity: warning, env: production}
                        exp_annotations:
                          summary: "The production database's WAL is over half of max_wal"
                          runbook: "runbooks/database.md#the-wal-keeps-growing"

            """)
        try await setUp("promtool", ["test", "rules", test])
    }
}
