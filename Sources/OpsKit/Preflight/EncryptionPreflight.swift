// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `encryption.identity`: with `backup.encryption`, where the identity is. The point of age
/// recipients is that the host writing backups need not hold the key that reads them: an
/// identity file on this host is a warning, one that group or others can read is a failure, and
/// one that matches none of the recipients would fail every restore.
extension PreflightService {
    func encryptionChecks() -> [PreflightCheck] {
        guard let encryption = environment.backup?.encryption else { return [] }
        let count = "\(encryption.recipients.count) recipient(s)"
        if encryption.identityCommand != nil {
            return [PreflightCheck(id: .encryptionIdentity, status: .pass,
                                   summary: "backups encrypted to \(count); the identity comes from identity_command, run only by verify and restore")]
        }
        guard let path = encryption.identityFile else {
            return [PreflightCheck(id: .encryptionIdentity, status: .pass,
                                   summary: "backups encrypted to \(count); no identity here: this host can write backups but not read them")]
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            return [PreflightCheck(id: .encryptionIdentity, status: .pass,
                                   summary: "backups encrypted to \(count); identity_file \(path) is not on this host (verify here checks the ciphertext only)")]
        }
        return [identityFileCheck(path, mode: info.st_mode & 0o777, recipients: encryption.recipients)]
    }

    func identityFileCheck(_ path: String, mode: mode_t, recipients: [AgeRecipient]) -> PreflightCheck {
        if mode & 0o077 != 0 {
            return PreflightCheck(id: .encryptionIdentity, status: .fail,
                                  summary: "\(path) is mode \(String(mode, radix: 8)): group or others can read the backup identity (it decrypts every backup)",
                                  fix: "chmod 600 \(path), and better: keep it off this host")
        }
        // Read to be checked, never printed: only its public keys are compared.
        let identities: [AgeIdentity]
        do { identities = try BackupKeys.load(file: path).identities } catch {
            return PreflightCheck(id: .encryptionIdentity, status: .fail, summary: error.message, fix: "write the age-keygen secret key into \(path)")
        }
        guard identities.contains(where: { recipients.contains($0.recipient) }) else {
            return PreflightCheck(id: .encryptionIdentity, status: .fail,
                                  summary: "the identity in \(path) matches none of backup.encryption.recipients: restores would fail",
                                  fix: "age-keygen -y \(path) prints its public key: add it to recipients, or use the identity that goes with them")
        }
        return PreflightCheck(id: .encryptionIdentity, status: .warn,
                              summary: "identity_file \(path) is on this host with the recipients: whoever takes this host reads every old backup",
                              fix: "keep the identity where restores happen (a vault, another host) and use identity_command or --identity there")
    }
}
