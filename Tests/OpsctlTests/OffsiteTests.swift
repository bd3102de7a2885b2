// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation
import Testing
@testable import OpsKit

/// A throw-away environment whose backups also go to a real S3 API that checks signatures
/// (moto), with awscli to look at what landed.
final class OffsiteFixture {
    let directory = TemporaryDirectory("opsctl-offsite")
    let s3: MotoS3Server
    let bucket = "backups-\(UInt32.random(in: 0...UInt32.max))"
    /// A random app: containers of other test runs on the same Docker engine never match it.
    let app = "off\(UInt32.random(in: 0...UInt32.max))"
    let prefix = "dashboard/prod/"
    var opsctl: Opsctl { Opsctl(directory: directory.path) }
    var backups: String { directory.path + "/backups" }
    var live: String { directory.path + "/data/dashboard.db" }

    init(megabytes: Double = 2) async throws {
        s3 = try await MotoS3Server()
        try await s3.aws(["s3", "mb", "s3://\(bucket)"])
        try FileManager.default.createDirectory(atPath: directory.path + "/data", withIntermediateDirectories: true)
        try await shell("python3", [Opsctl.repositoryRoot + "/Tests/Fixtures/db/generate.py", live, String(megabytes)])
        try directory.write(".secrets/s3", s3.secretAccessKey + "\n", mode: 0o600)
        try writeConfig()
    }

    func writeConfig(endpoint: String? = nil, bucket: String? = nil, secretFile: String = ".secrets/s3", partSize: String = "64MiB",
                     localRetention: String = "{keep_last: 7}", remoteRetention: String? = nil, encryption: String? = nil) throws {
        try directory.write("opsctl.yml", """
            app: \(app)
            image: opsctl-sample
            state: state.db
            environments:
              production:
                database: {path: data/dashboard.db}
                backup:
                  dir: backups
                  name: dashboard
                  retention: \(localRetention)
                  offsite:
                    url: s3://\(bucket ?? self.bucket)/\(prefix)
                    endpoint: \(endpoint ?? s3.endpoint)
                    region: eu-central-1
                    access_key_id: ${TEST_ACCESS_KEY}
                    secret_access_key_file: \(secretFile)
                    part_size: \(partSize)\(remoteRetention.map { "\n        retention: \($0)" } ?? "")\(encryption.map { "\n      encryption: \($0)" } ?? "")
                metrics: {textfile_dir: metrics}

            """)
    }

    /// opsctl with the access key id in its environment, as cron would have it.
    func run(_ arguments: String..., timeout: Duration = .seconds(120)) async throws -> Opsctl.Run {
        var runner = opsctl
        runner.environment = ["TEST_ACCESS_KEY": s3.accessKeyId]
        return try await runner.run(arguments, timeout: timeout)
    }

    func localBackups() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: backups).filter { BackupNaming.time(of: $0, name: "dashboard") != nil }.sorted()
    }

    func remoteKeys() async throws -> [String: Int64] { try await s3.keys(bucket: bucket, prefix: prefix) }

    func sha256(_ path: String) throws -> String {
        SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path))).map { String(format: "%02x", $0) }.joined()
    }

    func metrics() throws -> String { try directory.read("metrics/opsctl_production.prom") }

    func ledger(_ sql: String) throws -> [SQLiteRow] {
        try SQLiteDatabase(path: directory.path + "/state.db", mode: .readOnly).query(sql)
    }

    /// A new second: backups are named to the second.
    func nextSecond() async throws { try await Task.sleep(for: .milliseconds(1050)) }
}

