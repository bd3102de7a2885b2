// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// A temp repository (real git) with an env file, a database and an opsctl.yml that each test
/// bends into the pass, warn or fail shape of one check.
final class PreflightFixture {
    let directory = TemporaryDirectory("opsctl-preflight")
    static let strongSecret = "Qm9vdHN0cmFwIGEgcmVhbGx5IHN0cm9uZyBzZWNyZXQgaGVyZQ-\(UInt32.random(in: 0...UInt32.max))"
    var path: String { directory.path }
    var opsctl: Opsctl { Opsctl(directory: path) }

    init(envFile: String = "JWT_SECRET=\(PreflightFixture.strongSecret)\nALLOWED_FILE_ROOTS=/srv/projects\n", extra: String = "") async throws {
        try await setUp("git", ["init", "-q", path])
        try directory.write(".gitignore", ".env*\n!.env.example\n.secrets/\n.opsctl/\n")
        try directory.write(".env.example", "JWT_SECRET=<use strong random string>\n")
        try await setUp("git", ["-C", path, "add", ".gitignore", ".env.example"])
        try await setUp("git", ["-C", path, "commit", "-q", "-m", "init"])
        try directory.write(".env.production", envFile, mode: 0o600)
        try FileManager.default.createDirectory(atPath: path + "/data", withIntermediateDirectories: true)
        try await setUp("sqlite3", [path + "/data/app.db", "CREATE TABLE t(x); INSERT INTO t VALUES (1);"])
        try writeConfig(extra: extra)
    }

    func writeConfig(extra: String = "", run: String = "{env_file: .env.production}", health: Bool = true, smoke: Bool = true) throws {
        try directory.write("opsctl.yml", """
            app: app
            image: opsctl-preflight-test
            environments:
              production:
                run: \(run)
            \(health ? "    health: {url: \"http://127.0.0.1:1/health\"}" : "")
            \(smoke ? "    smoke: {base_url: \"http://127.0.0.1:1\", checks: [{name: health, path: /health}]}" : "")
                database: {path: data/app.db}
                backup: {dir: backups}
            \(extra)
            """)
    }

    /// id -> (status, summary) from `opsctl preflight --json`.
    func run(_ environment: [String: String] = [:]) async throws -> (code: Int32, checks: [String: [(status: String, summary: String)]], output: String) {
        var opsctl = self.opsctl
        opsctl.environment.merge(environment) { $1 }
        let result = try await opsctl.run("preflight", "production", "--json")
        var checks: [String: [(status: String, summary: String)]] = [:]
        for check in try result.json()["checks"] as? [[String: Any]] ?? [] {
            checks[check["id"] as? String ?? "?", default: []].append((check["status"] as? String ?? "?", check["summary"] as? String ?? ""))
        }
        return (result.exitCode, checks, result.stdout + result.stderr)
    }

    func status(_ id: String, _ environment: [String: String] = [:]) async throws -> String {
        try await run(environment).checks[id]?.map(\.status).joined(separator: ",") ?? "missing"
    }
}

