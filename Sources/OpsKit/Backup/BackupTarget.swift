// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// An environment's backup directory, backup name and database, decided in one place. Every
/// command that writes, lists, prunes, verifies or restores backups, and every command that
/// reports on them (preflight, status, handoff), asks this type, so they can never disagree
/// about which files are "the backups" when the database file, the app and the backup are
/// named differently.
public struct BackupTarget: Sendable, Equatable, Encodable {
    public var env: String
    /// `backup.dir`; nil when the environment has no backup section.
    public var directory: String?
    /// The file prefix, `<name>_YYYYMMDD_HHMMSS.db.gz`: `backup.name`, else the app. Never
    /// derived from the database file, whose name often differs from both.
    public var name: String
    /// `database.path`; nil when not configured.
    public var databasePath: String?
    /// The config file, for error messages.
    var sourcePath: String
    /// `backup.encryption` is set: new backups are `.db.gz.age`.
    var encrypted = false

    enum CodingKeys: String, CodingKey { case env, directory, name, databasePath }

    public init(_ environment: EnvironmentConfig, config: OpsConfig) {
        env = environment.name
        directory = environment.backup?.dir
        name = environment.backup?.name ?? config.app
        databasePath = environment.database?.path
        sourcePath = config.sourcePath
        encrypted = environment.backup?.encryption != nil
    }

    /// `backup.dir`, or a config error naming the missing key.
    public func requireDirectory() throws(OpsError) -> String {
        guard let directory else {
            throw OpsError(.config, code: "config.missing", "\(sourcePath): environments.\(env).backup.dir is not set")
        }
        return directory
    }

    /// `database.path`, or a config error naming the missing key.
    public func requireDatabase() throws(OpsError) -> String {
        guard let databasePath else {
            throw OpsError(.config, code: "config.missing", "\(sourcePath): environments.\(env).database.path is not set")
        }
        return databasePath
    }

    /// The backups on disk, newest first (empty when the directory does not exist yet).
    public func backups(readManifests: Bool = false) throws(OpsError) -> [BackupEntry] {
        let directory = try requireDirectory()
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        return try BackupCatalog.list(directory: directory, name: name, readManifests: readManifests)
    }

    /// `DIR/NAME_*.db.gz` (`*.db.gz*` with encryption: older plaintext ones and the `.age` ones):
    /// what an operator would `ls`.
    public var pattern: String? { directory.map { "\($0)/\(name)_*\(BackupNaming.suffix)\(encrypted ? "*" : "")" } }
}

extension OpsConfig {
    public func backupTarget(of environment: EnvironmentConfig) -> BackupTarget {
        BackupTarget(environment, config: self)
    }

    /// `backup.dir` and the file prefix of an environment (see `BackupTarget`).
    public func backupLocation(of environment: EnvironmentConfig) throws(OpsError) -> (directory: String, name: String) {
        let target = backupTarget(of: environment)
        return (try target.requireDirectory(), target.name)
    }

    public func databasePath(of environment: EnvironmentConfig) throws(OpsError) -> String {
        try backupTarget(of: environment).requireDatabase()
    }
}
