// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Yams

/// `backup.encryption`: the age recipients every backup is encrypted to, and where the identity
/// that decrypts them comes from. Only the recipients (public keys) are needed to write backups;
/// the identity is read lazily, by `verify` and `restore`, and is best kept off the production host.
public struct BackupEncryption: Sendable, Encodable {
    public var recipients: [AgeRecipient]
    /// `identity_file`, resolved against the config's directory; read only when a command needs it.
    public var identityFile: String?
    /// `identity_command`: an argv (no shell) whose stdout is the identity file's text.
    public var identityCommand: [String]?

    public init(recipients: [AgeRecipient], identityFile: String? = nil, identityCommand: [String]? = nil) {
        self.recipients = recipients
        self.identityFile = identityFile
        self.identityCommand = identityCommand
    }

    /// The setting an identity comes from, as written in opsctl.yml, for messages.
    public func identitySetting(env: String) -> String? {
        if identityFile != nil { return "environments.\(env).backup.encryption.identity_file" }
        if identityCommand != nil { return "environments.\(env).backup.encryption.identity_command" }
        return nil
    }
}

extension ConfigSchema {
    static let encryptionKeys = ["recipients", "identity_file", "identity_command"]

    /// Recipients are checked here (a typo would make every backup unreadable); the identity is
    /// not read here: the host that writes backups need not have it.
    func backupEncryption(_ map: MappingReader) throws(OpsError) -> BackupEncryption {
        guard let items = try map.sequence("recipients") else {
            throw reader.error(at: map.node, path: map.keyPath("recipients"), "required to enable encryption: one or more age X25519 public keys (age1…)",
                               details: ["make a key pair with `age-keygen -o backup-identity.txt`; its \"Public key\" line is the recipient"])
        }
        guard !items.isEmpty else {
            throw reader.error(at: map.value("recipients"), path: map.keyPath("recipients"), "needs at least one recipient (age1…)")
        }
        var recipients: [AgeRecipient] = []
        for item in items {
            let text = try map.scalarString(item.node, path: item.path)
            do throws(AgeError) {
                let recipient = try AgeRecipient(text)
                if !recipients.contains(recipient) { recipients.append(recipient) }
            } catch {
                // The message may name a secret key pasted by mistake, but never quotes it.
                throw reader.error(at: item.node, path: item.path, error.description)
            }
        }
        var settings = BackupEncryption(recipients: recipients)
        let file = try map.string("identity_file").flatMap { $0.isEmpty ? nil : $0 }
        let command = map.value("identity_command")
        if file != nil, command != nil {
            throw reader.error(at: command, path: map.keyPath("identity_command"), "identity_file and identity_command are alternatives: set one")
        }
        settings.identityFile = file.map(resolvePath)
        if let command { settings.identityCommand = try argv(command, path: map.keyPath("identity_command")) }
        return settings
    }
}
