// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation
import Testing
@testable import OpsKit

let fixtures = repositoryRoot + "/Tests/Fixtures"

func generateDatabase(_ path: String, megabytes: Double, journalMode: String = "wal") async throws {
    try await setUp("python3", [fixtures + "/db/generate.py", path, String(megabytes), "--journal-mode", journalMode])
}

func gunzip(_ path: String, to target: String) async throws {
    try await setUp("sh", ["-c", "gunzip -c \"$1\" > \"$2\"", "sh", path, target])
}

func sha256(ofFile path: String) throws -> String {
    SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path))).map { String(format: "%02x", $0) }.joined()
}

@Suite(.serialized)
struct BackupServiceTests {
    let directory = TemporaryDirectory("opsctl-backup")
    let context = OpsContext()

    var database: String { directory.file("app.db") }
    var backups: String { directory.file("backups") }

    /// The backup of a database being written every 2 ms holds a gap-free prefix of ids and passes integrity_check.
    @Test(arguments: ["wal", "delete"])
    func consistentUnderAConcurrentWriter(journalMode: String) async throws {
        try await generateDatabase(database, megabytes: 8, journalMode: journalMode)
        let writer = try WriterProcess(database: database, intervalMs: 2, journalMode: journalMode)
        defer { writer.stop() }
        try await Task.sleep(for: .milliseconds(300))
        var maxima: [Int] = []
        for round in 0..<3 {
            var request = BackupRequest(databasePath: database, directory: backups)
            request.prune = false
            // Both snapshot paths: in memory (the default for databases that fit) and a scratch file.
            request.snapshotInMemory = round != 1
            let report = try BackupService.run(request, context: context)
            #expect(report.manifest.database.journalMode == journalMode)
            #expect(try FileManager.default.contentsOfDirectory(atPath: backups).filter { $0.hasPrefix(".opsctl-tmp") }.isEmpty)
            let restored = directory.file("restored-\(round).db")
            try await gunzip(report.path, to: restored)
            let copy = try SQLiteDatabase(path: restored, mode: .readOnly)
            #expect(try copy.query("PRAGMA integrity_check").first?.string(0) == "ok")
            let row = try #require(try copy.query("SELECT COUNT(*), COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM seq").first)
            let (count, minimum, maximum) = (row.int(0)!, row.int(1)!, row.int(2)!)
            #expect(count == maximum, "ids 1...\(maximum) without gaps (\(count) rows)")
            #expect(minimum == (count > 0 ? 1 : 0))
            #expect(try copy.query("SELECT COUNT(*) FROM sessions").first?.int(0) ?? 0 > 0)
            maxima.append(maximum)
            try await Task.sleep(for: .milliseconds(1100))   // next second, next file name
        }
        #expect(maxima == maxima.sorted() && maxima.last! > maxima.first!, "the writer kept writing during the backups: \(maxima)")
    }