struct PreflightTests {
    @Test func secretStrength() async throws {
        let fixture = try await PreflightFixture()
        #expect(try await fixture.status("secrets.strength") == "pass")
        for (value, reason) in [("your-super-secret-jwt-key-change-this-in-production", "known placeholder"), ("dev_secret", "known placeholder"),
                                ("k8Hq2LmZ", "is 8 characters (at least 32)"), ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "known placeholder")] {
            try fixture.directory.write(".env.production", "JWT_SECRET=\(value)\n", mode: 0o600)
            let result = try await fixture.run()
            #expect(result.code == 1)
            #expect(result.checks["secrets.strength"]?.first?.status == "fail")
            #expect(result.checks["secrets.strength"]?.first?.summary.contains(reason) == true, "\(value): \(result.checks["secrets.strength"] ?? [])")
            #expect(!result.output.contains(value), "a secret value is never printed")
        }
        try fixture.writeConfig(extra: "    preflight: {secret_keys: [JWT_SECRET]}")
        try fixture.directory.write(".env.production", "NODE_ENV=production\n", mode: 0o600)
        #expect(try await fixture.run().checks["secrets.strength"]?.first?.summary == "JWT_SECRET is not set (env_file or run.env) but preflight.secret_keys names it")
        try fixture.writeConfig(extra: "    preflight: {skip: [secrets.strength]}")
        #expect(try await fixture.status("secrets.strength") == "missing", "a skipped check is not run")
    }

    /// Without a preflight section, the secrets checked are the ones the app really has: no
    /// app's key name (the seed's JWT_SECRET) is a default.
    @Test func secretStrengthChecksTheSecretLookingKeysTheEnvironmentHas() async throws {
        let strong = PreflightFixture.strongSecret
        let fixture = try await PreflightFixture(envFile: "SECRET_TOKEN=\(strong)\nNODE_ENV=production\n")
        var result = try await fixture.run()
        #expect(result.checks["secrets.strength"]?.map(\.status) == ["pass"], "\(result.output)")
        #expect(result.checks["secrets.strength"]?.first?.summary.hasPrefix("SECRET_TOKEN is") == true)

        // Every *_SECRET, *_TOKEN, *_PASSWORD, *_KEY of the env file and run.env, and NAME_FILE entries.
        try fixture.directory.write(".env.production", "SECRET_TOKEN=\(strong)\nDB_PASSWORD=hunter2\nSTRIPE_KEY=changeme\nNODE_ENV=production\n", mode: 0o600)
        try fixture.directory.write(".secrets/session", "short", mode: 0o600)
        try fixture.writeConfig(run: "{env_file: .env.production, env: {SESSION_FILE: .secrets/session, API_SECRET: \"\"}}")
        result = try await fixture.run()
        let summaries = result.checks["secrets.strength"]?.map(\.summary) ?? []
        #expect(result.code == 1)
        #expect(summaries.count == 5, "\(summaries)")
        #expect(summaries.contains { $0.hasPrefix("SECRET_TOKEN is") })
        #expect(summaries.contains { $0.hasPrefix("DB_PASSWORD in") && $0.contains("is 7 characters") })
        #expect(summaries.contains { $0.hasPrefix("STRIPE_KEY in") && $0.hasSuffix("known placeholder/default value") })
        #expect(summaries.contains { $0.hasPrefix("SESSION in") && $0.contains("is 5 characters") })
        #expect(summaries.contains { $0.hasPrefix("API_SECRET in") && $0.hasSuffix("is empty") })
        for value in [strong, "hunter2"] { #expect(!result.output.contains(value)) }

        // No secrets at all: nothing to be weak, and the check says so.
        try fixture.writeConfig()
        try fixture.directory.write(".env.production", "NODE_ENV=production\n", mode: 0o600)
        result = try await fixture.run()
        #expect(result.checks["secrets.strength"]?.map(\.status) == ["pass"])
        #expect(result.checks["secrets.strength"]?.first?.summary.hasPrefix("no secrets configured") == true)
    }

    /// The issue's new user: app barsapp, database app.db, no backup.name. Preflight must look for
    /// the files `opsctl backup` writes (barsapp_*.db.gz), not for names made from the database file.
    @Test func storageChecksFindTheBackupsBackupWroteWhenTheNamesDiffer() async throws {
        let fixture = try await PreflightFixture()
        let config = try fixture.directory.read("opsctl.yml").replacingOccurrences(of: "app: app\n", with: "app: barsapp\n")
        try fixture.directory.write("opsctl.yml", config)
        #expect(try await fixture.opsctl.run("backup", "production").exitCode == 0)
        #expect(try await fixture.opsctl.run("verify", "production", "--latest").exitCode == 0)
        let result = try await fixture.run()
        let verified = try #require(result.checks["storage.backup_verified"]?.first)
        #expect(verified.status == "pass", "\(verified.summary)")
        #expect(verified.summary.hasPrefix("newest backup barsapp_"))
        let status = try await fixture.opsctl.run("status", "production", "--json")
        let backups = try #require(try status.json()["backups"] as? [String: Any])
        #expect(backups["pattern"] as? String == fixture.path + "/backups/barsapp_*.db.gz")
        #expect(backups["count"] as? Int == 1 && backups["newest_verified"] as? Bool == true, "\(backups)")
    }

    @Test func secretFileModeAndOwner() async throws {
        let fixture = try await PreflightFixture()
        #expect(try await fixture.status("secrets.file_mode") == "pass")
        chmod(fixture.path + "/.env.production", 0o644)
        let open = try await fixture.run()
        #expect(open.checks["secrets.file_mode"]?.first?.status == "fail")
        #expect(open.checks["secrets.file_mode"]?.first?.summary.contains("is mode 644: group or others can read it") == true)
        chmod(fixture.path + "/.env.production", 0o600)
        chown(fixture.path + "/.env.production", 4321, 4321)
        #expect(try await fixture.run().checks["secrets.file_mode"]?.first?.summary.contains("owned by uid 4321") == true)
        unlink(fixture.path + "/.env.production")
        #expect(try await fixture.status("secrets.file_mode") == "fail")
    }

    @Test func secretsTrackedByGitAndValuesInTheRepository() async throws {
        let fixture = try await PreflightFixture()
        #expect(try await fixture.status("secrets.in_git") == "pass", ".env.example is meant to be tracked")
        #expect(try await fixture.status("secrets.in_repository") == "pass")
        #expect(try await fixture.status("secrets.gitignore") == "pass")

        try fixture.directory.write("docs/setup.md", "Use JWT_SECRET=\(PreflightFixture.strongSecret) locally.\n")
        try await setUp("git", ["-C", fixture.path, "add", "docs/setup.md"])
        try await setUp("git", ["-C", fixture.path, "add", "-f", ".env.production"])
        let leaked = try await fixture.run()
        #expect(leaked.checks["secrets.in_git"]?.first?.summary == "tracked by git: .env.production")
        #expect(leaked.checks["secrets.in_repository"]?.first?.status == "fail")
        #expect(leaked.checks["secrets.in_repository"]?.first?.summary.contains("docs/setup.md") == true)
        #expect(!leaked.output.contains(PreflightFixture.strongSecret))

        try fixture.directory.write(".gitignore", "node_modules/\n")
        let unignored = try await fixture.run()
        #expect(unignored.checks["secrets.gitignore"]?.first?.summary == ".gitignore does not cover .env* and .secrets/")

        try FileManager.default.removeItem(atPath: fixture.path + "/.git")
        #expect(try await fixture.status("secrets.in_git") == "warn")
        #expect(try await fixture.status("secrets.gitignore") == "warn")
    }

    @Test func storageDatabaseTmpfsAndBackups() async throws {
        let fixture = try await PreflightFixture()
        var result = try await fixture.run()
        #expect(result.checks["storage.database"]?.first?.status == "pass")
        #expect(result.checks["storage.tmpfs"]?.first?.status == "pass")
        #expect(result.checks["storage.backup_space"]?.first?.status == "pass")
        #expect(result.checks["storage.backup_verified"]?.first?.summary.hasPrefix("no backup in") == true)

        #expect(try await fixture.opsctl.run("backup", "production").exitCode == 0)
        #expect(try await fixture.status("storage.backup_verified") == "warn", "a backup nobody verified")
        #expect(try await fixture.opsctl.run("verify", "production", "--latest").exitCode == 0)
        #expect(try await fixture.status("storage.backup_verified") == "pass")

        // A database on tmpfs (/dev/shm here) vanishes on restart.
        let shm = "/dev/shm/opsctl-preflight-\(UUID().uuidString).db"
        defer { unlink(shm) }
        try await setUp("sqlite3", [shm, "CREATE TABLE t(x);"])
        let config = try fixture.directory.read("opsctl.yml").replacingOccurrences(of: "database: {path: data/app.db}", with: "database: {path: \(shm)}")
        try fixture.directory.write("opsctl.yml", config)
        result = try await fixture.run()
        #expect(result.checks["storage.tmpfs"]?.first?.status == "fail")
        #expect(result.checks["storage.tmpfs"]?.first?.summary.contains("is on tmpfs (/dev/shm)") == true)

        try fixture.directory.write("opsctl.yml", config.replacingOccurrences(of: shm, with: fixture.path + "/data/missing.db"))
        #expect(try await fixture.status("storage.database") == "fail")
        try fixture.directory.write("opsctl.yml", config.replacingOccurrences(of: "    database: {path: \(shm)}\n", with: ""))
        #expect(try await fixture.status("storage.database") == "warn")
    }

    @Test func backupSpaceFailsOnATinyDisk() async throws {
        let fixture = try await PreflightFixture()
        try await setUp("sqlite3", [fixture.path + "/data/app.db", "CREATE TABLE big(b); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) INSERT INTO big SELECT randomblob(1000) FROM n;"])
        let mountPoint = fixture.path + "/backups"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try await setUp("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint])
        defer { _ = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: [mountPoint]).waitUntilExit() }
        let result = try await fixture.run()
        #expect(result.checks["storage.backup_space"]?.first?.status == "fail")
        #expect(result.checks["storage.backup_space"]?.first?.summary.hasSuffix("less than 2x the database") == true)
    }

    @Test func configHealthSmokeAndAllowedPaths() async throws {
        let fixture = try await PreflightFixture()
        var result = try await fixture.run()
        #expect(result.checks["config.health"]?.first?.status == "pass")
        #expect(result.checks["config.smoke"]?.first?.status == "pass")
        #expect(result.checks["config.allowed_paths"]?.first?.summary == "ALLOWED_FILE_ROOTS do not include /")
        try fixture.writeConfig(health: false, smoke: false)
        result = try await fixture.run()
        #expect(result.checks["config.health"]?.first?.status == "fail")
        #expect(result.checks["config.smoke"]?.first?.status == "warn")
        try fixture.directory.write(".env.production", "JWT_SECRET=\(PreflightFixture.strongSecret)\nALLOWED_FILE_ROOTS=/srv/projects,/\n", mode: 0o600)
        result = try await fixture.run()
        #expect(result.checks["config.allowed_paths"]?.first?.status == "fail")
        #expect(result.checks["config.allowed_paths"]?.first?.summary.hasPrefix("ALLOWED_FILE_ROOTS in") == true)
    }

    @Test func clockFromTimedatectlOrChronyOrAWarning() async throws {
        let fixture = try await PreflightFixture()
        let bin = fixture.path + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        try fixture.directory.write("bin/timedatectl", "#!/bin/sh\necho yes\n", mode: 0o755)
        #expect(try await fixture.status("clock.ntp", ["PATH": path]) == "pass")
        try fixture.directory.write("bin/timedatectl", "#!/bin/sh\necho no\n", mode: 0o755)
        #expect(try await fixture.status("clock.ntp", ["PATH": path]) == "fail")
        try fixture.directory.write("bin/timedatectl", "#!/bin/sh\nexit 1\n", mode: 0o755)
        try fixture.directory.write("bin/chronyc", "#!/bin/sh\necho 'Leap status     : Normal'\n", mode: 0o755)
        #expect(try await fixture.status("clock.ntp", ["PATH": path]) == "pass")
        try fixture.directory.write("bin/chronyc", "#!/bin/sh\nexit 1\n", mode: 0o755)
        #expect(try await fixture.status("clock.ntp", ["PATH": path]) == "warn")
    }

    @Test func badPreflightConfigNamesTheCheck() async throws {
        let fixture = try await PreflightFixture()
        try fixture.writeConfig(extra: "    preflight: {fatal: [secrets.strenght]}")
        let result = try await fixture.opsctl.run("preflight", "production")
        #expect(result.exitCode == 78 && result.stderr.contains("did you mean \"secrets.strength\""))
    }

    @Test func mountLookupPicksTheLongestMountPoint() {
        let mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /srv/data tmpfs rw 0 0\n/dev/vdb /srv ext4 rw 0 0\n"
        #expect(PreflightService.mount(containing: "/srv/data/app.db", mounts: mounts)?.type == "tmpfs")
        #expect(PreflightService.mount(containing: "/srv/database/app.db", mounts: mounts)?.point == "/srv")
        #expect(PreflightService.mount(containing: "/var/app.db", mounts: mounts)?.point == "/")
    }
}

