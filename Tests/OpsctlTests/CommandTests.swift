// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// End to end: the built binary in temp directories.
struct InitAndConfigTests {
    let directory = TemporaryDirectory("opsctl-e2e")
    var opsctl: Opsctl { Opsctl(directory: directory.path) }

    @Test func initScaffoldsAValidConfigAndRefusesToOverwrite() async throws {
        let created = try await opsctl.run("init")
        #expect(created.exitCode == 0, "\(created.stderr)")
        for file in ["opsctl.yml", "ops/cron/opsctl.cron", "ops/systemd/opsctl-backup@.service", "ops/systemd/opsctl-backup@.timer",
                     "ops/systemd/opsctl-verify@.timer", "ops/systemd/opsctl-handoff@.timer", "ops/systemd/opsctl-db@.service",
                     "ops/systemd/opsctl-db@.timer", "handoff/handoff.md.mustache"] {
            #expect(FileManager.default.fileExists(atPath: "\(directory.path)/\(file)"), "\(file)")
        }
        let check = try await opsctl.run("config", "check")
        #expect(check.exitCode == 0, "\(check.stderr)")
        #expect(check.stdout.hasPrefix("opsctl.yml: ok (1 environment: production)"))

        try directory.write("opsctl.yml", "app: mine\n")
        let again = try await opsctl.run("init")
        #expect(again.exitCode == 64)
        #expect(again.stderr.contains("refusing to overwrite"))
        #expect(try directory.read("opsctl.yml") == "app: mine\n")   // untouched

        let forced = try await opsctl.run("init", "--force", "--json")
        #expect(forced.exitCode == 0)
        #expect((try forced.json()["overwritten"] as? [String])?.contains("opsctl.yml") == true)
        #expect(try directory.read("opsctl.yml").contains("environments:"))
    }

    @Test func initIntoAnotherDirectory() async throws {
        let result = try await opsctl.run("init", "--dir", "nested/site")
        #expect(result.exitCode == 0)
        #expect(FileManager.default.fileExists(atPath: "\(directory.path)/nested/site/opsctl.yml"))
    }

    @Test func configErrorsAreExit78WithPosition() async throws {
        try directory.write("opsctl.yml", """
            app: dashboard
            image: dashboard
            environments:
              production:
                health:
                  url: http://127.0.0.1:3000/health
                  timeout: 6O s

            """)
        let result = try await opsctl.run("config", "check")
        #expect(result.exitCode == 78)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("opsctl: error: opsctl.yml:7:16: environments.production.health.timeout: \"6O s\" is not a duration"))

        let json = try await opsctl.run("config", "check", "--json")
        #expect(json.exitCode == 78)
        let document = try json.json()
        #expect(document["ok"] as? Bool == false)
        let error = try #require(document["error"] as? [String: Any])
        #expect(error["code"] as? String == "config.invalid")
        #expect(error["exit_code"] as? Int == 78)
        #expect((error["message"] as? String)?.hasPrefix("opsctl.yml:7:16:") == true)
    }

    @Test func aMissingConfigIsExit78AndNamesTheFile() async throws {
        let result = try await opsctl.run("status", "production")
        #expect(result.exitCode == 78)
        #expect(result.stderr.contains("opsctl.yml: cannot read config: No such file or directory"))
        var withEnvironment = opsctl
        withEnvironment.environment["OPSCTL_CONFIG"] = "elsewhere.yml"
        #expect(try await withEnvironment.run("history", "production").stderr.contains("elsewhere.yml"))
    }

    @Test func configCheckRedactsSecretsInTextAndJSON() async throws {
        try directory.write("jwt", "file-secret-0123456789\n")
        try directory.write("opsctl.yml", """
            app: dashboard
            image: dashboard
            environments:
              production:
                run:
                  env:
                    JWT_SECRET_FILE: jwt
                    SESSION_TOKEN: ${SESSION_TOKEN}
                    DATABASE_URL: postgres://app:url-secret-99@db/app
                handoff: {webhook: "https://hooks.example.invalid/T0/B0/webhook-secret-77"}

            """)
        var withToken = opsctl
        withToken.environment["SESSION_TOKEN"] = "env-secret-abcdef"
        for arguments in [["config", "check"], ["config", "check", "production", "--json"], ["--json", "config", "check"]] {
            let result = try await withToken.run(arguments)
            #expect(result.exitCode == 0, "\(result.stderr)")
            for secret in ["file-secret-0123456789", "env-secret-abcdef", "url-secret-99", "webhook-secret-77"] {
                #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "\(secret) leaked by \(arguments)")
            }
        }
        let document = try await withToken.run("config", "check", "--json").json()
        #expect(document["ok"] as? Bool == true)
    }