    @Test func writesAManifestThatMatchesTheFile() async throws {
        try await generateDatabase(database, megabytes: 3)
        let ledgerPath = directory.file("state.db")
        var request = BackupRequest(databasePath: database, directory: backups, name: "dashboard")
        request.env = "production"
        request.ledgerPath = ledgerPath
        request.metricsDirectory = directory.file("metrics")
        request.level = 9
        let report = try BackupService.run(request, context: context)
        #expect(report.file.hasPrefix("dashboard_") && report.file.hasSuffix(".db.gz"))
        let manifest = try BackupManifest.read(report.path + ".manifest.json")
        #expect(manifest == report.manifest)
        #expect(manifest.sha256 == (try sha256(ofFile: report.path)))
        #expect(manifest.bytes == (try FileManager.default.attributesOfItem(atPath: report.path)[.size] as? Int).map(Int64.init))
        #expect(manifest.compression.level == 9)
        #expect(manifest.database.source == database)
        #expect(manifest.database.pageSize * manifest.database.pageCount == Int(manifest.database.bytes))
        #expect(manifest.opsctlVersion == OpsctlVersion.current)
        #expect(manifest.sqliteVersion == SQLiteDatabase.libraryVersion)

        let restored = directory.file("restored.db")
        try await gunzip(report.path, to: restored)
        #expect((try FileManager.default.attributesOfItem(atPath: restored)[.size] as? Int).map(Int64.init) == manifest.database.bytes)

        // Only the backup, its manifest and the lock file: no scratch copies left behind.
        let files = try FileManager.default.contentsOfDirectory(atPath: backups).sorted()
        #expect(files == [".dashboard.opsctl-backup.lock", report.file, report.file + ".manifest.json"].sorted())

        let ledger = try Ledger(path: ledgerPath)
        let row = try #require(try ledger.lastBackup(env: "production"))
        #expect(row.status == .succeeded)
        #expect(row.file == report.path)
        #expect(row.bytes == manifest.bytes)

        let metrics = try String(contentsOfFile: directory.file("metrics/opsctl_production.prom"), encoding: .utf8)
        #expect(metrics.contains("opsctl_backup_size_bytes{env=\"production\"} \(manifest.bytes)\n"))
        #expect(metrics.contains("# TYPE opsctl_backup_last_success_timestamp_seconds gauge"))
    }

