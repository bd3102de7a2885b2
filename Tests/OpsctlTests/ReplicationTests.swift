// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// An environment with `backup.replica`, a live database written by a `WriterProcess`.
final class ReplicaFixture {
    let directory = TemporaryDirectory("opsctl-replica")
    var opsctl: Opsctl { Opsctl(directory: directory.path) }
    var live: String { directory.file("data/app.db") }
    var replica: String { directory.file("backups/replica") }

    init(replica: String = "{sync_interval: 100ms}", extra: String = "") throws {
        try FileManager.default.createDirectory(atPath: directory.file("data"), withIntermediateDirectories: true)
        try writeConfig(replica: replica, extra: extra)
    }

    func writeConfig(replica: String = "{sync_interval: 100ms}", extra: String = "") throws {
        try directory.write("opsctl.yml", """
            app: rep\(UInt32.random(in: 0...UInt32.max))
            image: opsctl-sample
            state: state.db
            environments:
              production:
                database: {path: data/app.db}
                metrics: {textfile_dir: metrics}
                backup:
                  dir: backups
                  name: app
                  replica: \(replica)\(extra)

            """)
    }

    /// The app's database (WAL, its table) and `replicate` running with its first snapshot
    /// written, before the first commit the test looks at.
    func startReplicating(name: String = "replicate") async throws -> Opsctl.Background {
        if !FileManager.default.fileExists(atPath: live) {
            let database = try SQLiteDatabase(path: live)
            try database.execute("PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS seq(id INTEGER PRIMARY KEY, at REAL, payload TEXT)")
        }
        let replicate = try await opsctl.background(["replicate", "production"], name: name)
        try await eventually("the first snapshot") { lastSync() != nil }
        return replicate
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// What `replicate.json` says the last finished round was.
    func lastSync() -> Date? { ReplicaStatus.read(replica + "/replicate.json")?.lastSync }

    /// Waits for a round that started after `time` (so every commit up to it is replicated).
    func waitForSync(past time: Date) async throws {
        try await eventually("a replication round after \(PointInTime.format(time))") { (lastSync() ?? .distantPast) > time }
    }

    /// The cut times of every point on disk, per generation, from the file names.
    func points() throws -> [ReplicaPoint] {
        try ReplicaStore(directory: replica, encryption: nil).catalog().generations.flatMap(\.points)
    }

    func ids(_ path: String) throws -> (count: Int, max: Int) {
        let row = try #require(try SQLiteDatabase(path: path, mode: .readOnly).query("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM seq").first)
        return (row.int(0)!, row.int(1)!)
    }

    func restore(_ arguments: String...) async throws -> (run: Opsctl.Run, point: Date?) {
        let run = try await opsctl.run(["restore", "production"] + arguments + ["--json"])
        let point = (try? run.json())?["replica"].flatMap { ($0 as? [String: Any])?["point"] as? String }.flatMap(PointInTime.parseRFC3339)
        return (run, point)
    }

    /// The database at `path` is exactly the commits up to `point`: ids 1...n with no hole, every
    /// commit logged before the point present, the first one missing logged after it. A point is
    /// named by its cut rounded up to the millisecond, so a commit within that millisecond may
    /// fall either way.
    func expectExactly(_ path: String, at point: Date, commits: [(id: Int, time: Date)], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (count, maximum) = try ids(path)
        #expect(count == maximum, "ids 1...\(maximum) without a hole (\(count) rows)", sourceLocation: sourceLocation)
        let cut = point.addingTimeInterval(-0.001)
        let before = commits.filter { $0.time < cut }.map(\.id).max() ?? 0
        #expect(maximum >= before, "every commit logged before \(PointInTime.format(point)) is in: up to \(before), found \(maximum)", sourceLocation: sourceLocation)
        if let next = commits.first(where: { $0.id == maximum + 1 }) {
            #expect(next.time >= cut, "id \(next.id) is missing, so it committed after the point: logged \(next.time.timeIntervalSince(point) * 1000) ms from it",
                    sourceLocation: sourceLocation)
        }
    }
}

