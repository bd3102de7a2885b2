// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

extension OpsConfig {
    /// `backup.replica` of an environment, or the config error that names what is missing.
    public func replicaSettings(of environment: EnvironmentConfig) throws(OpsError) -> ReplicaSettings {
        guard let replica = environment.backup?.replica else {
            throw OpsError(.config, code: "config.missing", "\(sourcePath): environments.\(environment.name).backup.replica is not set (continuous replication is off)",
                           details: ["add backup: {replica: {}} for the defaults (sync every 1s, a snapshot every 24h, 72h of history)"])
        }
        return replica
    }
}

/// Is replication keeping up? Read from the heartbeat file and the lock, never from the process
/// itself: status, handoff, preflight and the metrics all ask this.
public struct ReplicaHealth: Sendable, Codable, Equatable {
    public var directory: String
    /// A process holds the replicate lock now.
    public var running: Bool
    public var lastSync: Date?
    public var lagSeconds: Double?
    /// The handoff's limit: 10 × sync_interval.
    public var maxLagSeconds: Double
    public var window: RestoreWindow?
    public var offsitePending: Int?
    public var offsiteLatest: Date?
    public var lastError: String?

    /// Lag over the limit, or replicate not running.
    public var problem: String? {
        if !running { return "opsctl replicate is not running (nothing is replicated since \(lastSync.map(PointInTime.format) ?? "ever"))" }
        if let lagSeconds, lagSeconds > maxLagSeconds {
            return "replication lags \(Int(lagSeconds.rounded())) s behind (limit \(Int(maxLagSeconds)) s, 10 × sync_interval)"
        }
        return nil
    }

    public static func read(_ settings: ReplicaSettings, now: Date, withWindow: Bool = true) -> ReplicaHealth {
        let store = ReplicaStore(directory: settings.dir, encryption: nil)
        let status = ReplicaStatus.read(store.statusPath)
        let catalog = withWindow ? try? store.catalog() : nil
        return ReplicaHealth(directory: settings.dir, running: FileLock.isHeld(path: store.lockPath), lastSync: status?.lastSync,
                             lagSeconds: status.map { max(0, now.timeIntervalSince($0.lastSync)) }, maxLagSeconds: settings.syncInterval.seconds * 10,
                             window: catalog?.window.map { Self.extend($0, to: status, newestGeneration: catalog?.generations.last?.name) }, offsitePending: status?.offsitePending, offsiteLatest: status?.offsiteLatest,
                             lastError: status?.lastError)
    }

    /// The replicator found nothing new up to its last round: the window reaches it (for the
    /// generation it was writing, which must be the newest on disk).
    static func extend(_ window: RestoreWindow, to status: ReplicaStatus?, newestGeneration: String?) -> RestoreWindow {
        guard let status, status.generation == newestGeneration, status.lastSync > window.latest else { return window }
        return RestoreWindow(earliest: window.earliest, latest: status.lastSync)
    }

    public var summary: String {
        var parts = [running ? "replicating" : "NOT running"]
        if let lagSeconds { parts.append("lag \(String(format: "%.1f", lagSeconds)) s") }
        if let window { parts.append("restorable \(window.description)") }
        if let offsitePending, offsitePending > 0 { parts.append("\(offsitePending) file(s) waiting to go off-site") }
        return parts.joined(separator: ", ")
    }
}

/// `opsctl backups ENV --replica [--remote]`: the generations and the restorable window.
public struct ReplicaListReport: Report {
    public struct Generation: Sendable, Codable {
        public var name: String
        public var start: Date?
        public var end: Date?
        public var points: Int
        public var bytes: Int64
        public var encrypted: Bool
        /// The first missing point: the ones after it cannot be restored.
        public var gapAt: UInt64?
    }

    public var env: String
    public var location: String
    public var remote: Bool
    public var generations: [Generation]
    public var window: RestoreWindow?
    public var bytes: Int64
    /// Local only: is `opsctl replicate` keeping up.
    public var health: ReplicaHealth?

