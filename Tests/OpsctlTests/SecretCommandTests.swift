// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `NAME_COMMAND` end to end: a real secret manager (`pass`, with a throw-away GnuPG key), the
/// built binary, a real Docker engine and the sample app, which prints JWT_SECRET when it crashes.
@Suite(.serialized, .enabled(if: DockerEngine.shouldRun && RequiredTool.shouldRun("pass", "gpg"),
                             "needs a Docker engine, pass and gpg (always required under CI=true)"))
struct SecretCommandTests {
    static let jwtSecret = "pass-jwt-\(UUID().uuidString)"

    /// The deploy fixture with JWT_SECRET taken from `pass` instead of the env file.
    func fixture(store: PassStore, command: String = "[pass, show, dashboard/jwt]", timeout: String = "120s") async throws -> DeployFixture {
        let fixture = try await DeployFixture()
        try rewrite(fixture, command: command, timeout: timeout)
        return fixture
    }

    func rewrite(_ fixture: DeployFixture, command: String, timeout: String = "120s") throws {
        try fixture.directory.write(".env.production", "NODE_ENV=production\n", mode: 0o600)
        if !FileManager.default.fileExists(atPath: fixture.directory.file("opsctl.yml.orig")) {
            try fixture.directory.write("opsctl.yml.orig", try fixture.directory.read("opsctl.yml"))
        }
        let config = try fixture.directory.read("opsctl.yml.orig")
        try fixture.directory.write("opsctl.yml", config
            .replacingOccurrences(of: "env: {PORT:", with: "env: {JWT_SECRET_COMMAND: \(command), PORT:")
            .replacingOccurrences(of: "    keep_releases: 2", with: "    keep_releases: 2\n    secrets: {timeout: \(timeout)}"))
    }

    func opsctl(_ fixture: DeployFixture, _ store: PassStore) -> Opsctl {
        Opsctl(directory: fixture.directory.path, environment: store.environment.merging(["USER": "alice"]) { $1 })
    }

    /// What the running container of `version` sees.
    func containerEnvironment(_ fixture: DeployFixture, _ version: String, _ name: String) async throws -> String {
        try await setUp("docker", ["exec", fixture.container(version), "/bin/sh", "-c", "echo \"$\(name)\""]).trimmingCharacters(in: .newlines)
    }