@Suite(.serialized)
struct ReplicationTests {
    /// Every way an app checkpoints its own WAL, including the resets (TRUNCATE, RESTART) that
    /// lose the frames a WAL shipper has not read yet, and a tiny auto-checkpoint.
    @Test(arguments: [
        ["--checkpoint-every", "40", "--checkpoint-mode", "truncate"],
        ["--checkpoint-every", "25", "--checkpoint-mode", "restart"],
        ["--checkpoint-every", "30", "--checkpoint-mode", "passive"],
        ["--autocheckpoint", "20"],
    ])
    func aRecordedMomentGivesExactlyTheRowsCommittedByThen(checkpoint: [String]) async throws {
        let fixture = try ReplicaFixture()
        let replicate = try await fixture.startReplicating()
        let writer = try WriterProcess(database: fixture.live, intervalMs: 5, seconds: 3, extra: checkpoint)
        #expect(try await writer.finished().status == 0, "the writer saw no error, SQLITE_BUSY included")
        let commits = writer.commitLog()
        let last = try #require(commits.last)
        try await fixture.waitForSync(past: last.time)
        kill(replicate.pid, SIGTERM)
        #expect(try await replicate.finished() == 0, "SIGTERM ends replicate with exit 0")

        // Several recorded moments: each restore holds exactly what had committed by its point.
        for moment in [commits[commits.count / 4], commits[commits.count / 2], commits[commits.count * 3 / 4]] {
            let target = fixture.directory.file("at-\(moment.id).db")
            let (run, point) = try await fixture.restore("--at", PointInTime.format(moment.time), "--to", target)
            #expect(run.exitCode == 0, "\(run.stdout)\(run.stderr)")
            let restored = try #require(point)
            // Whole milliseconds, as the moment was asked for and as points are named.
            let asked = ReplicaFixture.milliseconds(moment.time), pointMs = ReplicaFixture.milliseconds(restored)
            #expect(pointMs <= asked, "the point is at or before the moment asked for")
            let skipped = try fixture.points().filter { $0.timeMs > pointMs && $0.timeMs <= asked }.map { $0.key }
            #expect(skipped.isEmpty, "the last point at or before the moment, not an earlier one: \(skipped), point \(pointMs) asked \(asked) \(run.stdout)")
            try fixture.expectExactly(target, at: restored, commits: commits)
        }
        let latest = fixture.directory.file("latest.db")
        #expect(try await fixture.restore("--at", "latest", "--to", latest).run.exitCode == 0)
        #expect(try fixture.ids(latest).max == last.id, "latest holds every committed row")
        #expect(try fixture.ids(fixture.live).max == last.id, "the live database was only read")
        let verify = try await fixture.opsctl.run("verify", "production", "--replica", "--json")
        #expect(verify.exitCode == 0, "\(verify.stdout)")
    }