@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct PreflightDockerTests {
    @Test func dockerChecksAndADeployBlockedByAPlaceholderSecret() async throws {
        let fixture = try await DeployFixture()
        var result = try await fixture.opsctl.run("preflight", "production", "--json")
        var checks = try #require(try result.json()["checks"] as? [[String: Any]])
        func status(_ id: String) -> String? { checks.first { $0["id"] as? String == id }?["status"] as? String }
        #expect(status("docker.client") == "pass" && status("docker.daemon") == "pass" && status("docker.image") == "pass")

        var dead = fixture.opsctl
        dead.environment["DOCKER_HOST"] = "unix://\(fixture.directory.path)/no-docker.sock"
        result = try await dead.run("preflight", "production", "--json")
        checks = try #require(try result.json()["checks"] as? [[String: Any]])
        #expect(status("docker.daemon") == "fail")

        // The client missing: a PATH with git and sh but no docker.
        let bin = fixture.directory.path + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for tool in ["git", "sh"] { try FileManager.default.createSymbolicLink(atPath: "\(bin)/\(tool)", withDestinationPath: "/usr/bin/\(tool)") }
        var noClient = fixture.opsctl
        noClient.environment["PATH"] = bin
        result = try await noClient.run("preflight", "production", "--json")
        checks = try #require(try result.json()["checks"] as? [[String: Any]])
        #expect(status("docker.client") == "fail")

        // The live release's image gone: a rollback could not start it.
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let ledger = try fixture.ledger
        let id = try ledger.beginDeployment(env: "production", kind: .deploy, version: "9.9.9", previousVersion: "1.0.0", gitCommit: nil, image: nil,
                                            container: nil, actor: "test", message: nil)
        try ledger.finishDeployment(id: id, status: .succeeded)
        result = try await fixture.opsctl.run("preflight", "production", "--json")
        checks = try #require(try result.json()["checks"] as? [[String: Any]])
        #expect(status("docker.image") == "fail")
        try ledger.database.execute("DELETE FROM deployments WHERE version = '9.9.9'")

        // A placeholder secret: the deploy is refused before anything changes.
        let placeholder = "your-super-secret-jwt-key-change-this-in-production"
        try fixture.directory.write(".env.production", "JWT_SECRET=\(placeholder)\n", mode: 0o600)
        let before = try await fixture.releases()
        let rowsBefore = try fixture.rows().count
        let blocked = try await fixture.opsctl.run("deploy", "production", "1.0.1", "--json")
        #expect(blocked.exitCode == 1)
        let error = try #require(try blocked.json()["error"] as? [String: Any])
        #expect(error["code"] as? String == "preflight.failed")
        #expect((error["message"] as? String)?.contains("secrets.strength: JWT_SECRET in") == true)
        #expect(try await fixture.releases() == before)
        #expect(try fixture.rows().count == rowsBefore)
        #expect(fixture.serving() == "1.0.0")
        let text = try await fixture.opsctl.run("deploy", "production", "1.0.1")
        for output in [blocked.stdout, blocked.stderr, text.stdout, text.stderr] { #expect(!output.contains(placeholder)) }
        let ledgerBytes = String(decoding: try Data(contentsOf: URL(fileURLWithPath: fixture.directory.path + "/.opsctl/state.db")), as: UTF8.self)
        #expect(!ledgerBytes.contains(placeholder))
    }
}
