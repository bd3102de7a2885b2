// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Fetches the secrets that come from commands (`NAME_COMMAND`, `key_command`) for one
/// environment. Each distinct argv runs once per opsctl run, without a shell, with a timeout,
/// in the config file's directory and with opsctl's own environment (VAULT_ADDR, AWS_PROFILE,
/// GNUPGHOME, ...). Its stdout, one trailing newline stripped, is the value.
///
/// A failure names the setting, the command and the end of its stderr, never the value.
public struct SecretResolver: Sendable {
    public var runner: any ProcessRunning
    public var timeout: OpsDuration
    public var workingDirectory: String

    public init(runner: any ProcessRunning, timeout: OpsDuration, workingDirectory: String) {
        self.runner = runner
        self.timeout = timeout
        self.workingDirectory = workingDirectory
    }

    /// Every command secret of `environment`, fetched; the first failure throws (nothing has
    /// been changed yet, and the remaining commands are not run: a hanging secret manager
    /// would make each of them wait for the whole timeout).
    public func resolve(_ environment: EnvironmentConfig, matching wanted: (String) -> Bool = { _ in true }) async throws(OpsError) -> EnvironmentConfig {
        let (resolved, failures) = await resolveAll(environment, stopAtFirstFailure: true, matching: wanted)
        if let first = failures.first { throw first }
        return resolved
    }

    /// As `resolve`, but a failed command leaves its secrets unresolved and comes back as an
    /// error, for a caller that can go on without them (the handoff always renders).
    /// `wanted` picks settings by name (e.g. only `backup.offsite` keys for a command that needs no other).
    public func resolveAll(_ environment: EnvironmentConfig, stopAtFirstFailure: Bool = false,
                           matching wanted: (String) -> Bool = { _ in true }) async -> (EnvironmentConfig, [OpsError]) {
        var values: [[String]: String] = [:]
        var failed: Set<[String]> = []
        var failures: [OpsError] = []
        for (setting, secret) in environment.secretSettings where wanted(setting) {
            guard let argv = secret.command, !secret.isResolved, values[argv] == nil, !failed.contains(argv) else { continue }
            do {
                values[argv] = try await fetch(argv, for: setting)
            } catch {
                failures.append(error)
                failed.insert(argv)
                if stopAtFirstFailure { break }
            }
        }
        let resolved = environment.mappingSecrets { secret, _ in
            guard let argv = secret.command, let value = values[argv] else { return secret }
            return secret.resolved(value)
        }
        return (resolved, failures)
    }

    /// Runs one secret command and returns what it printed.
    public func fetch(_ argv: [String], for setting: String) async throws(OpsError) -> String {
        guard let program = argv.first, !program.isEmpty else {
            throw OpsError(.config, code: "secret.command_empty_argv", "\(setting): the secret command has no program")
        }
        let request = ProcessRequest(program, Array(argv.dropFirst()), workingDirectory: workingDirectory, timeout: timeout.swiftDuration)
        let shown = "`\(request.displayCommand)`"
        let result: ProcessResult
        do {
            result = try await runner.run(request)
        } catch {
            throw OpsError(.unavailable, code: "secret.command_unavailable", "\(setting): the secret command could not run: \(error.message)",
                           details: ["is \(program) installed and on PATH?"])
        }
        var value = result.standardOutput
        // "\r\n" is one Character in Swift, so this drops exactly one line ending of either kind.
        if value.hasSuffix("\n") || value.hasSuffix("\r\n") { value.removeLast() }
        let tail = Self.stderrTail(result, hiding: value)
        switch result.termination {
        case .timedOut:
            throw OpsError(.unavailable, code: "secret.command_timeout",
                           "\(setting): the secret command \(shown) did not finish within \(timeout) and was killed", details: tail)
        case .signaled(let signal):
            throw OpsError(.unavailable, code: "secret.command_failed", "\(setting): the secret command \(shown) was killed by signal \(signal)", details: tail)
        case .exited(let status) where status != 0:
            throw OpsError(.unavailable, code: "secret.command_failed", "\(setting): the secret command \(shown) exited with status \(status)", details: tail)
        case .exited:
            break
        }
        guard !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw OpsError(.config, code: "secret.command_empty", "\(setting): the secret command \(shown) printed nothing",
                           details: tail + ["it exited 0 without a value: check the secret's path, field or query"])
        }
        return value
    }

    /// The last stderr lines, with anything the command printed on stdout cut out: a CLI that
    /// failed halfway may still have printed (part of) the secret.
    static func stderrTail(_ result: ProcessResult, hiding stdout: String) -> [String] {
        let redactor = Redactor(secretValues: stdout.split(whereSeparator: \.isNewline).map(String.init) + [stdout])
        return result.standardErrorTail.split(separator: "\n").suffix(5).map { "stderr: " + redactor.scrub(String($0)) }
    }
}

