// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl replicate ENV`: rounds every `sync_interval` until SIGTERM/SIGINT (or one with
/// `--once`), one process per replica (a lock in the replica directory), the off-site copy on a
/// thread of its own, retention, the heartbeat file and the metrics.
public enum ReplicateService {
    public struct Request: Sendable {
        public var env: String
        public var databasePath: String
        public var settings: ReplicaSettings
        public var encryption: BackupEncryption?
        /// `backup.offsite` with its key resolved, when the replica ships off-site.
        public var offsite: OffsiteSettings?
        public var metricsDirectory: String?
        public var once = false
        /// One JSON line per round (for scripts/bench/replica.sh).
        public var traceFile: String?

        public init(env: String, databasePath: String, settings: ReplicaSettings) {
            self.env = env
            self.databasePath = databasePath
            self.settings = settings
        }
    }

    public static func run(_ request: Request, context: OpsContext, interruption: Interruption) async throws(OpsError) -> ReplicateReport {
        let store = ReplicaStore(directory: request.settings.dir, encryption: request.encryption)
        try store.createDirectory(store.directory)
        let lock: FileLock
        do {
            lock = try FileLock.acquire(path: store.lockPath, what: "replication of \(request.env) into \(store.directory)",
                                        command: "opsctl replicate \(request.env)", now: context.now)
        } catch where error.kind == .lockHeld {
            throw OpsError(.lockHeld, code: error.code, error.message, details: ["one replicate per replica: stop that one first (systemctl stop opsctl-replicate@\(request.env))"])
        }
        defer { lock.release() }
        var report = ReplicateReport(env: request.env, database: request.databasePath, directory: store.directory)
        report.removedTemporaryFiles = store.removeTemporaryFiles(databasePath: request.databasePath)
        let replicator = try Replicator(databasePath: request.databasePath, settings: request.settings, store: store, now: context.now)
        let shipper = request.offsite.map {
            ReplicaShipper(remote: ReplicaRemote(settings: $0, logger: context.logger), store: store, retention: request.settings.retention,
                           logger: context.logger, now: context.now)
        }
        var loop = Loop(request: request, store: store, replicator: replicator, shipper: shipper, context: context)
        if request.once {
            try loop.runOnce(&report)
        } else {
            let offsite = request.offsite.map { ", off-site to \(ReplicaRemote.url(of: $0))" } ?? ""
            context.logger.notice("replicating \(request.databasePath) into \(store.directory) every \(request.settings.syncInterval)\(offsite)")
            shipper?.start()
            defer { shipper?.stop() }
            try await loop.runUntilStopped(&report, interruption: interruption)
        }
        report.finish(catalog: try store.catalog(), shipper: shipper?.snapshot)
        loop.writeMetrics(report: report, force: true)
        return report
    }

    /// The rounds and what goes with them.
    struct Loop {
        let request: Request
        let store: ReplicaStore
        let replicator: Replicator
        let shipper: ReplicaShipper?
        let context: OpsContext
        var lastPrune = Date.distantPast
        var lastMetrics = Date.distantPast

        init(request: Request, store: ReplicaStore, replicator: Replicator, shipper: ReplicaShipper?, context: OpsContext) {
            self.request = request
            self.store = store
            self.replicator = replicator
            self.shipper = shipper
            self.context = context
        }

        /// `--once`: a round, then the off-site copy of everything pending, in this thread.
        mutating func runOnce(_ report: inout ReplicateReport) throws(OpsError) {
            try record(try replicator.round(), into: &report)
            if let shipper {
                do { try shipper.shipPending() } catch {
                    report.offsiteError = error.message
                    context.logger.warning("off-site replica: \(error.message); the local replica is complete")
                }
            }
            pruneIfDue()
        }