@Suite(.serialized, .enabled(if: MotoS3Server.shouldRun, "needs moto and awscli (scripts/setup.sh; always required under CI=true)"))
struct OffsiteTests {
    @Test func uploadsTheBackupThenItsManifestAndAwscliGetsARestorableCopy() async throws {
        let fixture = try await OffsiteFixture()
        let backup = try await fixture.run("backup", "production", "--json")
        #expect(backup.exitCode == 0, "\(backup.stdout)\(backup.stderr)")
        let document = try backup.json()
        let file = try #require(document["file"] as? String)
        let offsite = try #require(document["offsite"] as? [String: Any])
        let uploaded = try #require(offsite["uploaded"] as? [[String: Any]])
        #expect(uploaded.first?["file"] as? String == file)
        #expect(uploaded.first?["parts"] as? Int == 1, "a small backup goes up in one PUT")

        let keys = try await fixture.remoteKeys()
        let manifest = try BackupManifest.read(fixture.backups + "/\(file).manifest.json")
        #expect(keys[fixture.prefix + file] == manifest.bytes)
        #expect(keys[fixture.prefix + file + ".manifest.json"] != nil)

        // The copy, fetched by another client, is the backup: same SHA-256, gunzips, passes integrity_check.
        let downloaded = fixture.directory.file("downloaded.db.gz")
        try await fixture.s3.aws(["s3", "cp", "s3://\(fixture.bucket)/\(fixture.prefix)\(file)", downloaded])
        #expect(try fixture.sha256(downloaded) == manifest.sha256)
        try await shell("gunzip", [downloaded])
        let check = try await shell("sqlite3", [fixture.directory.file("downloaded.db"), "PRAGMA integrity_check"])
        #expect(check.trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
        let remoteManifest = fixture.directory.file("remote.manifest.json")
        try await fixture.s3.aws(["s3", "cp", "s3://\(fixture.bucket)/\(fixture.prefix)\(file).manifest.json", remoteManifest])
        #expect(try BackupManifest.read(remoteManifest) == manifest)

        let listed = try await fixture.run("backups", "production", "--remote")
        #expect(listed.exitCode == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("1 off-site copy of dashboard in s3://\(fixture.bucket)/\(fixture.prefix)"), "\(listed.stdout)")
        #expect(listed.stdout.contains(file))
        let metrics = try fixture.metrics()
        #expect(metrics.contains("opsctl_offsite_failed{env=\"production\"} 0"))
        #expect(metrics.contains("opsctl_offsite_last_success_timestamp_seconds{env=\"production\"}"))
        try await shell("sh", ["-c", "promtool check metrics < \"$1\"", "sh", fixture.directory.file("metrics/opsctl_production.prom")])
    }

    @Test func largeBackupsGoUpAsMultipartUploads() async throws {
        let fixture = try await OffsiteFixture(megabytes: 24)
        try fixture.writeConfig(partSize: "5MiB")
        let backup = try await fixture.run("backup", "production", "--json")
        #expect(backup.exitCode == 0, "\(backup.stdout)\(backup.stderr)")
        let file = try #require(try backup.json()["file"] as? String)
        let manifest = try BackupManifest.read(fixture.backups + "/\(file).manifest.json")
        let parts = Int((manifest.bytes + (5 << 20) - 1) / (5 << 20))
        #expect(parts >= 2, "the fixture must span several 5 MiB parts (\(manifest.bytes) bytes)")
        // S3 names a multipart object's ETag "<md5 of the part md5s>-<parts>": awscli sees how it was built.
        let head = try await fixture.s3.aws(["s3api", "head-object", "--bucket", fixture.bucket, "--key", fixture.prefix + file])
        #expect(head.contains("-\(parts)\\\""), "\(head)")
        #expect(head.contains(manifest.sha256), "the object carries the manifest's SHA-256 as metadata")
        let downloaded = fixture.directory.file("downloaded.db.gz")
        try await fixture.s3.aws(["s3", "cp", "s3://\(fixture.bucket)/\(fixture.prefix)\(file)", downloaded])
        #expect(try fixture.sha256(downloaded) == manifest.sha256)
        #expect(try await fixture.s3.openUploads(bucket: fixture.bucket).isEmpty)
    }