/// Which of an environment's secrets a command fetches, by the setting paths `mappingSecrets` names.
public enum SecretScope {
    public static let offsiteSection = "backup.offsite"

    /// The off-site key alone: a nightly backup talks to S3 and must not run the app's other secret commands.
    public static func offsiteKey(_ path: String) -> Bool { path.contains(".\(offsiteSection).") }
}

extension EnvironmentConfig {
    /// Every secret-bearing setting, named as written in opsctl.yml: the one list to extend
    /// when a new key holds a secret.
    public func mappingSecrets(_ transform: (Secret, String) -> Secret) -> EnvironmentConfig {
        var copy = self
        let prefix = "environments.\(name)"
        for index in copy.run.env.indices {
            guard let secret = copy.run.env[index].secret else { continue }
            copy.run.env[index].secret = transform(secret, "\(prefix).run.env.\(Self.keyName(copy.run.env[index].name, secret))")
        }
        if var build = copy.build {
            for index in build.args.indices {
                guard let secret = build.args[index].secret else { continue }
                build.args[index].secret = transform(secret, "\(prefix).build.args.\(Self.keyName(build.args[index].name, secret))")
            }
            copy.build = build
        }
        if var smoke = copy.smoke {
            for check in smoke.checks.indices {
                let path = "\(prefix).smoke.checks[\(check)]"
                smoke.checks[check].headers = Self.mapping(smoke.checks[check].headers, "\(path).headers", transform)
                smoke.checks[check].expect.headers = Self.mapping(smoke.checks[check].expect.headers, "\(path).expect.headers", transform)
            }
            copy.smoke = smoke
        }
        if let webhook = copy.handoff.webhook {
            copy.handoff.webhook = transform(webhook, "\(prefix).handoff.\(Self.keyName("webhook", webhook, lowercase: true))")
        }
        if let key = copy.backup?.offsite?.secretAccessKey {
            copy.backup?.offsite?.secretAccessKey = transform(key, "\(prefix).\(SecretScope.offsiteSection).\(Self.keyName("secret_access_key", key, lowercase: true))")
        }
        return copy
    }

    /// (setting, secret) for every secret of the environment.
    public var secretSettings: [(setting: String, secret: Secret)] {
        var settings: [(String, Secret)] = []
        _ = mappingSecrets { secret, setting in
            settings.append((setting, secret))
            return secret
        }
        return settings
    }

    static func mapping(_ headers: [HeaderValue], _ path: String, _ transform: (Secret, String) -> Secret) -> [HeaderValue] {
        headers.map { header in
            guard let secret = header.secret else { return header }
            var copy = header
            copy.secret = transform(secret, "\(path).\(keyName(header.name, secret))")
            return copy
        }
    }

    /// The key as the user wrote it: `JWT_SECRET_COMMAND`, `webhook_file`.
    static func keyName(_ name: String, _ secret: Secret, lowercase: Bool = false) -> String {
        switch secret.source {
        case .inline: name
        case .file: name + (lowercase ? "_file" : "_FILE")
        case .command: name + (lowercase ? "_command" : "_COMMAND")
        }
    }
}

extension OpsConfig {
    /// The config with the command secrets of environment `name` fetched (strictly: the first
    /// failure throws), and that environment. Other environments' commands never run.
    public func resolvingSecrets(of name: String, runner: any ProcessRunning,
                                 matching wanted: (String) -> Bool = { _ in true }) async throws(OpsError) -> (OpsConfig, EnvironmentConfig) {
        let environment = try self.environment(named: name)
        let resolved = try await secretResolver(for: environment, runner: runner).resolve(environment, matching: wanted)
        return (replacing(resolved), resolved)
    }

    /// As `resolvingSecrets`, but failed commands come back as errors and leave their secrets unresolved.
    public func resolvingSecretsLeniently(of name: String, runner: any ProcessRunning,
                                          matching wanted: (String) -> Bool = { _ in true }) async throws(OpsError) -> (OpsConfig, EnvironmentConfig, [OpsError]) {
        let environment = try self.environment(named: name)
        let (resolved, failures) = await secretResolver(for: environment, runner: runner).resolveAll(environment, matching: wanted)
        return (replacing(resolved), resolved, failures)
    }

    func secretResolver(for environment: EnvironmentConfig, runner: any ProcessRunning) -> SecretResolver {
        SecretResolver(runner: runner, timeout: environment.secrets.timeout,
                       workingDirectory: URL(fileURLWithPath: sourcePath).deletingLastPathComponent().path)
    }

    func replacing(_ environment: EnvironmentConfig) -> OpsConfig {
        var copy = self
        if let index = copy.environments.firstIndex(where: { $0.name == environment.name }) { copy.environments[index] = environment }
        return copy
    }
}
