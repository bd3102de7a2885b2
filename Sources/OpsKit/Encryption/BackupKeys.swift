// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What `verify` and `restore` decrypt encrypted backups with: the identities, or why there are
/// none here (no identity configured, its file not on this host). Without identities, verify does
/// the checks that need no key and says the deep check was skipped; restore refuses (exit 7).
public struct BackupKeys: Sendable {
    public var identities: [AgeIdentity]
    /// Set when `identities` is empty: the reason, for messages.
    public var unavailable: String?

    public init(identities: [AgeIdentity]) {
        self.identities = identities
        unavailable = identities.isEmpty ? "no identity was given" : nil
    }

    public static func none(_ reason: String) -> BackupKeys {
        var keys = BackupKeys(identities: [])
        keys.unavailable = reason
        return keys
    }

    public var hasIdentity: Bool { !identities.isEmpty }

    /// The error for "this backup is encrypted and there is nothing to decrypt it with".
    func missing(for file: String) -> OpsError {
        OpsError(.identityMismatch, code: "encryption.no_identity",
                 "\(file) is encrypted (age) and there is no identity to decrypt it: \(unavailable ?? "none given")",
                 details: ["set backup.encryption.identity_file or identity_command, or pass --identity FILE (the age-keygen secret key)"])
    }

    /// An identity file's text as identities; errors name `source` and the line, never its content.
    static func parse(_ text: String, source: String) throws(OpsError) -> [AgeIdentity] {
        do throws(AgeError) { return try AgeIdentity.parseFile(text) } catch {
            throw OpsError(.identityMismatch, code: "encryption.identity_malformed", "\(source): \(error.description)",
                           details: ["an identity file holds AGE-SECRET-KEY-1… lines (as age-keygen writes them); # lines are comments"])
        }
    }

    /// Reads an identity file given on the command line (`--identity FILE`).
    public static func load(file path: String) throws(OpsError) -> BackupKeys {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read it (\(String(cString: strerror(EACCES))))" : "no such file"
            throw OpsError(.identityMismatch, code: "encryption.identity_unreadable", "identity file \(path): \(reason)")
        }
        return BackupKeys(identities: try parse(text, source: "identity file \(path)"))
    }
}

extension OpsConfig {
    /// The identities of `environment`'s `backup.encryption`, fetched now: `identity_file` read
    /// (absent on this host: no keys, and the reason), or `identity_command` run like every
    /// `NAME_COMMAND` secret (timeout, config directory, its stderr scrubbed). Only the commands
    /// that decrypt (verify, restore) call this; backups need only the recipients.
    public func backupKeys(of environment: EnvironmentConfig, runner: any ProcessRunning,
                           explicitFile: String? = nil) async throws(OpsError) -> BackupKeys {
        if let explicitFile { return try BackupKeys.load(file: explicitFile) }
        guard let encryption = environment.backup?.encryption else {
            return .none("backup.encryption is not configured for \(environment.name)")
        }
        if let path = encryption.identityFile {
            guard FileManager.default.fileExists(atPath: path) else {
                return .none("identity_file \(path) is not on this host")
            }
            return try BackupKeys.load(file: path)
        }
        if let argv = encryption.identityCommand {
            let setting = encryption.identitySetting(env: environment.name) ?? "identity_command"
            let text = try await secretResolver(for: environment, runner: runner).fetch(argv, for: setting)
            return BackupKeys(identities: try BackupKeys.parse(text, source: setting))
        }
        return .none("no identity_file or identity_command in backup.encryption")
    }
}