    @Test func aSecretFromPassReachesTheContainerAndNothingElse() async throws {
        let store = try await PassStore()
        try await store.insert("dashboard/jwt", Self.jwtSecret)
        let fixture = try await fixture(store: store)
        let opsctl = opsctl(fixture, store)
        var outputs: [String] = []
        func keep(_ run: Opsctl.Run) -> Opsctl.Run {
            outputs += [run.stdout, run.stderr]
            return run
        }

        // Loading the config never runs the secret manager: config check and status work without it.
        let check = keep(try await Opsctl(directory: fixture.directory.path).run("config", "check", "-vv"))
        #expect(check.exitCode == 0, "\(check.stderr)")
        #expect(!check.stderr.contains("run: pass"), "config check ran the secret command")

        let dryRun = keep(try await opsctl.run("deploy", "production", "1.0.0", "--dry-run", "-vv", "--json"))
        #expect(dryRun.exitCode == 0, "\(dryRun.stderr)")
        let plan = try #require(try dryRun.json()["plan"] as? [String])
        #expect(plan.first == "secret: environments.production.run.env.JWT_SECRET_COMMAND = output of pass show dashboard/jwt   # fetched, value never shown")
        #expect(dryRun.stderr.contains("run: pass show dashboard/jwt"))

        let preflight = keep(try await opsctl.run("preflight", "production", "--json"))
        let strength = try #require((try preflight.json()["checks"] as? [[String: Any]])?.first { $0["id"] as? String == "secrets.strength" })
        #expect(strength["status"] as? String == "pass")
        #expect(strength["summary"] as? String == "JWT_SECRET is \(Self.jwtSecret.count) characters and not a placeholder")
        let fetched = try #require((try preflight.json()["checks"] as? [[String: Any]])?.first { $0["id"] as? String == "secrets.commands" })
        #expect(fetched["summary"] as? String == "1 secret(s) fetched from their commands: JWT_SECRET_COMMAND")

        let deploy = keep(try await opsctl.run("deploy", "production", "1.0.0", "-vv", "--json"))
        #expect(deploy.exitCode == 0, "\(deploy.stderr)")
        #expect(try await containerEnvironment(fixture, "1.0.0", "JWT_SECRET") == Self.jwtSecret, "the secret reached the container")

        // 1.0.3 crashes and prints its JWT_SECRET: the value came from pass, and opsctl still scrubs it.
        let crash = keep(try await opsctl.run("deploy", "production", "1.0.3", "-vv", "--json"))
        #expect(crash.exitCode == 3, "\(crash.stderr)")
        let failedLogs = try #require(try crash.json()["failed_logs"] as? String)
        #expect(failedLogs.contains("config: JWT_SECRET=<redacted>"), "\(failedLogs)")

        let handoff = keep(try await opsctl.run("handoff", "production", "--format", "json"))
        #expect(handoff.exitCode == 0, "\(handoff.stderr)")
        let history = keep(try await opsctl.run("history", "production", "--json"))
        #expect(history.exitCode == 0)
        let metrics = try fixture.directory.read("metrics/opsctl_production.prom")
        try fixture.assertNoSecrets(outputs + [metrics])
        for text in outputs + [metrics] { #expect(!text.contains(Self.jwtSecret)) }
        let ledger = try String(decoding: Data(contentsOf: URL(fileURLWithPath: fixture.directory.path + "/.opsctl/state.db")), as: UTF8.self)
        #expect(!ledger.contains(Self.jwtSecret))
        #expect(ledger.contains("JWT_SECRET=<redacted>"), "the ledger keeps the crashed release's logs, scrubbed")
    }

    @Test func aPlaceholderFromTheSecretManagerFailsPreflightAndStopsTheDeploy() async throws {
        let store = try await PassStore()
        try await store.insert("dashboard/jwt", "changeme")
        let fixture = try await fixture(store: store)
        let deploy = try await opsctl(fixture, store).run("deploy", "production", "1.0.0")
        #expect(deploy.exitCode == 1, "\(deploy.stderr)")
        #expect(deploy.stderr.contains("secrets.strength: JWT_SECRET in the output of `pass show dashboard/jwt` is a known placeholder/default value"), "\(deploy.stderr)")
        #expect(try await fixture.releases().isEmpty)
    }

    @Test func aFailingAHangingAndAnEmptyCommandEachStopTheDeployBeforeAnythingChanges() async throws {
        let store = try await PassStore()
        try await store.insert("dashboard/jwt", Self.jwtSecret)
        try await store.insert("dashboard/empty", "")
        let fixture = try await fixture(store: store)
        let opsctl = opsctl(fixture, store)
        let first = try await opsctl.run("deploy", "production", "1.0.0")
        #expect(first.exitCode == 0, "\(first.stderr)")
        let rowsBefore = try fixture.rows().count

        // Only the hanging command meets its timeout: gpg behind `pass` can take seconds on a
        // busy machine, and must not be mistaken for a hang.
        let cases: [(command: String, timeout: String, exit: Int32, code: String, says: [String])] = [
            ("[pass, show, dashboard/missing]", "120s", 69, "secret.command_failed",
             ["the secret command `pass show dashboard/missing` exited with status 1", "stderr: Error: dashboard/missing is not in the password store."]),
            ("[sleep, \"300\"]", "1s", 69, "secret.command_timeout", ["the secret command `sleep 300` did not finish within 1s and was killed"]),
            ("[pass, show, dashboard/empty]", "120s", 78, "secret.command_empty", ["the secret command `pass show dashboard/empty` printed nothing"]),
        ]
        for bad in cases {
            try rewrite(fixture, command: bad.command, timeout: bad.timeout)
            let deploy = try await opsctl.run("deploy", "production", "1.0.1", "--json")
            #expect(deploy.exitCode == bad.exit, "\(bad.command): \(deploy.stdout)")
            let error = try #require(try deploy.json()["error"] as? [String: Any])
            #expect(error["code"] as? String == bad.code)
            let text = "\(error["message"] ?? "") \(error["details"] ?? "")"
            #expect(text.contains("environments.production.run.env.JWT_SECRET_COMMAND"), "\(text)")
            for phrase in bad.says { #expect(text.contains(phrase), "\(bad.command): \(text)") }
            // Nothing changed: 1.0.0 still serves, no 1.0.1 container, no ledger row.
            #expect(try await fixture.releases() == ["1.0.0": true])
            #expect(fixture.serving() == "1.0.0")
            #expect(try fixture.rows().count == rowsBefore)
        }

        // The handoff still renders with the secret manager failing, and says so.
        try rewrite(fixture, command: "[pass, show, dashboard/missing]")
        // So does preflight: a failed command is a failed check, the other checks still run.
        let preflight = try await opsctl.run("preflight", "production", "--json")
        #expect(preflight.exitCode == 1)
        let checks = try #require(try preflight.json()["checks"] as? [[String: Any]])
        let command = try #require(checks.first { $0["id"] as? String == "secrets.commands" })
        #expect(command["status"] as? String == "fail")
        #expect((command["summary"] as? String)?.contains("`pass show dashboard/missing` exited with status 1; stderr: Error: dashboard/missing is not in the password store.") == true, "\(command)")
        let strength = try #require(checks.first { $0["id"] as? String == "secrets.strength" })
        #expect(strength["summary"] as? String == "JWT_SECRET could not be checked: the output of `pass show dashboard/missing` failed (see secrets.commands)")
        #expect(checks.contains { $0["id"] as? String == "docker.daemon" && $0["status"] as? String == "pass" })
        let handoff = try await opsctl.run("handoff", "production", "--format", "json")
        #expect(handoff.exitCode == 0, "\(handoff.stderr)")
        let errors = try #require(try handoff.json()["source_errors"] as? [[String: Any]])
        #expect(errors.contains { $0["source"] as? String == "secrets" && ($0["error"] as? String)?.contains("dashboard/missing") == true }, "\(errors)")
        // The app's error lines could hold the secret it cannot scrub now: counts only.
        #expect(errors.contains { $0["source"] as? String == "logs" }, "\(errors)")
        let logs = try #require(try handoff.json()["logs"] as? [String: Any])
        #expect((logs["top"] as? [Any])?.isEmpty == true)
    }
}