        mutating func runUntilStopped(_ report: inout ReplicateReport, interruption: Interruption) async throws(OpsError) {
            let interval = request.settings.syncInterval.seconds
            while interruption.signal == nil {
                let started = ContinuousClock.now
                do {
                    try record(try replicator.round(), into: &report)
                } catch where error.kind == .databaseBusy {
                    report.busyRounds += 1
                    context.logger.warning("\(error.message); trying again next round")
                }
                pruneIfDue()
                writeMetrics(report: report, force: false)
                await Self.sleep(until: started + .milliseconds(Int64(interval * 1000)), unless: interruption)
            }
            context.logger.notice("\(interruption.reason ?? "stopped"): replication of \(request.env) stopped after \(report.rounds) round(s)")
        }

        mutating func record(_ round: Replicator.Round, into report: inout ReplicateReport) throws(OpsError) {
            report.rounds += 1
            report.fullScans += round.fullScan && round.outcome != .snapshot ? 1 : 0
            if let point = round.point {
                report.points += 1
                report.bytesWritten += point.bytes
                shipper?.nudge()
                context.logger.debug("\(round.outcome.rawValue) \(point.key): \(round.pages) page(s), \(point.bytes) bytes\(round.fullScan ? ", every page compared" : "")")
            }
            if round.outcome == .snapshot, let point = round.point {
                context.logger.notice("new generation \(point.generation): full snapshot of \(round.pages) pages")
            }
            let durable = context.now()
            heartbeat(round, at: durable)
            trace(round, durable: durable)
        }

        func heartbeat(_ round: Replicator.Round, at time: Date) {
            guard let position = replicator.position else { return }
            let offsite = shipper?.snapshot
            ReplicaStatus(pid: getpid(), host: ProcessInfo.processInfo.hostName, database: request.databasePath, generation: position.generation,
                          seq: position.seq, lastSync: round.cut, lastError: offsite?.lastError, offsiteLatest: offsite?.latest,
                          offsitePending: offsite?.pending).write(to: store.statusPath)
        }

        func trace(_ round: Replicator.Round, durable: Date) {
            guard let path = request.traceFile else { return }
            let line = "{\"cut\":\(round.cut.timeIntervalSince1970),\"durable\":\(durable.timeIntervalSince1970),\"outcome\":\"\(round.outcome.rawValue)\","
                + "\"pages\":\(round.pages),\"bytes\":\(round.point?.bytes ?? 0),\"full_scan\":\(round.fullScan)}\n"
            guard let handle = FileHandle(forWritingAtPath: path) ?? (FileManager.default.createFile(atPath: path, contents: nil) ? FileHandle(forWritingAtPath: path) : nil) else { return }
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
            try? handle.close()
        }

        /// Retention, once a minute: whole generations older than `retention`, never the current one.
        mutating func pruneIfDue() {
            let now = context.now()
            guard now.timeIntervalSince(lastPrune) >= 60 else { return }
            lastPrune = now
            guard let catalog = try? store.catalog() else { return }
            for generation in catalog.expired(before: now.addingTimeInterval(-request.settings.retention.seconds)) {
                store.delete(generation)
                context.logger.notice("deleted generation \(generation.name) (older than retention \(request.settings.retention))")
            }
        }

        /// Every 10 s (and at the end): the lag, the window, what waits to go off-site.
        mutating func writeMetrics(report: ReplicateReport, force: Bool) {
            guard let directory = request.metricsDirectory else { return }
            let now = context.now()
            guard force || now.timeIntervalSince(lastMetrics) >= 10 else { return }
            lastMetrics = now
            let status = ReplicaStatus.read(store.statusPath)
            let window = force ? report.window : nil
            do {
                try MetricsFile.update(directory: directory, env: request.env,
                                       samples: ReplicaMetrics.samples(env: request.env, status: status, window: window, now: now))
            } catch {
                context.logger.warning("could not write metrics: \(error.message)")
            }
        }

