// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The bundle's parts read on this host: the ledger, the disks, the database. Each runs on a
/// thread of its own (SQLite and statvfs block), so a locked database or a hung mount costs
/// the part its time limit and nothing else.
extension DiagnosticBundle {
    /// How far back the ledger part reads events.
    static let ledgerWindow: TimeInterval = 24 * 3600

    /// The last deploys and the ledger's events of the last 24 hours.
    func ledgerPart(_ part: PartContext) async throws(OpsError) -> PartOutput {
        let (state, env, redactor) = (config.state, environment.name, config.redactor)
        let from = part.takenAt.addingTimeInterval(-Self.ledgerWindow)
        let read = await TimeBound.blocking(within: part.timeLeft) { () -> Result<PartOutput, OpsError> in
            do throws(OpsError) {
                let ledger = try Ledger(path: state, busyTimeout: .seconds(5))
                let deploys = try ledger.deployments(env: env, limit: 10)
                let events = try IncidentTimeline.ledgerEvents(ledger, env: env, from: from, to: part.takenAt, redactor: redactor).map(\.entry)
                return .success(Self.ledgerFiles(deploys: deploys, events: events))
            } catch {
                return .failure(error)
            }
        }
        guard let read else { throw OpsError(.unavailable, code: "incident.part_timeout", "\(state): the ledger did not answer in time") }
        return try read.get()
    }

    static func ledgerFiles(deploys: [DeploymentRecord], events: [TimelineEntry]) -> PartOutput {
        struct Document: Encodable { var lastDeploys: [DeploymentRecord]; var eventsLast24h: [TimelineEntry] }
        let rows = deploys.map { [TextFormat.timestamp($0.startedAt), $0.kind.rawValue, $0.version, $0.previousVersion ?? "-", $0.status.rawValue, $0.actor ?? "?", $0.reason ?? ""] }
        let eventLines = events.map { "\(TextFormat.timestamp($0.at))  \($0.kind.rawValue)  \($0.text)" + ($0.actor.map { "  (\($0))" } ?? "") }
        let table = rows.isEmpty ? "none" : TextFormat.table(["started", "kind", "version", "from", "status", "by", "reason"], rows)
        let text = "last deploys and rollbacks, newest first:\n" + table
            + "\n\nledger events of the last 24 hours, oldest first:\n" + (eventLines.isEmpty ? "none" : eventLines.joined(separator: "\n")) + "\n"
        return PartOutput(files: [BundleFile(path: "ledger.txt", text: text),
                                  BundleFile(path: "ledger.json", text: ReportEncoder.json(Document(lastDeploys: deploys, eventsLast24h: events)) + "\n")],
                          summary: "\(deploys.count) deploy(s), \(events.count) event(s) in the last 24 h")
    }

    /// Space on every filesystem that matters here: the state directory's, the database's, the
    /// backups', `handoff.disks` and `/`.
    func disk(_ part: PartContext) async -> PartOutput {
        var paths = [URL(fileURLWithPath: config.state).deletingLastPathComponent().path]
        if let database = environment.database?.path { paths.append(URL(fileURLWithPath: database).deletingLastPathComponent().path) }
        if let backups = environment.backup?.dir { paths.append(backups) }
        paths += environment.handoff.disks + ["/"]
        var unique: [String] = []
        for path in paths where !unique.contains(path) { unique.append(path) }
        var rows: [[String]] = []
        var problems: [String] = []
        for path in unique {
            guard FileManager.default.fileExists(atPath: path) else {
                rows.append([path, "-", "-", "no such directory"])
                continue
            }
            let usage = await TimeBound.blocking(within: .seconds(2)) { DiskUsage.of(path) }
            switch usage {
            case .some(.some(let usage)):
                rows.append([path, ByteCount.format(usage.totalBytes), String(format: "%.1f%%", usage.usedPercent), ByteCount.format(usage.freeBytes)])
            case .some(.none): problems.append("\(path): cannot stat the filesystem")
            case .none: problems.append("\(path): statvfs did not return within 2 s (a hung mount?)")
            }
        }
        let text = TextFormat.table(["path", "size", "used", "free"], rows) + "\n"
        let fullest = rows.map { $0[2] }.filter { $0 != "-" }.max { (Double($0.dropLast()) ?? 0) < (Double($1.dropLast()) ?? 0) }
        return PartOutput(files: [BundleFile(path: "disk.txt", text: text)], summary: "\(rows.filter { $0[1] != "-" }.count) filesystem(s)" + (fullest.map { ", fullest \($0) used" } ?? ""),
                          problem: problems.isEmpty ? nil : problems.joined(separator: "; "))
    }

    /// SQLite's read-only quick_check of the live database.
    func database(_ part: PartContext) async -> PartOutput {
        guard let path = environment.database?.path else { return .notConfigured("no database.path configured") }
        let limit = part.limit
        let check = await TimeBound.blocking(within: part.timeLeft) { () -> VerifyReport.LiveCheck in
            guard FileManager.default.fileExists(atPath: path) else { return .init(path: path, ok: false, reason: "no such file") }
            return VerifyService.checkLive(path)
        }
        guard let check else {
            return PartOutput(files: [BundleFile(path: "database.txt", text: "\(path)\nquick_check: no result within \(limit)\n")],
                              summary: "\(path): quick_check unfinished", problem: "quick_check did not finish within \(limit)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64).flatMap { $0 }
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int64).flatMap { $0 }
        let text = "\(path)\nsize: \(size.map(ByteCount.format) ?? "?")" + (wal.map { ", WAL \(ByteCount.format($0))" } ?? "")
            + "\nquick_check: \(check.ok ? "ok" : check.reason ?? "failed")\n"
        // A failing check is evidence, not a failed part: the part did what it was for.
        return PartOutput(files: [BundleFile(path: "database.txt", text: text)], summary: "quick_check " + (check.ok ? "ok" : "FAILED: \(check.reason ?? "?")"))
    }
}

/// Replication for the bundle: is `opsctl replicate` running, how far behind, and the window a
/// point-in-time restore reaches, read from its heartbeat file and lock (never from the process).
public enum ReplicationLag: Sendable, Equatable {
    case notConfigured
    case measured(ReplicaHealth)

    public static func reading(for environment: EnvironmentConfig, now: Date = Date()) -> ReplicationLag {
        guard let replica = environment.backup?.replica else { return .notConfigured }
        return .measured(ReplicaHealth.read(replica, now: now))
    }

    var bundlePart: PartOutput {
        switch self {
        case .notConfigured:
            .notConfigured("not configured", file: BundleFile(path: "replication.txt", text: "replication lag: not configured\n"))
        case .measured(let health):
            PartOutput(files: [BundleFile(path: "replication.txt", text: "replica \(health.directory): \(health.problem.map { "\($0); " } ?? "")\(health.summary)\n")],
                       summary: health.problem ?? health.summary)
        }
    }
}