    @Test func usageErrorsAreExit64AndHonourJSON() async throws {
        let unknownFlag = try await opsctl.run("history", "production", "--bogus", "--json")
        #expect(unknownFlag.exitCode == 64)
        #expect((try unknownFlag.json()["error"] as? [String: Any])?["code"] as? String == "usage.invalid")
        let badLimit = try await opsctl.run("history", "production", "--limit", "0")
        #expect(badLimit.exitCode == 64)

        try directory.write("opsctl.yml", "app: a\nimage: a\nenvironments:\n  production: {}\n")
        let unknownEnvironment = try await opsctl.run("history", "prodution")
        #expect(unknownEnvironment.exitCode == 64)
        #expect(unknownEnvironment.stderr.contains("did you mean \"production\"?"))
    }

    @Test func versionReportsLinkedLibraries() async throws {
        let result = try await opsctl.run("--json", "version")
        #expect(result.exitCode == 0)
        let document = try result.json()
        #expect(document["opsctl"] as? String == OpsctlVersion.current)
        for library in ["sqlite", "zlib", "curl"] {
            #expect((document[library] as? String)?.first?.isNumber == true, "\(library)")
        }
    }

    @Test func notesAndHistoryUseTheLedger() async throws {
        try directory.write("opsctl.yml", "app: a\nimage: a\nstate: state/ledger.db\nenvironments:\n  production: {run: {env: {API_TOKEN: tok-secret-1234}}}\n")
        let note = try await opsctl.run("note", "production", "rotate tok-secret-1234 after the incident")
        #expect(note.exitCode == 0, "\(note.stderr)")
        #expect(note.stdout.contains("1 pending note"))
        let ledger = try Ledger(path: directory.path + "/state/ledger.db")
        #expect(try ledger.pendingNotes(env: "production").map(\.text) == ["rotate <redacted> after the incident"])

        let empty = try await opsctl.run("history", "production")
        #expect(empty.stdout == "no deploys recorded for production yet\n")
        let id = try ledger.beginDeployment(env: "production", kind: .deploy, version: "1.0.0", previousVersion: nil, gitCommit: nil,
                                            image: "a:1.0.0", container: nil, actor: "alice", message: nil)
        try ledger.finishDeployment(id: id, status: .succeeded)
        let history = try await opsctl.run("history", "production", "--json")
        let deployments = try #require(try history.json()["deployments"] as? [[String: Any]])
        #expect(deployments.first?["version"] as? String == "1.0.0")
        #expect(deployments.first?["status"] as? String == "succeeded")
        #expect(try await opsctl.run("history", "production").stdout.contains("alice"))
    }

    /// Two processes writing the ledger at once: many `opsctl note` processes in parallel while
    /// this process holds the write lock for a while. None may fail with "database is locked".
    @Test func concurrentProcessesQueueOnTheLedger() async throws {
        try directory.write("opsctl.yml", "app: a\nimage: a\nenvironments:\n  production: {}\n")
        let ledger = try Ledger(path: directory.path + "/.opsctl/state.db")
        let opsctl = self.opsctl
        let results = try await withThrowingTaskGroup(of: Opsctl.Run.self) { group in
            for index in 0..<12 {
                group.addTask { try await opsctl.run("note", "production", "note \(index)") }
            }
            // Hold the write lock while they start.
            try ledger.database.writeTransaction { () throws(OpsError) in
                try ledger.database.query("INSERT INTO notes (env, text, created_at) VALUES ('production', 'held', 0)")
                usleep(700_000)
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for result in results {
            #expect(result.exitCode == 0, "\(result.stderr)")
            #expect(!result.stderr.contains("locked"))
        }
        #expect(try ledger.pendingNotes(env: "production").count == 13)
    }
}