    /// kill -9 at any moment, then a restart: every point on disk is whole, no hole in any chain,
    /// and the newest point holds every row.
    @Test func killNineAndRestartLeaveNoGapAndNoBrokenPoint() async throws {
        let fixture = try ReplicaFixture()
        let writer = try WriterProcess(database: fixture.live, intervalMs: 5, seconds: 4, extra: ["--checkpoint-every", "50", "--checkpoint-mode", "truncate"])
        for attempt in 0..<4 {
            let replicate = try await fixture.opsctl.background(["replicate", "production"], name: "replicate-\(attempt)")
            let before = try fixture.points().count
            try await eventually("replicate \(attempt) to write points") { try fixture.points().count >= before + 2 + attempt }
            kill(replicate.pid, SIGKILL)
            _ = try await replicate.finished()
        }
        let lastStarted = Date()
        let last = try await fixture.opsctl.background(["replicate", "production"], name: "replicate-last")
        #expect(try await writer.finished().status == 0, "the writer saw no error, SQLITE_BUSY included")
        let commits = writer.commitLog()
        // A round of this process (a killed one's may already be past the last commit), so
        // SIGTERM meets a replicator that has its handler, not one still starting.
        try await fixture.waitForSync(past: max(try #require(commits.last).time, lastStarted))
        kill(last.pid, SIGTERM)
        #expect(try await last.finished() == 0)

        let catalog = try ReplicaStore(directory: fixture.replica, encryption: nil).catalog()
        #expect(catalog.generations.count >= 2, "each restart starts a generation")
        #expect(catalog.generations.allSatisfy { $0.gapAt == nil && $0.snapshot != nil }, "no hole in any chain")
        let stray = try FileManager.default.subpathsOfDirectory(atPath: fixture.replica).filter { $0.contains("/.tmp-") }
        #expect(stray.isEmpty, "the restarts removed what killed runs left: \(stray)")
        #expect(try await fixture.opsctl.run("verify", "production", "--replica").exitCode == 0)
        let latest = fixture.directory.file("latest.db")
        #expect(try await fixture.restore("--at", "latest", "--to", latest).run.exitCode == 0)
        #expect(try fixture.ids(latest).max == commits.last!.id)
        // A moment inside the first generation still restores, exactly.
        let early = try #require(catalog.generations.first?.usable.dropFirst().first)
        let target = fixture.directory.file("early.db")
        let (run, point) = try await fixture.restore("--at", PointInTime.format(early.time), "--to", target)
        #expect(run.exitCode == 0, "\(run.stderr)")
        try fixture.expectExactly(target, at: try #require(point), commits: commits)
    }

    @Test func theBadInputsEachHaveTheirOwnExitAndLeaveNothing() async throws {
        let fixture = try ReplicaFixture()
        let writer = try WriterProcess(database: fixture.live, intervalMs: 5, seconds: 0.5)
        #expect(try await writer.finished().status == 0, "the writer saw no error, SQLITE_BUSY included")
        let target = fixture.directory.file("drill.db")

        let malformed = try await fixture.opsctl.run("restore", "production", "--at", "yesterday noon", "--to", target)
        #expect(malformed.exitCode == 64, "\(malformed.stderr)")
        #expect(malformed.stderr.contains("RFC 3339"))
        let empty = try await fixture.opsctl.run("restore", "production", "--at", "latest", "--to", target)
        #expect(empty.exitCode == 6, "no point yet: outside any window \(empty.stderr)")

        #expect(try await fixture.opsctl.run("replicate", "production", "--once").exitCode == 0)
        let window = try #require(try ReplicaStore(directory: fixture.replica, encryption: nil).catalog().window)
        let before = try await fixture.opsctl.run("restore", "production", "--at", PointInTime.format(window.earliest.addingTimeInterval(-60)), "--to", target)
        #expect(before.exitCode == 6, "\(before.stderr)")
        #expect(before.stderr.contains("earliest") && before.stderr.contains(PointInTime.format(window.earliest)), "names the window: \(before.stderr)")
        let after = try await fixture.opsctl.run("restore", "production", "--at", "2999-01-01T00:00:00Z", "--to", target)
        #expect(after.exitCode == 6)
        #expect(!FileManager.default.fileExists(atPath: target), "nothing is left at --to")

        // One replicate per replica: the second names the first.
        let first = try await fixture.opsctl.background(["replicate", "production"], name: "first")
        try await eventually("the first replicate to hold its lock") { FileLock.isHeld(path: fixture.replica + "/replicate.lock") }
        let second = try await fixture.opsctl.run("replicate", "production", "--once")
        #expect(second.exitCode == 5, "\(second.stderr)")
        #expect(second.stderr.contains("opsctl replicate production"), "names the first one: \(second.stderr)")
        kill(first.pid, SIGTERM)
        #expect(try await first.finished() == 0)

        // A database in rollback-journal mode cannot be replicated from its WAL.
        try SQLiteDatabase(path: fixture.live).execute("PRAGMA journal_mode=DELETE")
        let notWAL = try await fixture.opsctl.run("replicate", "production", "--once")
        #expect(notWAL.exitCode == 9, "\(notWAL.stderr)")
        #expect(notWAL.stderr.contains("journal mode delete"))
        unlink(fixture.live)
        #expect(try await fixture.opsctl.run("replicate", "production", "--once").exitCode == 66)
    }

    /// `opsctl db vacuum` swaps a new file in while replicate runs: the replicator only reads, so
    /// it does not block the swap; it notices the new file and starts a new generation that goes on.
    @Test(.enabled(if: DockerEngine.shouldRun, "asks docker whether the app runs (always required under CI=true)"))
    func aVacuumSwapUnderReplicateStartsANewGeneration() async throws {
        let fixture = try ReplicaFixture()
        try await shell("python3", [Opsctl.repositoryRoot + "/Tests/Fixtures/db/generate.py", fixture.live, "4"])
        try SQLiteDatabase(path: fixture.live).execute("DELETE FROM sessions WHERE id % 2 = 0")
        let replicate = try await fixture.startReplicating()
        let vacuum = try await fixture.opsctl.run("db", "production", "vacuum", "--json")
        #expect(vacuum.exitCode == 0, "\(vacuum.stdout)\(vacuum.stderr)")
        #expect(try vacuum.json()["method"] as? String == "swap")
        try await eventually("a new generation on the vacuumed file") {
            try ReplicaStore(directory: fixture.replica, encryption: nil).catalog().generations.count >= 2
        }
        try SQLiteDatabase(path: fixture.live).execute("CREATE TABLE after_swap(x); INSERT INTO after_swap VALUES (42)")
        try await fixture.waitForSync(past: Date())
        kill(replicate.pid, SIGTERM)
        #expect(try await replicate.finished() == 0)
        let target = fixture.directory.file("after.db")
        #expect(try await fixture.restore("--at", "latest", "--to", target).run.exitCode == 0)
        #expect(try SQLiteDatabase(path: target, mode: .readOnly).query("SELECT x FROM after_swap").first?.int(0) == 42)
        #expect(try SQLiteDatabase(path: target, mode: .readOnly).pragmaInt("freelist_count") == 0, "the vacuumed file was replicated")
    }

    /// The replica directory on a full disk: exit 74 naming it; the database is untouched.
    @Test(.enabled(if: getuid() == 0, "mounts a small tmpfs"))
    func aFullReplicaDiskIsExit74AndTheDatabaseIsUntouched() async throws {
        let fixture = try ReplicaFixture()
        try await shell("python3", [Opsctl.repositoryRoot + "/Tests/Fixtures/db/generate.py", fixture.live, "2"])
        try FileManager.default.createDirectory(atPath: fixture.replica, withIntermediateDirectories: true)
        try await shell("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", fixture.replica])
        defer { _ = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: [fixture.replica]).waitUntilExit() }
        let before = try Data(contentsOf: URL(fileURLWithPath: fixture.live))
        let full = try await fixture.opsctl.run("replicate", "production", "--once")
        #expect(full.exitCode == 74, "\(full.stderr)")
        #expect(full.stderr.contains("No space left on device"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.live)) == before)
        #expect(try FileManager.default.subpathsOfDirectory(atPath: fixture.replica).allSatisfy { !$0.contains(".segment") && !$0.contains(".snapshot") })
    }
}