    public static func load(env: String, settings: ReplicaSettings, source: ReplicaSource, now: Date) throws(OpsError) -> ReplicaListReport {
        let catalog = try source.catalog()
        var health: ReplicaHealth?
        var window = catalog.window
        if case .local = source {
            health = ReplicaHealth.read(settings, now: now, withWindow: false)
            if let known = window {
                window = ReplicaHealth.extend(known, to: ReplicaStatus.read(ReplicaStore(directory: settings.dir, encryption: nil).statusPath),
                                              newestGeneration: catalog.generations.last?.name)
            }
            health?.window = window
        }
        let generations = catalog.generations.map {
            Generation(name: $0.name, start: $0.start, end: $0.end, points: $0.points.count, bytes: $0.bytes,
                       encrypted: $0.points.contains(where: \.encrypted), gapAt: $0.gapAt)
        }
        var isRemote = false
        if case .remote = source { isRemote = true }
        return ReplicaListReport(env: env, location: source.label, remote: isRemote, generations: generations, window: window,
                                 bytes: generations.reduce(0) { $0 + $1.bytes }, health: health)
    }

    public func renderText() -> String {
        var lines = ["replica of \(env) in \(location): \(generations.count) generation(s), \(ByteCount.format(bytes))"]
        lines.append(window.map { "  restorable \($0.description)" } ?? "  nothing restorable yet (run opsctl replicate)")
        if let health { lines.append("  \(health.summary)") }
        for generation in generations {
            let span = [generation.start, generation.end].map { $0.map(PointInTime.format) ?? "?" }.joined(separator: " to ")
            var line = "  \(generation.name)  \(span)  \(generation.points) point(s)  \(ByteCount.format(generation.bytes))"
            if generation.encrypted { line += "  (age)" }
            if let gap = generation.gapAt { line += "  GAP at point \(gap): later points unusable" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

/// `opsctl verify ENV --replica [--remote]`: the latest point rebuilt into a temp file and
/// integrity-checked, and every generation's chain checked for holes.
public struct ReplicaVerifyReport: Report {
    public var env: String
    public var location: String
    public var ok: Bool
    public var point: ReplicaRestore.Result?
    public var integrity: String
    public var gaps: [String]
    public var durationMs: Int

    public var exitCode: Int32 { ok ? 0 : OpsError.Kind.checkFailed.exitCode }

    public static func run(env: String, source: ReplicaSource, scratchDirectory: String, keys: BackupKeys) throws(OpsError) -> ReplicaVerifyReport {
        let started = ContinuousClock.now
        let catalog = try source.catalog()
        let chain = try ReplicaRestore.chain(for: .latest, in: catalog, source: source.label)
        try FileManager.default.createDirectoryIfNeeded(scratchDirectory)
        let temporary = "\(scratchDirectory)/\(BackupNaming.temporaryPrefix)replica-verify-\(getpid()).db"
        defer { for suffix in ["", "-wal", "-shm", "-journal"] { unlink(temporary + suffix) } }
        let point = try ReplicaRestore.materialize(chain, from: source, into: temporary, keys: keys)
        let problems = (try? SQLiteDatabase(path: temporary, mode: .readOnly).query("PRAGMA integrity_check").compactMap { $0.string(0) }) ?? ["cannot open"]
        let gaps = catalog.generations.compactMap { generation in generation.gapAt.map { "\(generation.name): point \($0) is missing" } }
        let integrity = problems == ["ok"] ? "ok" : problems.prefix(3).joined(separator: "; ")
        return ReplicaVerifyReport(env: env, location: source.label, ok: integrity == "ok" && gaps.isEmpty, point: point, integrity: integrity,
                                   gaps: gaps, durationMs: (ContinuousClock.now - started).milliseconds)
    }

    public func renderText() -> String {
        var lines = ["\(ok ? "ok" : "FAILED")  replica of \(env) in \(location)"]
        if let point { lines.append("  latest point \(PointInTime.format(point.point)) rebuilt: snapshot + \(point.segments) segment(s), \(point.pageCount) pages") }
        lines.append("  integrity_check: \(integrity)")
        lines += gaps.map { "  gap: \($0)" }
        lines.append("  took \(durationMs) ms")
        return lines.joined(separator: "\n")
    }
}