    @Test func remoteRetentionKeepsItsOwnPolicyAndItsSafetyRules() async throws {
        let fixture = try await OffsiteFixture()
        try fixture.writeConfig(localRetention: "{keep_last: 5}", remoteRetention: "{keep_last: 2}")
        for _ in 0..<3 {
            #expect(try await fixture.run("backup", "production").exitCode == 0)
            try await fixture.nextSecond()
        }
        let local = try fixture.localBackups().filter { $0.hasSuffix(".db.gz") }
        #expect(local.count == 3)
        var keys = try await fixture.remoteKeys()
        #expect(Set(keys.keys.filter { $0.hasSuffix(".db.gz") }) == Set(local.suffix(2).map { fixture.prefix + $0 }), "\(keys.keys.sorted())")
        #expect(keys.count == 4, "each copy with its manifest")

        // verify --remote passes both; the newest backup then disappears, here and there, which leaves
        // the older one as the newest verified copy: no policy deletes it from now on.
        let older = local[1]
        #expect(try await fixture.run("verify", "production", "--remote").exitCode == 0)
        try await fixture.s3.aws(["s3", "rm", "s3://\(fixture.bucket)/\(fixture.prefix)\(local[2]).manifest.json"])
        try await fixture.s3.aws(["s3", "rm", "s3://\(fixture.bucket)/\(fixture.prefix)\(local[2])"])
        for suffix in ["", ".manifest.json"] { try FileManager.default.removeItem(atPath: "\(fixture.backups)/\(local[2])\(suffix)") }
        for _ in 0..<2 {
            try await fixture.nextSecond()
            #expect(try await fixture.run("backup", "production").exitCode == 0)
        }
        // Remote now: the two newest (keep_last 2) and the older verified copy.
        let all = try fixture.localBackups().filter { $0.hasSuffix(".db.gz") }
        keys = try await fixture.remoteKeys()
        #expect(Set(keys.keys.filter { $0.hasSuffix(".db.gz") }) == Set([older, all[all.count - 2], all[all.count - 1]].map { fixture.prefix + $0 }),
                "\(keys.keys.sorted())")
        let dryRun = try await fixture.run("prune", "production", "--remote", "--dry-run", "--keep-last", "1")
        #expect(dryRun.exitCode == 0, "\(dryRun.stderr)")
        #expect(dryRun.stdout.contains("keep   \(all.last!)  (newest backup, last 1)"), "\(dryRun.stdout)")
        #expect(dryRun.stdout.contains("keep   \(older)  (newest verified backup)"), "\(dryRun.stdout)")
        #expect(dryRun.stdout.contains("delete \(all[all.count - 2])"), "\(dryRun.stdout)")
        #expect(try await fixture.remoteKeys() == keys, "a dry run deletes nothing")
        let pruned = try await fixture.run("prune", "production", "--remote", "--keep-last", "1", "--json")
        #expect(pruned.exitCode == 0, "\(pruned.stderr)")
        #expect((try pruned.json()["deleted"] as? [String]) == [all[all.count - 2]])
        keys = try await fixture.remoteKeys()
        let expected: Set<String> = [older, all.last!].reduce(into: []) { set, file in
            set.insert(fixture.prefix + file)
            set.insert(fixture.prefix + file + ".manifest.json")
        }
        #expect(Set(keys.keys) == expected)
    }

    @Test func verifyRemoteCatchesACorruptedAndATruncatedCopy() async throws {
        let fixture = try await OffsiteFixture()
        #expect(try await fixture.run("backup", "production").exitCode == 0)
        let file = try #require(try fixture.localBackups().first { $0.hasSuffix(".db.gz") })
        let good = try await fixture.run("verify", "production", "--remote", "--latest")
        #expect(good.exitCode == 0, "\(good.stdout)\(good.stderr)")

        // Corrupted: same size, a few bytes flipped in the middle, put back by awscli.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: fixture.backups + "/" + file))
        for offset in stride(from: bytes.count / 2, to: bytes.count / 2 + 64, by: 8) { bytes[offset] ^= 0xff }
        let corrupted = fixture.directory.file("corrupted.gz")
        try bytes.write(to: URL(fileURLWithPath: corrupted))
        try await fixture.s3.aws(["s3", "cp", corrupted, "s3://\(fixture.bucket)/\(fixture.prefix)\(file)"])
        let caught = try await fixture.run("verify", "production", "--remote", "--json")
        #expect(caught.exitCode == 1, "\(caught.stdout)\(caught.stderr)")
        let result = try #require((try caught.json()["results"] as? [[String: Any]])?.first)
        #expect(result["ok"] as? Bool == false)
        #expect(result["file"] as? String == "s3://\(fixture.bucket)/\(fixture.prefix)\(file)")
        let reason = result["reason"] as? String ?? ""
        #expect(reason.contains("corrupt") || reason.contains("CRC") || reason.contains("sha256"), "\(reason)")

        // Truncated: the first two thirds only.
        let truncated = fixture.directory.file("truncated.gz")
        try Data(contentsOf: URL(fileURLWithPath: fixture.backups + "/" + file)).prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: truncated))
        try await fixture.s3.aws(["s3", "cp", truncated, "s3://\(fixture.bucket)/\(fixture.prefix)\(file)"])
        let short = try await fixture.run("verify", "production", "--remote", "--latest")
        #expect(short.exitCode == 1, "\(short.stdout)\(short.stderr)")
        #expect(short.stdout.contains("FAILED  \(file)  truncated"), "\(short.stdout)")
        let failures = try fixture.ledger("SELECT COUNT(*) FROM verifications WHERE status = 'failed' AND file LIKE 's3://%'").first?.int(0)
        #expect(failures == 2)
        #expect(try fixture.metrics().contains("opsctl_offsite_verify_failed_copies{env=\"production\"} 1"))
        // A bad remote copy is never restored.
        let refused = try await fixture.run("restore", "production", file, "--remote", "--to", "drill.db")
        #expect(refused.exitCode == 1)
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("drill.db")))
    }

    @Test func restoreFromTheRemoteAloneDrillsAndSwaps() async throws {
        let fixture = try await OffsiteFixture()
        let rows = { (path: String) throws -> Int in try SQLiteDatabase(path: path, mode: .readOnly).query("SELECT COUNT(*) FROM sessions").first?.int(0) ?? -1 }
        let backedUp = try rows(fixture.live)
        #expect(try await fixture.run("backup", "production").exitCode == 0)
        try SQLiteDatabase(path: fixture.live).execute("INSERT INTO sessions (user, status, note) VALUES ('late', 'active', 'after the backup')")
        // The host is lost: no local backups, no ledger. The remote alone restores.
        try FileManager.default.removeItem(atPath: fixture.backups)
        try FileManager.default.removeItem(atPath: fixture.directory.file("state.db"))
        let drill = try await fixture.run("restore", "production", "--remote", "--to", "drill.db", "--json")
        #expect(drill.exitCode == 0, "\(drill.stdout)\(drill.stderr)")
        #expect(try rows(fixture.directory.file("drill.db")) == backedUp)
        #expect((try drill.json()["backup"] as? String)?.hasPrefix("s3://\(fixture.bucket)/\(fixture.prefix)dashboard_") == true)

        // The real swap (no app runs here: --force skips asking a Docker engine): a safety copy first.
        let swapped = try await fixture.run("restore", "production", "--remote", "--force", "--json")
        #expect(swapped.exitCode == 0, "\(swapped.stdout)\(swapped.stderr)")
        #expect(try rows(fixture.live) == backedUp)
        let safety = try #require(try swapped.json()["safety_copy"] as? String)
        #expect(safety.hasSuffix(".pre-restore.db.gz") && FileManager.default.fileExists(atPath: safety))
        let restores = try fixture.ledger("SELECT COUNT(*) FROM restores WHERE status = 'succeeded' AND backup LIKE 's3://%'").first?.int(0)
        #expect(restores == 2)
    }

    @Test(.enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
    func restoreFromTheRemoteRefusesWhileTheAppRuns() async throws {
        let fixture = try await OffsiteFixture()
        #expect(try await fixture.run("backup", "production").exitCode == 0)
        let container = "\(fixture.app)-production-1.0.0"
        defer { _ = try? Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: ["docker", "rm", "-f", container]).waitUntilExit() }
        try await runAppRelease(of: fixture.app)
        let before = try Data(contentsOf: URL(fileURLWithPath: fixture.live))
        let refused = try await fixture.run("restore", "production", "--remote")
        #expect(refused.exitCode == 1, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("\(container) is running"), "\(refused.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.live)) == before)
        // A drill is never refused: it does not touch the live database.
        #expect(try await fixture.run("restore", "production", "--remote", "--to", "drill.db").exitCode == 0)
    }

    @Test func aWrongSecretExits69NamingSignatureDoesNotMatchAndKeepsTheLocalBackup() async throws {
        let fixture = try await OffsiteFixture()
        try fixture.directory.write(".secrets/wrong", "not-the-secret-key-at-all-0123456789", mode: 0o600)
        try fixture.writeConfig(secretFile: ".secrets/wrong")
        let failed = try await fixture.run("backup", "production")
        #expect(failed.exitCode == 69, "\(failed.stdout)\(failed.stderr)")
        #expect(failed.stdout.contains("SignatureDoesNotMatch"), "\(failed.stdout)")
        #expect(failed.stderr.contains("SignatureDoesNotMatch"))
        let json = try await fixture.run("backup", "production", "--json")
        #expect(json.exitCode == 69)
        let document = try json.json()
        #expect(document["ok"] as? Bool == false)
        let failure = try #require((document["offsite"] as? [String: Any])?["failure"] as? [String: Any])
        #expect(failure["s3_code"] as? String == "SignatureDoesNotMatch")
        #expect(failure["status"] as? Int == 403)
        // The local backups are there and sound; nothing landed remotely.
        #expect(try fixture.localBackups().filter { $0.hasSuffix(".db.gz") }.count == 2)
        #expect(try await fixture.run("verify", "production").exitCode == 0)
        #expect(try await fixture.remoteKeys().isEmpty)
        #expect(try fixture.metrics().contains("opsctl_offsite_failed{env=\"production\"} 1"))
        #expect(try fixture.metrics().contains("opsctl_backup_last_success_timestamp_seconds{env=\"production\"}"))
        let runs = try fixture.ledger("SELECT status, error_code FROM offsite_runs")
        #expect(runs.map { $0.string(1) } == ["SignatureDoesNotMatch", "SignatureDoesNotMatch"])
        #expect(runs.allSatisfy { $0.string(0) == "failed" })
    }

    @Test func anUnknownBucketIsNamed() async throws {
        let fixture = try await OffsiteFixture()
        try fixture.writeConfig(bucket: "no-such-bucket-here")
        let failed = try await fixture.run("backup", "production")
        #expect(failed.exitCode == 69, "\(failed.stdout)\(failed.stderr)")
        #expect(failed.stdout.contains("NoSuchBucket"), "\(failed.stdout)")
        #expect(failed.stdout.contains("aws s3 mb"), "the hint says how to fix it")
        let listed = try await fixture.run("backups", "production", "--remote")
        #expect(listed.exitCode == 69)
        #expect(listed.stderr.contains("NoSuchBucket"))
    }

    @Test func aDeadEndpointFailsThenTheNextRunCatchesUp() async throws {
        let fixture = try await OffsiteFixture()
        // A port nothing listens on: connection refused, retried with backoff, then exit 69.
        try fixture.writeConfig(endpoint: "http://127.0.0.1:1")
        let failed = try await fixture.run("backup", "production", "--json")
        #expect(failed.exitCode == 69, "\(failed.stdout)\(failed.stderr)")
        let failure = try #require((try failed.json()["offsite"] as? [String: Any])?["failure"] as? [String: Any])
        #expect(failure["s3_code"] as? String == "Unreachable")
        #expect((failure["message"] as? String)?.contains("after 4 attempts") == true, "the retries are bounded: \(failure)")
        try await fixture.nextSecond()
        #expect(try await fixture.run("backup", "production").exitCode == 69)

        try fixture.writeConfig()
        try await fixture.nextSecond()
        let healed = try await fixture.run("backup", "production", "--json")
        #expect(healed.exitCode == 0, "\(healed.stdout)\(healed.stderr)")
        let uploaded = try #require((try healed.json()["offsite"] as? [String: Any])?["uploaded"] as? [[String: Any]])
        #expect(uploaded.count == 3, "the two backups the outage missed, and the new one")
        let files = try fixture.localBackups().filter { $0.hasSuffix(".db.gz") }
        #expect(uploaded.compactMap { $0["file"] as? String } == files.reversed(), "newest first")
        let keys = try await fixture.remoteKeys()
        #expect(files.allSatisfy { keys[fixture.prefix + $0] != nil && keys[fixture.prefix + $0 + ".manifest.json"] != nil })
        #expect(try fixture.metrics().contains("opsctl_offsite_failed{env=\"production\"} 0"))
        #expect(try fixture.metrics().contains("opsctl_offsite_pending_backups{env=\"production\"} 0"))
    }

    @Test func killNineDuringAMultipartUploadThenTheNextRunAbortsItAndUploadsAgain() async throws {
        let fixture = try await OffsiteFixture(megabytes: 24)
        try fixture.writeConfig(partSize: "5MiB")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Opsctl.binary)
        process.arguments = ["backup", "production", "-v"]
        process.currentDirectoryURL = URL(fileURLWithPath: fixture.directory.path)
        process.environment = ProcessInfo.processInfo.environment.merging(["OPSCTL_CONFIG": "", "TEST_ACCESS_KEY": fixture.s3.accessKeyId]) { $1 }
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Killed right after the multipart upload starts, while its parts are in flight.
        var log = Data()
        while !String(decoding: log, as: UTF8.self).contains("multipart upload of") {
            guard let chunk = try stderr.fileHandleForReading.read(upToCount: 256), !chunk.isEmpty else { break }
            log += chunk
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "\(String(decoding: log, as: UTF8.self))")
        let open = try await fixture.s3.openUploads(bucket: fixture.bucket)
        #expect(open.count == 1, "the killed run's upload is still open: \(open)")
        let file = try #require(try fixture.localBackups().first { $0.hasSuffix(".db.gz") })
        #expect(try await fixture.remoteKeys()[fixture.prefix + file + ".manifest.json"] == nil, "never a manifest for an unfinished copy")

        try await fixture.nextSecond()
        let next = try await fixture.run("backup", "production", "--json")
        #expect(next.exitCode == 0, "\(next.stdout)\(next.stderr)")
        let offsite = try #require(try next.json()["offsite"] as? [String: Any])
        #expect(offsite["aborted_uploads"] as? [String] == [fixture.prefix + file])
        #expect(try await fixture.s3.openUploads(bucket: fixture.bucket).isEmpty)
        let downloaded = fixture.directory.file("downloaded.db.gz")
        try await fixture.s3.aws(["s3", "cp", "s3://\(fixture.bucket)/\(fixture.prefix)\(file)", downloaded])
        #expect(try fixture.sha256(downloaded) == (try BackupManifest.read(fixture.backups + "/\(file).manifest.json")).sha256)
    }

    @Test func preflightAndHandoffShowTheOffsiteTier() async throws {
        let fixture = try await OffsiteFixture()
        func checks() async throws -> [String: [String: Any]] {
            let run = try await fixture.run("preflight", "production", "--json")
            let list = try #require(try run.json()["checks"] as? [[String: Any]])
            return Dictionary(list.compactMap { check in (check["id"] as? String).map { ($0, check) } }, uniquingKeysWith: { first, _ in first })
        }
        var found = try await checks()
        #expect(found["offsite.reachable"]?["status"] as? String == "pass", "\(found["offsite.reachable"] ?? [:])")
        #expect(found["offsite.fresh"]?["status"] as? String == "warn", "no backups yet: \(found["offsite.fresh"] ?? [:])")

        #expect(try await fixture.run("backup", "production").exitCode == 0)
        found = try await checks()
        #expect(found["offsite.fresh"]?["status"] as? String == "pass", "\(found["offsite.fresh"] ?? [:])")
        try await fixture.nextSecond()
        #expect(try await fixture.run("backup", "production", "--no-offsite").exitCode == 0)
        found = try await checks()
        #expect(found["offsite.fresh"]?["status"] as? String == "warn", "the newest backup is not off-site: \(found["offsite.fresh"] ?? [:])")

        let handoff = try await fixture.run("handoff", "production", "--format", "json")
        #expect(handoff.exitCode == 0, "\(handoff.stderr)")
        let offsite = try #require(try handoff.json()["offsite"] as? [String: Any])
        let first = try fixture.localBackups().filter { $0.hasSuffix(".db.gz") }.first
        #expect(offsite["newest_file"] as? String == first)
        #expect(offsite["failed_in_window"] as? Int == 0)
        let rules = (try handoff.json()["findings"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String }
        #expect(!rules.contains("offsite.stale") && !rules.contains("offsite.failed"), "\(rules)")
        for format in ["markdown", "html"] {
            let text = try await fixture.run("handoff", "production", "--format", format)
            #expect(text.stdout.contains("off-site: ") && text.stdout.contains(first ?? "?"), "\(format) shows the newest off-site copy: \(text.stdout)")
        }

        try fixture.directory.write(".secrets/wrong", "wrong-secret-key-0123456789-abcdef", mode: 0o600)
        try fixture.writeConfig(secretFile: ".secrets/wrong")
        found = try await checks()
        #expect(found["offsite.reachable"]?["status"] as? String == "fail")
        #expect((found["offsite.reachable"]?["summary"] as? String)?.contains("SignatureDoesNotMatch") == true)
        #expect((found["secrets.file_mode"]?["summary"] as? String)?.contains(".secrets/wrong") == true)
        #expect(try await fixture.run("backup", "production").exitCode == 69)
        let warned = try await fixture.run("handoff", "production")
        #expect(warned.stdout.contains("`offsite.failed`: 1 off-site run(s) failed in the window"), "\(warned.stdout)")
        #expect(warned.stdout.contains("- off-site: \(first ?? "?") in s3://\(fixture.bucket)/\(fixture.prefix)"), "\(warned.stdout)")
    }

    @Test func theSecretKeyAndTheSignatureNeverAppear() async throws {
        let fixture = try await OffsiteFixture()
        var outputs: [String] = []
        func record(_ run: Opsctl.Run) { outputs += [run.stdout, run.stderr] }
        record(try await fixture.run("config", "check", "production", "-vv"))
        record(try await fixture.run("backup", "production", "-vv", "--json"))
        record(try await fixture.run("backups", "production", "--remote", "-vv"))
        record(try await fixture.run("verify", "production", "--remote", "-vv", "--json"))
        record(try await fixture.run("restore", "production", "--remote", "--to", "drill.db", "-vv"))
        record(try await fixture.run("prune", "production", "--remote", "--dry-run", "-vv"))
        record(try await fixture.run("preflight", "production", "-vv", "--json"))
        try fixture.directory.write(".secrets/wrong", "wrong-secret-key-0123456789-abcdef", mode: 0o600)
        try fixture.writeConfig(secretFile: ".secrets/wrong")
        let failed = try await fixture.run("backup", "production", "-vv")
        #expect(failed.exitCode == 69)
        record(failed)
        #expect(outputs.joined().contains("SignatureDoesNotMatch"), "the runs did talk to the server")
        var stored = [try fixture.metrics()]
        for file in try FileManager.default.contentsOfDirectory(atPath: fixture.directory.path) where file.hasPrefix("state.db") {
            stored.append(String(decoding: try Data(contentsOf: URL(fileURLWithPath: fixture.directory.file(file))), as: UTF8.self))
        }
        for text in outputs + stored {
            #expect(!text.contains(fixture.s3.secretAccessKey), "the secret key leaked")
            #expect(!text.contains("wrong-secret-key-0123456789"), "the (wrong) secret key leaked")
            #expect(!text.contains("AWS4-HMAC-SHA256"), "an Authorization header leaked")
            #expect(!text.contains("Signature="), "a signature leaked")
        }
    }
}

