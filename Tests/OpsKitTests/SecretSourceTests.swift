// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `NAME_COMMAND` / `key_command`: parsing, and fetching with real processes.
struct SecretSourceTests {
    let directory = TemporaryDirectory("opsctl-secret")

    func parse(_ yaml: String, fileName: String = "opsctl.yml") throws(OpsError) -> OpsConfig {
        try ConfigLoader.parse(yaml, fileName: fileName, baseDirectory: URL(fileURLWithPath: directory.path), environment: ["VAULT_PATH": "secret/dashboard"])
    }

    func config(env: String = "", extra: String = "") -> String {
        """
        app: dashboard
        image: dashboard
        environments:
          production:
            run:
              env:
                PORT: "3000"
        \(env)
            health: {url: "http://127.0.0.1:3000/health"}
        \(extra)

        """
    }

    func resolver(timeout: OpsDuration = .seconds(10)) -> SecretResolver {
        SecretResolver(runner: SubprocessRunner(), timeout: timeout, workingDirectory: directory.path)
    }

    @Test func aCommandSecretIsAnArgvThatDoesNotRunWhileTheConfigLoads() throws {
        let marker = directory.file("ran")
        let parsed = try parse(config(env: """
                    JWT_SECRET_COMMAND: [vault, kv, get, "-field=jwt", "${VAULT_PATH}"]
                    API_TOKEN_COMMAND: [sh, -c, "touch \(marker); echo t"]
            """, extra: "    handoff: {webhook_command: [pass, show, slack/webhook]}"))
        let production = try parsed.environment(named: "production")
        let jwt = try #require(production.run.env.first { $0.name == "JWT_SECRET" })
        #expect(jwt.fromCommand == ["vault", "kv", "get", "-field=jwt", "secret/dashboard"])
        #expect(jwt.secret?.command == jwt.fromCommand)
        #expect(jwt.secret?.isResolved == false)
        #expect(production.handoff.webhook?.command == ["pass", "show", "slack/webhook"])
        #expect(!FileManager.default.fileExists(atPath: marker), "loading a config never runs a secret command")
        #expect(parsed.redactor.secretValues.isEmpty)
        let shown = ReportEncoder.json(try ConfigCheckReport(config: parsed, only: nil))
        #expect(shown.contains("\"from_command\""))
        #expect(shown.contains("<redacted>"))
        #expect(production.secretSettings.map(\.setting) == ["environments.production.run.env.JWT_SECRET_COMMAND",
                                                              "environments.production.run.env.API_TOKEN_COMMAND",
                                                              "environments.production.handoff.webhook_command"])
    }

    @Test func aShellStringTwoSourcesForOneNameAndAnEmptyArgvAreConfigErrors() {
        let shell = opsError { () throws(OpsError) in _ = try parse(config(env: "        JWT_SECRET_COMMAND: vault kv get -field=jwt secret/x")) }
        #expect(shell?.kind == .config)
        #expect(shell?.message.hasPrefix("opsctl.yml:8:29: environments.production.run.env.JWT_SECRET_COMMAND: expected an argv list") == true, "\(shell?.message ?? "")")
        #expect(shell?.message.contains("never a shell string") == true)

        let twice = opsError { () throws(OpsError) in
            _ = try parse(config(env: "        JWT_SECRET: abc\n        JWT_SECRET_COMMAND: [pass, show, x]"))
        }
        #expect(twice?.message.contains("JWT_SECRET is set twice") == true, "\(twice?.message ?? "")")

        let empty = opsError { () throws(OpsError) in _ = try parse(config(env: "        JWT_SECRET_COMMAND: []")) }
        #expect(empty?.message.contains("needs at least a program") == true)

        let webhook = opsError { () throws(OpsError) in
            _ = try parse(config(extra: "    handoff: {webhook: \"https://hooks.example.invalid/x\", webhook_command: [pass, show, w]}"))
        }
        #expect(webhook?.message.contains("webhook and webhook_command are alternatives: set one") == true, "\(webhook?.message ?? "")")

        let timeout = opsError { () throws(OpsError) in _ = try parse(config(extra: "    secrets: {timeout: 0s}")) }
        #expect(timeout?.message.contains("secrets.timeout: must be greater than 0") == true)
    }

    @Test func smokeHeadersTakeSecretsFromFilesAndCommands() throws {
        try directory.write("token", "file-token-value\n", mode: 0o600)
        let parsed = try parse(config(extra: """
                smoke:
                  base_url: http://127.0.0.1:3000
                  checks:
                    - name: api
                      path: /api
                      headers:
                        Authorization_COMMAND: [pass, show, api/bearer]
                        X-Api-Key_FILE: token
                        Accept: application/json
            """))
        let headers = try #require(try parsed.environment(named: "production").smoke?.checks.first?.headers)
        #expect(headers.map(\.name) == ["Authorization", "X-Api-Key", "Accept"])
        #expect(headers[0].secret?.command == ["pass", "show", "api/bearer"])
        #expect(headers[1].secret?.value == "file-token-value")
        #expect(headers[1].secret?.file == directory.file("token"))
        #expect(headers[2].value == "application/json")
    }

    @Test func resolvingRunsEachCommandOnceStripsOneNewlineAndFeedsTheRedactor() async throws {
        // Relative to the config file's directory, like hooks.
        try directory.write("secret.sh", "echo x >> runs\nprintf 'jwt-value-0123456789\\n\\n'\n")
        let counter = directory.file("runs")
        let parsed = try parse(config(env: """
                    JWT_SECRET_COMMAND: [sh, secret.sh]
                    SESSION_SECRET_COMMAND: [sh, secret.sh]
                    CRLF_TOKEN_COMMAND: [printf, "crlf-token-value\\r\\n"]
            """, extra: "    handoff: {webhook_command: [sh, secret.sh]}"), fileName: directory.file("opsctl.yml"))
        let (config, production) = try await parsed.resolvingSecrets(of: "production", runner: SubprocessRunner())
        #expect(try String(contentsOfFile: counter, encoding: .utf8) == "x\n", "one argv, one run, however many settings use it")
        #expect(production.run.env.first { $0.name == "JWT_SECRET" }?.resolvedValue == "jwt-value-0123456789\n", "exactly one trailing newline is stripped")
        #expect(production.run.env.first { $0.name == "CRLF_TOKEN" }?.resolvedValue == "crlf-token-value")
        #expect(production.handoff.webhook?.value == "jwt-value-0123456789\n")
        #expect(config.redactor.scrub("token crlf-token-value here") == "token <redacted> here")
        #expect(try config.environment(named: "production").run.env.allSatisfy { $0.secret?.isResolved != false })
    }

    @Test func aFailingCommandNamesItselfAndItsStderrButNeverTheValue() async throws {
        try directory.write("half.sh", "printf 'half-printed-secret-4242'\necho 'permission denied for half-printed-secret-4242' >&2\nexit 2\n")
        let error = await asyncOpsError { () async throws(OpsError) in
            _ = try await resolver().fetch(["sh", "half.sh"], for: "environments.production.run.env.JWT_SECRET_COMMAND")
        }
        #expect(error?.code == "secret.command_failed")
        #expect(error?.exitCode == 69)
        #expect(error?.message == "environments.production.run.env.JWT_SECRET_COMMAND: the secret command `sh half.sh` exited with status 2", "\(error?.message ?? "")")
        #expect(error?.message.contains("exited with status 2") == true)
        #expect(error?.details.first == "stderr: permission denied for <redacted>")
        let everything = (error.map { [$0.message] + $0.details } ?? []).joined(separator: "\n")
        #expect(!everything.contains("half-printed-secret-4242"))
    }

    /// The timeout, not the command's own end, finished it: `sleep` ends by itself with status 0.
    @Test func aHangingCommandIsKilledAtTheTimeout() async throws {
        let error = await asyncOpsError { () async throws(OpsError) in
            _ = try await resolver(timeout: OpsDuration(milliseconds: 500)).fetch(["sleep", "600"], for: "handoff.webhook_command")
        }
        #expect(error?.code == "secret.command_timeout")
        #expect(error?.message.contains("did not finish within 500ms and was killed") == true, "\(error?.message ?? "")")
    }

    @Test func emptyOutputAndAMissingProgramFailWithTheirOwnCodes() async throws {
        for argv in [["true"], ["printf", "\\n"], ["printf", "  \\n"]] {
            let error = await asyncOpsError { () async throws(OpsError) in _ = try await resolver().fetch(argv, for: "x") }
            #expect(error?.code == "secret.command_empty", "\(argv)")
            #expect(error?.exitCode == 78)
            #expect(error?.message.contains("printed nothing") == true)
        }
        let missing = await asyncOpsError { () async throws(OpsError) in
            _ = try await resolver().fetch(["opsctl-no-such-secret-manager", "get"], for: "x")
        }
        #expect(missing?.code == "secret.command_unavailable")
        #expect(missing?.exitCode == 69)
    }

    @Test func leniencyKeepsGoingAndLeavesFailedSecretsUnresolved() async throws {
        let parsed = try parse(config(env: """
                    JWT_SECRET_COMMAND: [sh, -c, "echo nope >&2; exit 1"]
                    API_TOKEN_COMMAND: [printf, "api-token-value"]
            """))
        let (config, production, failures) = try await parsed.resolvingSecretsLeniently(of: "production", runner: SubprocessRunner())
        #expect(failures.map(\.code) == ["secret.command_failed"])
        #expect(production.run.env.first { $0.name == "JWT_SECRET" }?.secret?.isResolved == false)
        #expect(production.run.env.first { $0.name == "API_TOKEN" }?.resolvedValue == "api-token-value")
        #expect(config.redactor.secretValues == ["api-token-value"])

        let strict = await asyncOpsError { () async throws(OpsError) in _ = try await parsed.resolvingSecrets(of: "production", runner: SubprocessRunner()) }
        #expect(strict?.code == "secret.command_failed")

        // A command that needs only some secrets (e.g. off-site keys for a backup) asks only for those.
        let (_, some) = try await parsed.resolvingSecrets(of: "production", runner: SubprocessRunner(), matching: { $0.hasSuffix(".API_TOKEN_COMMAND") })
        #expect(some.run.env.first { $0.name == "API_TOKEN" }?.resolvedValue == "api-token-value")
        #expect(some.run.env.first { $0.name == "JWT_SECRET" }?.secret?.isResolved == false)
    }
}

func asyncOpsError(_ body: () async throws(OpsError) -> Void) async -> OpsError? {
    do { try await body(); return nil } catch { return error }
}