    @Test func metricsFilesPassPromtool() async throws {
        let metricsDirectory = directory.file("metrics")
        try MetricsFile.update(directory: metricsDirectory, env: "production", samples: [
            MetricSample("opsctl_backup_size_bytes", "Compressed size of the last backup.", labels: [("env", "production")], 1234),
            MetricSample("opsctl_verify_failed_backups", "Backups that failed verification.", labels: [("env", "production")], 0),
        ])
        // A second writer replaces its own family and keeps the other.
        try MetricsFile.update(directory: metricsDirectory, env: "production", samples: [
            MetricSample("opsctl_backup_size_bytes", "Compressed size of the last backup.", labels: [("env", "production")], 99),
        ])
        let path = MetricsFile.path(directory: metricsDirectory, env: "production")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == """
            # HELP opsctl_backup_size_bytes Compressed size of the last backup.
            # TYPE opsctl_backup_size_bytes gauge
            opsctl_backup_size_bytes{env="production"} 99
            # HELP opsctl_verify_failed_backups Backups that failed verification.
            # TYPE opsctl_verify_failed_backups gauge
            opsctl_verify_failed_backups{env="production"} 0

            """)
        try await setUp("sh", ["-c", "promtool check metrics < \"$1\"", "sh", path])
    }

    @Test func aSecondRunIsRefusedWithTheHolderOrWaits() async throws {
        try await generateDatabase(database, megabytes: 1)
        try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: true)
        let held = try FileLock.acquire(path: backups + "/.app.opsctl-backup.lock", what: "test", command: "held by the test")
        var request = BackupRequest(databasePath: database, directory: backups)
        let refused = opsError { () throws(OpsError) in _ = try BackupService.run(request, context: context) }
        #expect(refused?.exitCode == 5)
        #expect(refused?.message.contains("pid \(getpid())") == true)
        #expect(refused?.message.contains("held by the test") == true)

        // The wait is a hang catcher: the release below may come late on a busy machine.
        request.waitLock = .seconds(120)
        let release = Task { try await Task.sleep(for: .milliseconds(400)); held.release() }
        let report = try BackupService.run(request, context: context)
        _ = try await release.value
        #expect(FileManager.default.fileExists(atPath: report.path))
    }

    /// A prune by hand waits for nobody and deletes nothing while a backup run (which may be
    /// uploading those files off-site) or a restore holds the lock; a dry run needs no lock.
    @Test func pruneTakesTheBackupLock() async throws {
        try await generateDatabase(database, megabytes: 1)
        var request = BackupRequest(databasePath: database, directory: backups)
        request.prune = false
        let first = try BackupService.run(request, context: context)
        try await Task.sleep(for: .milliseconds(1100))
        _ = try BackupService.run(request, context: context)
        let held = try FileLock.acquire(path: BackupNaming.lockPath(directory: backups, name: "app"), what: "test", command: "held by the test")
        let policy = RetentionPolicy(keepLast: 1)
        let refused = opsError { () throws(OpsError) in
            _ = try PruneService.runHoldingLock(directory: backups, name: "app", policy: policy, dryRun: false, context: context)
        }
        #expect(refused?.exitCode == 5)
        #expect(FileManager.default.fileExists(atPath: first.path), "nothing deleted under someone else's lock")
        let dryRun = try PruneService.runHoldingLock(directory: backups, name: "app", policy: policy, dryRun: true, context: context)
        #expect(dryRun.decisions.filter { !$0.keep }.map(\.file) == [first.file])
        held.release()
        let pruned = try PruneService.runHoldingLock(directory: backups, name: "app", policy: policy, dryRun: false, context: context)
        #expect(pruned.deleted == [first.file])
    }

    @Test func leftoversOfAKilledRunAreCleanedUp() async throws {
        try await generateDatabase(database, megabytes: 1)
        try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: true)
        // pid 2147483646 cannot exist; a live pid's files (another run in progress) stay.
        let dead = ".opsctl-tmp-app_20261122_020000.2147483646.db.gz"
        let alive = ".opsctl-tmp-app_20261122_020000.1.db"
        for file in [dead, alive, "unrelated.txt"] { _ = FileManager.default.createFile(atPath: "\(backups)/\(file)", contents: Data("x".utf8)) }
        var request = BackupRequest(databasePath: database, directory: backups)
        request.prune = false
        let report = try BackupService.run(request, context: context)
        #expect(report.staleFilesRemoved == [dead])
        #expect(FileManager.default.fileExists(atPath: "\(backups)/\(alive)"))
        #expect(FileManager.default.fileExists(atPath: "\(backups)/unrelated.txt"))
    }

    @Test func refusesWhatIsNotADatabase() throws {
        try directory.write("notes.txt", String(repeating: "not sqlite\n", count: 100))
        let error = opsError { () throws(OpsError) in
            _ = try BackupService.run(BackupRequest(databasePath: directory.file("notes.txt"), directory: backups), context: context)
        }
        #expect(error?.code == "backup.not_sqlite")
        let missing = opsError { () throws(OpsError) in
            _ = try BackupService.run(BackupRequest(databasePath: directory.file("nope.db"), directory: backups), context: context)
        }
        #expect(missing?.code == "backup.source_missing")
        #expect(missing?.exitCode == 74)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: backups).filter { !$0.hasPrefix(".") }) == [])
    }

    /// A backup that does not fit: exit 74, nothing partial left, older backups untouched, no retention.
    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func aFullDiskIsExit74AndTouchesNothingElse() async throws {
        try await generateDatabase(database, megabytes: 6)
        let small = directory.file("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        try await setUp("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", small])
        defer { _ = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: [small]).waitUntilExit() }
        // Two old backups a keep_last=1 policy would prune after a success.
        let old = ["app_20200101_020000.db.gz", "app_20200102_020000.db.gz"]
        for file in old { _ = FileManager.default.createFile(atPath: "\(small)/\(file)", contents: Data(repeating: 7, count: 1000)) }
        var request = BackupRequest(databasePath: database, directory: small)
        request.retention.keepLast = 1
        let error = opsError { () throws(OpsError) in _ = try BackupService.run(request, context: context) }
        #expect(error?.exitCode == 74, "\(String(describing: error))")
        #expect(error?.message.contains("No space left on device") == true || error?.message.contains("disk") == true, "\(String(describing: error))")
        let left = try FileManager.default.contentsOfDirectory(atPath: small).sorted()
        #expect(left == [".app.opsctl-backup.lock"] + old)
        for file in old { #expect(try Data(contentsOf: URL(fileURLWithPath: "\(small)/\(file)")) == Data(repeating: 7, count: 1000)) }
    }
}