        static func sleep(until deadline: ContinuousClock.Instant, unless interruption: Interruption) async {
            while interruption.signal == nil, ContinuousClock.now < deadline {
                let left = deadline - ContinuousClock.now
                try? await Task.sleep(for: min(left, .milliseconds(50)))
            }
        }
    }
}

extension ReplicaRemote {
    static func url(of settings: OffsiteSettings) -> String { settings.url + folder }
}

/// The gauges the replica exposes (see docs/reference/replication.md).
enum ReplicaMetrics {
    static func samples(env: String, status: ReplicaStatus?, window: RestoreWindow?, now: Date) -> [MetricSample] {
        let labels = [("env", env)]
        var samples: [MetricSample] = []
        if let status {
            samples.append(MetricSample("opsctl_replica_last_sync_timestamp_seconds", "When opsctl replicate last finished a round (alert on time() minus this).",
                                        labels: labels, status.lastSync.timeIntervalSince1970))
            samples.append(MetricSample("opsctl_replica_lag_seconds", "Seconds of writes the replica may lack, as of this file's writing.",
                                        labels: labels, max(0, now.timeIntervalSince(status.lastSync))))
            if let pending = status.offsitePending {
                samples.append(MetricSample("opsctl_replica_offsite_pending", "Replica files waiting to go off-site.", labels: labels, Double(pending)))
            }
        }
        if let window {
            samples.append(MetricSample("opsctl_replica_window_earliest_timestamp_seconds", "The earliest moment restore --at can reach.",
                                        labels: labels, window.earliest.timeIntervalSince1970))
            samples.append(MetricSample("opsctl_replica_window_latest_timestamp_seconds", "The latest moment restore --at can reach.",
                                        labels: labels, window.latest.timeIntervalSince1970))
        }
        return samples
    }
}

/// What a `replicate` run did.
public struct ReplicateReport: Report {
    public var env: String
    public var database: String
    public var directory: String
    public var rounds = 0
    public var points = 0
    public var busyRounds = 0
    /// Rounds that compared every page: the app's checkpoint had reset the WAL since the last one.
    public var fullScans = 0
    public var bytesWritten: Int64 = 0
    public var removedTemporaryFiles: [String] = []
    public var generation: String?
    public var seq: UInt64?
    public var window: RestoreWindow?
    public var offsitePending: Int?
    public var offsiteLatest: Date?
    public var offsiteError: String?

    init(env: String, database: String, directory: String) {
        self.env = env
        self.database = database
        self.directory = directory
    }

    mutating func finish(catalog: ReplicaCatalog, shipper: ReplicaShipper.ShipperState?) {
        window = catalog.window
        generation = catalog.generations.last?.name
        seq = catalog.generations.last?.usable.last?.seq
        if let shipper {
            offsitePending = shipper.pending
            offsiteLatest = shipper.latest
            offsiteError = offsiteError ?? shipper.lastError
        }
    }

    public func renderText() -> String {
        var lines = ["replicated \(database) -> \(directory): \(rounds) round(s), \(points) new point(s), \(ByteCount.format(bytesWritten))"]
        if let generation, let seq { lines.append("  generation \(generation), point \(seq)") }
        if let window { lines.append("  restorable \(window.description)") }
        if fullScans > 0 { lines.append("  \(fullScans) round(s) compared every page (the app's checkpoint had reset its WAL)") }
        if busyRounds > 0 { lines.append("  \(busyRounds) round(s) skipped: the app held its write lock past \(SnapshotPin.lockTimeout)") }
        if let offsitePending { lines.append("  off-site: \(offsitePending) file(s) pending" + (offsiteLatest.map { ", newest copied \(PointInTime.format($0))" } ?? "")) }
        if let offsiteError { lines.append("  off-site error: \(offsiteError)") }
        if !removedTemporaryFiles.isEmpty { lines.append("  removed \(removedTemporaryFiles.count) temp file(s) a killed run left") }
        return lines.joined(separator: "\n")
    }
}
