// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// The replica shipped to a real S3 API that checks signatures (moto), looked at with awscli,
/// and restored from there alone: the host-loss case.
@Suite(.serialized, .enabled(if: MotoS3Server.shouldRun, "needs moto and awscli (always required under CI=true)"))
struct ReplicaOffsiteTests {
    let bucket = "replica-\(UInt32.random(in: 0...UInt32.max))"

    func fixture(_ s3: MotoS3Server, endpoint: String? = nil) throws -> ReplicaFixture {
        let fixture = try ReplicaFixture()
        try configure(fixture, s3, endpoint: endpoint)
        return fixture
    }

    func configure(_ fixture: ReplicaFixture, _ s3: MotoS3Server, endpoint: String? = nil) throws {
        try fixture.directory.write(".secrets/s3", s3.secretAccessKey + "\n", mode: 0o600)
        try fixture.writeConfig(extra: """

                  offsite:
                    url: s3://\(bucket)/app/prod/
                    endpoint: \(endpoint ?? s3.endpoint)
                    region: eu-central-1
                    access_key_id: \(s3.accessKeyId)
                    secret_access_key_file: .secrets/s3
            """)
    }

    @Test func theOffsiteReplicaAloneRestoresEveryRowAfterTheLocalOneIsGone() async throws {
        let s3 = try await MotoS3Server()
        try await s3.aws(["s3", "mb", "s3://\(bucket)"])
        let fixture = try fixture(s3)
        let replicate = try await fixture.startReplicating()
        let writer = try WriterProcess(database: fixture.live, intervalMs: 5, seconds: 2, extra: ["--checkpoint-every", "40", "--checkpoint-mode", "truncate"])
        #expect(try await writer.finished().status == 0, "the writer saw no error, SQLITE_BUSY included")
        let commits = writer.commitLog()
        try await fixture.waitForSync(past: try #require(commits.last).time)
        try await eventually("the off-site replica to catch up") {
            guard let status = ReplicaStatus.read(fixture.replica + "/replicate.json") else { return false }
            let newest = try fixture.points().map(\.time).max() ?? .distantFuture
            return status.offsitePending == 0 && (status.offsiteLatest ?? .distantPast) >= newest
        }
        kill(replicate.pid, SIGTERM)
        #expect(try await replicate.finished() == 0)

        let remote = try await s3.keys(bucket: bucket, prefix: "app/prod/replica/")
        let local = Set(try fixture.points().map { "app/prod/replica/\($0.key)" })
        #expect(Set(remote.keys) == local, "awscli sees every local point off-site, nothing else")
        try FileManager.default.removeItem(atPath: fixture.replica)

        let listed = try await fixture.opsctl.run("backups", "production", "--replica", "--remote", "--json")
        #expect(listed.exitCode == 0, "\(listed.stderr)")
        #expect((try listed.json()["window"] as? [String: Any])?["latest"] != nil)
        let target = fixture.directory.file("from-s3.db")
        let restored = try await fixture.restore("--at", "latest", "--remote", "--to", target)
        #expect(restored.run.exitCode == 0, "\(restored.run.stderr)")
        #expect(try fixture.ids(target).max == commits.last!.id, "the host-loss case: every committed row")
        let middle = commits[commits.count / 2]
        let atMiddle = try await fixture.restore("--at", PointInTime.format(middle.time), "--remote", "--to", fixture.directory.file("middle.db"))
        #expect(atMiddle.run.exitCode == 0, "\(atMiddle.run.stderr)")
        try fixture.expectExactly(fixture.directory.file("middle.db"), at: try #require(atMiddle.point), commits: commits)
        #expect(try await fixture.opsctl.run("verify", "production", "--replica", "--remote").exitCode == 0)
        for output in [listed.stdout, listed.stderr, restored.run.stdout, restored.run.stderr] {
            #expect(!output.contains(s3.secretAccessKey))
        }
    }

    /// While the endpoint is down every round still lands locally (exit 0, the error reported);
    /// once it is back, one run ships the whole backlog.
    @Test func anEndpointThatIsDownQueuesLocallyThenCatchesUp() async throws {
        let s3 = try await MotoS3Server()
        try await s3.aws(["s3", "mb", "s3://\(bucket)"])
        let dead = "http://127.0.0.1:\(freeTestPorts(1)[0])"
        let fixture = try fixture(s3, endpoint: dead)
        let writer = try WriterProcess(database: fixture.live, intervalMs: 5, seconds: 1)
        var pending = 0
        for _ in 0..<3 {
            let round = try await fixture.opsctl.run("replicate", "production", "--once", "--json")
            #expect(round.exitCode == 0, "local replication never stops because S3 is down: \(round.stderr)")
            let report = try round.json()
            #expect(report["offsite_error"] as? String != nil)
            pending = report["offsite_pending"] as? Int ?? 0
        }
        #expect(try await writer.finished().status == 0, "the writer saw no error, SQLITE_BUSY included")
        #expect(pending >= 3, "the rounds queued locally: \(pending)")
        #expect(try await s3.keys(bucket: bucket, prefix: "app/prod/replica/").isEmpty)

        try configure(fixture, s3)
        let caughtUp = try await fixture.opsctl.run("replicate", "production", "--once", "--json")
        #expect(caughtUp.exitCode == 0, "\(caughtUp.stderr)")
        #expect(try caughtUp.json()["offsite_pending"] as? Int == 0)
        let remote = try await s3.keys(bucket: bucket, prefix: "app/prod/replica/")
        #expect(Set(remote.keys) == Set(try fixture.points().map { "app/prod/replica/\($0.key)" }))
    }
}

/// The replica encrypted like the backups: every file an age file the real age CLI opens, a
/// restore that decrypts on the fly, and a missing identity that leaves nothing behind.
@Suite(.serialized, .enabled(if: RequiredTool.shouldRun("age", "age-keygen"), "needs age (always required under CI=true)"))
struct ReplicaEncryptionTests {
    @Test func everyPointIsAnAgeFileAndRestoresWithTheIdentityOnly() async throws {
        let fixture = try ReplicaFixture()
        let identity = fixture.directory.file("identity.txt")
        try await shell("age-keygen", ["-o", identity])
        let recipient = try await shell("age-keygen", ["-y", identity]).trimmingCharacters(in: .whitespacesAndNewlines)
        try fixture.writeConfig(extra: "\n      encryption: {recipients: [\"\(recipient)\"]}")
        let writer = try WriterProcess(database: fixture.live, intervalMs: 5, seconds: 1)
        #expect(try await writer.finished().status == 0, "the writer saw no error, SQLITE_BUSY included")
        for _ in 0..<3 { #expect(try await fixture.opsctl.run("replicate", "production", "--once").exitCode == 0) }
        let points = try fixture.points()
        #expect(points.count >= 2 && points.allSatisfy(\.encrypted))
        let snapshot = try #require(points.first { $0.kind == .snapshot })
        let plain = fixture.directory.file("by-hand.db")
        try await shell("sh", ["-c", "age -d -i \"$1\" \"$2\" | gunzip > \"$3\"", "sh", identity, fixture.replica + "/" + snapshot.key, plain])
        #expect(try SQLiteDatabase(path: plain, mode: .readOnly).query("PRAGMA quick_check").first?.string(0) == "ok")

        let target = fixture.directory.file("restored.db")
        let withoutKey = try await fixture.opsctl.run("restore", "production", "--at", "latest", "--to", target)
        #expect(withoutKey.exitCode == 7, "\(withoutKey.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target))
        let restored = try await fixture.opsctl.run("restore", "production", "--at", "latest", "--to", target, "--identity", identity)
        #expect(restored.exitCode == 0, "\(restored.stderr)")
        #expect(try fixture.ids(target).max == (writer.commitLog().last?.id))
        #expect(!restored.stdout.contains("AGE-SECRET-KEY") && !restored.stderr.contains("AGE-SECRET-KEY"))
    }
}