/// The secret key from a secret manager (`secret_access_key_command`): fetched only by the
/// commands that talk to S3, never shown; when it fails, the local backup still happens.
@Suite(.serialized, .enabled(if: MotoS3Server.shouldRun, "needs moto and awscli (scripts/setup.sh; always required under CI=true)"))
struct OffsiteKeyCommandTests {
    func useKeyCommand(_ fixture: OffsiteFixture, _ argv: String) throws {
        let config = try fixture.directory.read("opsctl.yml").replacingOccurrences(of: "secret_access_key_file: .secrets/s3", with: "secret_access_key_command: \(argv)")
        try fixture.directory.write("opsctl.yml", config)
    }

    @Test func theKeyComesFromACommandForEveryRemoteCommand() async throws {
        let fixture = try await OffsiteFixture()
        try useKeyCommand(fixture, "[cat, .secrets/s3]")
        let backup = try await fixture.run("backup", "production", "-vv")
        #expect(backup.exitCode == 0, "\(backup.stdout)\(backup.stderr)")
        #expect(try await fixture.remoteKeys().keys.contains { $0.hasSuffix(".db.gz") })
        let listed = try await fixture.run("backups", "production", "--remote")
        let verified = try await fixture.run("verify", "production", "--remote", "--latest")
        let pruned = try await fixture.run("prune", "production", "--remote", "--dry-run")
        let restored = try await fixture.run("restore", "production", "--remote", "--to", "drill.db")
        for run in [listed, verified, pruned, restored] { #expect(run.exitCode == 0, "\(run.stdout)\(run.stderr)") }
        let everything = [backup, listed, verified, pruned, restored].map { $0.stdout + $0.stderr }.joined()
            + (try fixture.directory.read("metrics/opsctl_production.prom"))
            + String(decoding: try Data(contentsOf: URL(fileURLWithPath: fixture.directory.path + "/state.db")), as: UTF8.self)
        #expect(!everything.contains(fixture.s3.secretAccessKey), "the key never shows, -vv included")
    }

    @Test func aFailingKeyCommandKeepsTheLocalBackupAndExits69() async throws {
        let fixture = try await OffsiteFixture()
        try useKeyCommand(fixture, "[sh, -c, \"echo vault sealed >&2; exit 2\"]")
        let backup = try await fixture.run("backup", "production", "--json")
        #expect(backup.exitCode == 69, "\(backup.stdout)\(backup.stderr)")
        #expect(backup.stdout.contains("vault sealed"), "names the command's stderr: \(backup.stdout)")
        #expect(try fixture.localBackups().filter { $0.hasSuffix(".db.gz") }.count == 1, "the local backup is kept")
        #expect(try await fixture.run("verify", "production").exitCode == 0)
        #expect(try await fixture.run("verify", "production", "--remote").exitCode == 69, "the remote commands stop at the key")
        #expect(try await fixture.run("backups", "production").exitCode == 0, "local listing never runs the command")
    }
}

/// A copy whose manifest never landed (the upload failed after its object did) is not a backup:
/// it never takes a complete copy's place in keep_last, and --latest skips it.
@Suite(.serialized, .enabled(if: MotoS3Server.shouldRun, "needs moto and awscli (scripts/setup.sh; always required under CI=true)"))
struct OffsiteIncompleteCopyTests {
    @Test func anIncompleteCopyNeverPushesOutTheLastCompleteOne() async throws {
        let fixture = try await OffsiteFixture()
        try fixture.writeConfig(localRetention: "{keep_last: 5}", remoteRetention: "{keep_last: 1}")
        #expect(try await fixture.run("backup", "production").exitCode == 0)
        let complete = try #require(try fixture.localBackups().first { $0.hasSuffix(".db.gz") })
        // A newer object without its manifest, as a run that died between the two leaves it.
        let incomplete = "dashboard_20991231_235959.db.gz"
        try await fixture.s3.aws(["s3", "cp", "\(fixture.backups)/\(complete)", "s3://\(fixture.bucket)/\(fixture.prefix)\(incomplete)"])

        let pruned = try await fixture.run("prune", "production", "--remote", "--json")
        #expect(pruned.exitCode == 0, "\(pruned.stdout)\(pruned.stderr)")
        #expect((try pruned.json()["deleted"] as? [String]) == [], "keep_last 1 keeps the only complete copy")
        let keys = try await fixture.remoteKeys()
        #expect(keys[fixture.prefix + complete] != nil && keys[fixture.prefix + complete + ".manifest.json"] != nil, "\(keys.keys.sorted())")

        let latest = try await fixture.run("verify", "production", "--remote", "--latest", "--json")
        #expect(latest.exitCode == 0, "the newest complete copy is the latest: \(latest.stdout)")
        #expect(latest.stdout.contains(complete) && !latest.stdout.contains(incomplete))
        #expect(try await fixture.run("restore", "production", "--remote", "--to", "drill.db").exitCode == 0)
    }
}
