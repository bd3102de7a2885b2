// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

struct ConfigTests {
    let directory = TemporaryDirectory("opsctl-config")

    func parse(_ yaml: String, environment: [String: String] = [:]) throws(OpsError) -> OpsConfig {
        try ConfigLoader.parse(yaml, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: environment)
    }

    func message(_ yaml: String, environment: [String: String] = [:]) -> String? {
        opsError { () throws(OpsError) in _ = try parse(yaml, environment: environment) }?.message
    }

    static let minimal = """
        app: dashboard
        image: dashboard
        environments:
          production:
            health:
              url: http://127.0.0.1:3000/health
              timeout: 60s

        """

    @Test func theShippedTemplateIsValidAndComplete() throws {
        let config = try parse(EmbeddedTemplate.opsctlYml.contents)
        let production = try config.environment(named: "production")
        #expect(config.app == "dashboard")
        #expect(config.git.tagPrefix == "v")
        #expect(config.state == directory.path + "/.opsctl/state.db")
        #expect(production.driver == .docker)
        #expect(production.run.ports == ["127.0.0.1:3000:3000"])
        #expect(production.run.envFile == directory.path + "/.env.production")
        #expect(production.health?.interval == OpsDuration(milliseconds: 250))
        #expect(production.health?.json.first?.equals == .string("healthy"))
        #expect(production.smoke?.checks.count == 2)
        #expect(production.smoke?.checks[1].expect.headers.first?.value == "nosniff")
        #expect(production.backup?.retention.keepWeekly == 8)
        #expect(production.backup?.level == 6)
        #expect(production.handoff.since == .hours(8))
        // Nothing that belongs to one app is switched on: no secret key names, no SQL on its tables.
        #expect(production.preflight.secretKeys.isEmpty)
        #expect(production.handoff.facts.isEmpty)
        let active = EmbeddedTemplate.opsctlYml.contents.split(separator: "\n").map { $0.split(separator: "#", maxSplits: 1).first ?? "" }.joined(separator: "\n")
        for appSpecific in ["JWT_SECRET", "sessions", "/api/auth/login"] { #expect(!active.contains(appSpecific), "\(appSpecific) is active in the template") }
        #expect(production.handoff.webhook == nil)
        #expect(production.metrics?.textfileDir == "/var/lib/node_exporter/textfile")
    }

    /// The build-time generator embeds every file under templates/ (dot files aside), byte for byte.
    @Test func everyTemplateIsEmbeddedByteForByte() throws {
        let folder = repositoryRoot + "/templates"
        let onDisk = try FileManager.default.subpathsOfDirectory(atPath: folder).filter { path in
            var isDirectory: ObjCBool = false
            let hidden = path.split(separator: "/").contains { $0.hasPrefix(".") }
            return !hidden && FileManager.default.fileExists(atPath: "\(folder)/\(path)", isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
        #expect(EmbeddedTemplate.allCases.map(\.path).sorted() == onDisk)
        for template in EmbeddedTemplate.allCases {
            let contents = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(template.path)"))
            #expect(Data(template.contents.utf8) == contents, "templates/\(template.path) differs from its embedded copy")
        }
    }

    @Test func defaultsApply() throws {
        let config = try parse(Self.minimal)
        let production = try config.environment(named: "production")
        #expect(production.rollback == .auto)
        #expect(production.keepReleases == 5)
        #expect(production.health?.successes == 2)
        #expect(production.health?.status == 200)
        #expect(config.git.dir == directory.path)
    }

    @Test func unknownKeySuggestsTheClosestName() {
        let yaml = Self.minimal.replacingOccurrences(of: "      timeout: 60s", with: "      timout: 60s")
        #expect(message(yaml) == "opsctl.yml:7:7: environments.production.health.timout: unknown key; did you mean \"timeout\"?")
        #expect(message("app: a\nimage: b\nenviroments: {}\n") == "opsctl.yml:3:1: enviroments: unknown key; did you mean \"environments\"?")
    }

    @Test func badDurationNamesFileLineColumnAndKeyPath() {
        let yaml = Self.minimal.replacingOccurrences(of: "timeout: 60s", with: "timeout: \"6O s\"")
        #expect(message(yaml) == "opsctl.yml:7:16: environments.production.health.timeout: \"6O s\" is not a duration")
        let bare = Self.minimal.replacingOccurrences(of: "timeout: 60s", with: "timeout: 60")
        let error = opsError { () throws(OpsError) in _ = try parse(bare) }
        #expect(error?.details == ["add a unit, e.g. 60s"])
        #expect(error?.exitCode == 78)
    }

    @Test func wrongTypesAreNamed() {
        #expect(message(Self.minimal + "    keep_releases: many\n") == "opsctl.yml:8:20: environments.production.keep_releases: \"many\" is not a whole number")
        #expect(message(Self.minimal + "    keep_releases: 0\n") == "opsctl.yml:8:20: environments.production.keep_releases: 0 is out of range 1...100")
        #expect(message(Self.minimal + "    run: [a, b]\n") == "opsctl.yml:8:10: environments.production.run: expected a mapping (key: value), found a list")
        #expect(message(Self.minimal + "    driver: dokcer\n") == "opsctl.yml:8:13: environments.production.driver: \"dokcer\" is not one of docker, compose, swarm; did you mean \"docker\"?")
        #expect(message(Self.minimal + "    hooks: {pre_deploy: [\"./migrate --check\"]}\n")
                == "opsctl.yml:8:26: environments.production.hooks.pre_deploy[0]: a hook is an argv list such as [\"./scripts/migrate\", \"--check\"], never a shell string")
        #expect(message(Self.minimal.replacingOccurrences(of: "http://127.0.0.1:3000/health", with: "127.0.0.1:3000"))
                == "opsctl.yml:6:12: environments.production.health.url: \"127.0.0.1:3000\" is not an http(s) URL")
    }

    @Test func missingRequiredKeys() {
        #expect(message("image: x\nenvironments: {p: {}}\n") == "opsctl.yml:1:1: app: required key is missing")
        #expect(message("app: x\nimage: y\n") == "opsctl.yml:1:1: environments: required key is missing")
        #expect(message("app: x\nimage: y\nenvironments:\n  p:\n    backup: {level: 3}\n") == "opsctl.yml:5:13: environments.p.backup.dir: required key is missing")
    }

    @Test func yamlSyntaxErrorsHavePositions() throws {
        let text = try #require(message("app: x\nimage: [unclosed\nenvironments: {}\n"))
        #expect(text.hasPrefix("opsctl.yml:"))
        #expect(text.contains("YAML syntax error"))
        #expect(message("") == "opsctl.yml:1:1: the file is empty")
    }

    @Test func environmentVariablesExpand() throws {
        let yaml = Self.minimal.replacingOccurrences(of: "http://127.0.0.1:3000/health", with: "http://${HEALTH_HOST:-127.0.0.1}:${PORT}/health")
            + "    run: {env: {PRICE: \"$$5\"}}\n"
        let config = try parse(yaml, environment: ["PORT": "4000"])
        let production = try config.environment(named: "production")
        #expect(production.health?.url == "http://127.0.0.1:4000/health")
        #expect(production.run.env.first?.value == "$5")
    }

    @Test func aMissingVariableIsAnErrorAtItsPosition() {
        let yaml = Self.minimal.replacingOccurrences(of: "http://127.0.0.1:3000/health", with: "http://127.0.0.1:${PORT}/health")
        #expect(message(yaml) == "opsctl.yml:6:12: environments.production.health.url: environment variable PORT is not set")
        #expect(message(Self.minimal + "    run: {env: {A: \"${1BAD}\"}}\n")?.hasSuffix("\"${1BAD}\" is not a valid variable reference (use ${NAME} or ${NAME:-default})") == true)
    }

    @Test func secretFilesAreReadAndNeverShown() throws {
        let secretPath = try directory.write("jwt.secret", "s3cr3t-value-from-file\n", mode: 0o600)
        let yaml = Self.minimal + """
                run:
                  env:
                    JWT_SECRET_FILE: \(secretPath)
                    DB_PASSWORD: hunter2-hunter2
                    DATABASE_URL: postgres://app:pa55word@db/app
                    NODE_ENV: production
                handoff:
                  webhook: https://hooks.example.invalid/services/T000/B000/XXXXXXXX

            """
        let config = try parse(yaml)
        let env = try config.environment(named: "production").run.env
        #expect(env.map(\.name) == ["JWT_SECRET", "DB_PASSWORD", "DATABASE_URL", "NODE_ENV"])
        #expect(env[0].resolvedValue == "s3cr3t-value-from-file")
        #expect(env[0].fromFile == secretPath)
        #expect(env[1].resolvedValue == "hunter2-hunter2")
        #expect(env[3].resolvedValue == "production")

        let report = try ConfigCheckReport(config: config, only: nil)
        for output in [ReportEncoder.json(report: report), report.renderText()] {
            for secret in ["s3cr3t-value-from-file", "hunter2-hunter2", "pa55word", "XXXXXXXX"] {
                #expect(!output.contains(secret), "\(secret) leaked")
            }
            #expect(output.contains("<redacted>"))
            #expect(output.contains("production"))
        }
        #expect(config.redactor.scrub("token=s3cr3t-value-from-file") == "token=<redacted>")
    }

    @Test func anUnreadableSecretFileIsAConfigError() throws {
        let yaml = Self.minimal + "    run:\n      env:\n        JWT_SECRET_FILE: /nonexistent/jwt\n"
        #expect(message(yaml) == "opsctl.yml:10:26: environments.production.run.env.JWT_SECRET_FILE: cannot read secret file /nonexistent/jwt: No such file or directory")
    }

    @Test func unknownEnvironmentIsAUsageErrorWithSuggestion() throws {
        let config = try parse(Self.minimal)
        let error = opsError { () throws(OpsError) in _ = try config.environment(named: "prodution") }
        #expect(error?.message == "unknown environment \"prodution\"; did you mean \"production\"?")
        #expect(error?.exitCode == 64)
    }

    @Test func loadNamesAMissingFile() {
        let error = opsError { () throws(OpsError) in _ = try ConfigLoader.load(path: directory.file("nope.yml"), environment: [:]) }
        #expect(error?.exitCode == 78)
        #expect(error?.message == "\(directory.file("nope.yml")): cannot read config: No such file or directory")
    }

    @Test func configPathPrecedence() {
        #expect(ConfigLoader.resolvePath(explicit: "a.yml", environment: ["OPSCTL_CONFIG": "b.yml"]) == "a.yml")
        #expect(ConfigLoader.resolvePath(explicit: nil, environment: ["OPSCTL_CONFIG": "b.yml"]) == "b.yml")
        #expect(ConfigLoader.resolvePath(explicit: nil, environment: [:]) == "opsctl.yml")
    }
}

struct RedactorTests {
    @Test func urlCredentials() {
        #expect(Redactor.redactURLCredentials("postgres://app:pa55@db:5432/x") == "postgres://app:<redacted>@db:5432/x")
        #expect(Redactor.redactURLCredentials("see https://tok@host/a and http://u:p@h/") == "see https://<redacted>@host/a and http://u:<redacted>@h/")
        #expect(Redactor.redactURLCredentials("http://host/path?a=b@c") == "http://host/path?a=b@c")
        #expect(Redactor.redactURLCredentials("no urls here") == "no urls here")
    }

    @Test func secretNames() {
        for name in ["JWT_SECRET", "DB_PASSWORD", "GITHUB_TOKEN", "API_KEY", "password"] { #expect(Redactor.isSecretName(name)) }
        for name in ["NODE_ENV", "PORT", "TOKENIZER_MODE"] { #expect(!Redactor.isSecretName(name)) }
    }
}
