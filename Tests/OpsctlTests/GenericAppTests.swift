// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// A new user's app, not the seed's dashboard: its env file holds SECRET_TOKEN (no JWT_SECRET),
/// the config has no preflight section, and the app, its database file and its backups all have
/// different names. The whole first day must work: deploy, backup, verify, preflight.
@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct GenericAppTests {
    @Test func deploysBacksUpVerifiesAndPassesPreflight() async throws {
        try await DeployImages.built.value
        let directory = TemporaryDirectory("opsctl-generic")
        let app = "barsapp\(UInt32.random(in: 0...UInt32.max))"
        let port = freeTestPorts(1)[0]
        defer { removeContainers(app) }
        try await makeReleaseRepository(directory)
        try directory.write(".env.production", "SECRET_TOKEN=tok-\(UUID().uuidString)-\(UUID().uuidString)\nNODE_ENV=production\n", mode: 0o600)
        try FileManager.default.createDirectory(atPath: directory.file("data"), withIntermediateDirectories: true)
        try await setUp("sqlite3", [directory.file("data/app.db"), "CREATE TABLE bars(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO bars(name) VALUES ('a'), ('b');"])
        try directory.write("opsctl.yml", """
            app: \(app)
            image: \(DeployImages.repository)
            state: .opsctl/state.db
            environments:
              production:
                run:
                  network: host
                  env_file: .env.production
                  env: {PORT: "\(port)"}
                health: {url: "http://127.0.0.1:\(port)/health", timeout: 120s}
                smoke:
                  base_url: http://127.0.0.1:\(port)
                  checks: [{name: health, path: /health}]
                database: {path: data/app.db}
                backup: {dir: backups, name: nightly}

            """)
        let opsctl = Opsctl(directory: directory.path)

        let deploy = try await opsctl.run("deploy", "production", "1.0.0")
        #expect(deploy.exitCode == 0, "\(deploy.stdout)\(deploy.stderr)")
        let backup = try await opsctl.run("backup", "production", "--json")
        #expect(backup.exitCode == 0, "\(backup.stderr)")
        #expect((try backup.json()["file"] as? String)?.hasPrefix("nightly_") == true)
        let verify = try await opsctl.run("verify", "production", "--latest")
        #expect(verify.exitCode == 0, "\(verify.stdout)\(verify.stderr)")

        let preflight = try await opsctl.run("preflight", "production", "--json")
        let checks = try #require(try preflight.json()["checks"] as? [[String: Any]])
        func statuses(_ id: String) -> [String] { checks.filter { $0["id"] as? String == id }.compactMap { $0["status"] as? String } }
        for id in ["storage.database", "storage.tmpfs", "storage.backup_space", "storage.backup_verified", "secrets.strength"] {
            #expect(statuses(id) == ["pass"], "\(id): \(checks.filter { $0["id"] as? String == id })")
        }
        // The host's clock is the one thing this app's config cannot make right.
        let failed = checks.filter { $0["status"] as? String == "fail" }.compactMap { $0["id"] as? String }
        #expect(failed.filter { $0 != "clock.ntp" }.isEmpty, "\(preflight.stdout)")
        #expect(preflight.exitCode == (failed.isEmpty ? 0 : 1))
    }

    func makeReleaseRepository(_ directory: TemporaryDirectory) async throws {
        try await setUp("git", ["init", "-q", directory.path])
        try directory.write(".gitignore", ".env*\n.secrets/\n.opsctl/\n")
        try await setUp("git", ["-C", directory.path, "add", ".gitignore"])
        try await setUp("git", ["-C", directory.path, "commit", "-q", "-m", "release 1.0.0"])
        try await setUp("git", ["-C", directory.path, "tag", "v1.0.0"])
    }

    func removeContainers(_ app: String) {
        let script = "docker ps -aq --filter label=opsctl.app=\(app) | xargs -r docker rm -f >/dev/null 2>&1"
        let process = try? Process.run(URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", script])
        process?.waitUntilExit()
    }
}
