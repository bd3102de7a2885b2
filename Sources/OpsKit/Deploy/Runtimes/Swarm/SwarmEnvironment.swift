// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// What a service's tasks get from `run.env_file` and `run.env`. Plain variables go into the
/// service spec; a secret (a key preflight treats as one, a secret-looking name, a NAME_FILE or
/// NAME_COMMAND entry, a URL with a password) never does, because `docker service inspect`
/// shows the spec to anyone with docker access: it becomes a Docker secret under a name derived
/// from its content, mounted at /run/secrets/NAME, and the app gets NAME_FILE pointing there.
struct SwarmEnvironment: Sendable, Equatable {
    struct Variable: Sendable, Equatable {
        var key: String
        var value: String
    }

    struct Secret: Sendable, Equatable {
        var key: String
        var value: String
        /// The Docker secret: `<service>_<KEY>_<16 hex of sha256(key, value)>`. A new value is a
        /// new secret (Docker secrets cannot change), so a rollback finds the old one intact.
        var name: String

        var reference: SwarmSecretReference { SwarmSecretReference(name: name, target: key) }
        var path: String { "/run/secrets/\(key)" }
    }

    var plain: [Variable]
    var secrets: [Secret]

    /// The spec's Env: the plain variables, then NAME_FILE for each secret.
    var specEnv: [String] { plain.map { "\($0.key)=\($0.value)" } + secrets.map { "\($0.key)_FILE=\($0.path)" } }

    /// Every variable the app would see (the env file, then run.env; the later wins, as docker
    /// does), split into plain and secret.
    static func make(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext, service: String) -> SwarmEnvironment {
        let preflight = PreflightService(config: config, environment: environment, context: context)
        let variables = preflight.environmentVariables()
        let secretKeys = Set(preflight.secretKeys(variables))
        var merged: [Variable] = []
        for variable in variables {
            if let index = merged.firstIndex(where: { $0.key == variable.key }) { merged[index].value = variable.value } else {
                merged.append(Variable(key: variable.key, value: variable.value))
            }
        }
        let isSecret = { (variable: Variable) in
            secretKeys.contains(variable.key) || Redactor.isSecretName(variable.key) || hasCredentials(variable.value)
                || environment.run.env.contains { $0.name == variable.key && $0.secret != nil }
        }
        return SwarmEnvironment(plain: merged.filter { !isSecret($0) },
                                secrets: merged.filter(isSecret).map { Secret(key: $0.key, value: $0.value, name: secretName(service: service, key: $0.key, value: $0.value)) })
    }

    /// A value the redactor would change carries a credential (`postgres://u:pw@db/x`): the
    /// same rule that makes such a run.env value a secret, applied to the env file too, whose
    /// values are never classified when the config loads.
    static func hasCredentials(_ value: String) -> Bool { Redactor.redactURLCredentials(value) != value }

    /// Docker secret names: letters, digits, `-_.`, at most 64 characters.
    static func secretName(service: String, key: String, value: String) -> String {
        let digest = SHA256.hash(data: Data("\(key)\n\(value)".utf8)).map { String(format: "%02x", $0) }.joined().prefix(16)
        var prefix = String("\(service)_\(key)".prefix(64 - 17))
        while let last = prefix.last, !(last.isLetter || last.isNumber) { prefix.removeLast() }
        return "\(prefix)_\(digest)"
    }

    /// `docker secret create` for each secret Swarm does not have yet; the value goes in on stdin,
    /// never in argv (argv shows in `ps` and in opsctl's own -v log).
    func createCommands(existing: Set<String>, labels: [String: String]) -> [DriverCommand] {
        secrets.filter { !existing.contains($0.name) }.map { secret in
            var arguments = ["secret", "create"]
            for (key, value) in labels.merging([SwarmNames.secretKeyLabel: secret.key], uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key }) {
                arguments += ["--label", "\(key)=\(value)"]
            }
            return DriverCommand(ProcessRequest("docker", arguments + [secret.name, "-"], standardInput: secret.value), failureCode: "swarm.secret_create")
        }
    }
}
