// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `backup.replica`: continuous replication of the database, for point-in-time restores.
public struct ReplicaSettings: Sendable, Encodable {
    /// Default `<backup.dir>/replica`.
    public var dir: String
    /// How often `opsctl replicate` copies what changed: at most this much is lost with the host.
    public var syncInterval: OpsDuration = .seconds(1)
    /// A new full snapshot (the base of a new generation) this often.
    public var snapshotInterval: OpsDuration = .hours(24)
    /// How far back `restore --at` can go; older generations are deleted.
    public var retention: OpsDuration = .hours(72)
    /// Ship the replica to `backup.offsite` too (default: whenever `backup.offsite` is set).
    public var offsite: Bool

    public init(dir: String, offsite: Bool) {
        self.dir = dir
        self.offsite = offsite
    }

    static let syncIntervalRange = OpsDuration(milliseconds: 50)...OpsDuration.hours(1)
}

extension ConfigSchema {
    static let replicaKeys = ["dir", "sync_interval", "snapshot_interval", "retention", "offsite"]

    func replicaSettings(_ map: MappingReader, backup: BackupSettings) throws(OpsError) -> ReplicaSettings {
        let dir = try map.string("dir").flatMap { $0.isEmpty ? nil : resolvePath($0) } ?? "\(backup.dir)/replica"
        let wantsOffsite = try map.bool("offsite")
        if wantsOffsite == true, backup.offsite == nil {
            throw reader.error(at: map.value("offsite"), path: map.keyPath("offsite"), "needs backup.offsite: the replica is shipped where the backups go")
        }
        var settings = ReplicaSettings(dir: dir, offsite: wantsOffsite ?? (backup.offsite != nil))
        if let interval = try map.duration("sync_interval") {
            guard ReplicaSettings.syncIntervalRange.contains(interval) else {
                throw reader.error(at: map.value("sync_interval"), path: map.keyPath("sync_interval"), "must be between 50ms and 1h")
            }
            settings.syncInterval = interval
        }
        settings.snapshotInterval = try map.duration("snapshot_interval") ?? settings.snapshotInterval
        settings.retention = try map.duration("retention") ?? settings.retention
        guard settings.snapshotInterval >= settings.syncInterval, settings.snapshotInterval.milliseconds > 0 else {
            throw reader.error(at: map.value("snapshot_interval"), path: map.keyPath("snapshot_interval"), "must be at least sync_interval")
        }
        guard settings.retention >= settings.syncInterval else {
            throw reader.error(at: map.value("retention"), path: map.keyPath("retention"), "must be at least sync_interval")
        }
        guard dir != backup.dir else {
            throw reader.error(at: map.value("dir"), path: map.keyPath("dir"), "must not be backup.dir itself (use a subdirectory such as \(backup.dir)/replica)")
        }
        return settings
    }
}
