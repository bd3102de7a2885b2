// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One line of an incident's timeline: a note, a bundle, a command someone ran, or an event the
/// ledger recorded (a deploy, a backup, a failed smoke run), with who did it and how it exited.
public struct TimelineEntry: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case opened, note, bundle, notice, command
        case deploy, rollback
        /// A deploy that failed and was rolled back by opsctl.
        case autoRollback = "auto_rollback"
        /// A canary step crossed a limit and the new release was withdrawn.
        case canaryWithdrawal = "canary_withdrawal"
        case backup, restore
        case smokeFailure = "smoke_failure"
        case closed
    }

    public var at: Date
    public var kind: Kind
    public var text: String
    public var actor: String?
    /// The exit code of the opsctl command it happened in, when that command was recorded.
    public var exitCode: Int32?
    /// That command's line, for the ledger's events (`opsctl deploy production 1.0.3`).
    public var command: String?
    /// How a ledger event ended, as the ledger recorded it: the statuses of deployments,
    /// backups, restores and smoke runs.
    public enum Outcome: String, Sendable, Codable {
        case running, succeeded, failed, rolledBack = "rolled_back", interrupted, aborted, passed

        init(_ status: some RawRepresentable<String>) { self = Outcome(rawValue: status.rawValue) ?? .failed }
    }

    /// The ledger's status for deploys, rollbacks, backups, restores and smoke runs.
    public var outcome: Outcome?

    public init(at: Date, kind: Kind, text: String, actor: String? = nil, exitCode: Int32? = nil, command: String? = nil, outcome: Outcome? = nil) {
        self.at = at
        self.kind = kind
        self.text = text
        self.actor = actor
        self.exitCode = exitCode
        self.command = command
        self.outcome = outcome
    }
}

/// Reads the ledger's events of a window and merges them with an incident's own.
public enum IncidentTimeline {
    /// Deploys, rollbacks (by hand and automatic), canary withdrawals, backups, restores and
    /// failed smoke runs of `env` in [from, to], oldest first. Deploys also give the first
    /// successful deploy or rollback (for the time to mitigate).
    public static func ledgerEvents(_ ledger: Ledger, env: String, from: Date, to: Date, redactor: Redactor) throws(OpsError) -> [LedgerEvent] {
        let deployments = try ledger.deployments(env: env, from: from, to: to)
        let steps = try ledger.canarySteps(deploymentIds: deployments.map(\.id))
        var events = deployments.map { LedgerEvent(deployment: $0, canary: steps[$0.id] ?? [], redactor: redactor) }
        events += try ledger.backupRuns(env: env, from: from, to: to).map { LedgerEvent(backup: $0, redactor: redactor) }
        events += try ledger.restoreRuns(env: env, from: from, to: to).map { LedgerEvent(restore: $0, redactor: redactor) }
        events += try ledger.smokeRuns(env: env, from: from, to: to).map(\.record).filter { $0.status == .failed }.map { LedgerEvent(smoke: $0) }
        return events.sorted { $0.entry.at < $1.entry.at }
    }

    /// The incident's whole timeline, in time order: opened, its notes, bundles and notices,
    /// the commands run while it was open, the ledger's events in its window, closed. Each
    /// ledger event names the command it happened in, and that command's exit code.
    public static func merge(_ incident: IncidentRecord, events: [IncidentEventRecord], ledger: [LedgerEvent]) -> [TimelineEntry] {
        var entries = [TimelineEntry(at: incident.openedAt, kind: .opened, text: "\(incident.severity.rawValue): \(incident.title)", actor: incident.openedBy)]
        let commands = events.filter { $0.kind == .command }
        for event in events {
            entries.append(TimelineEntry(at: event.at, kind: Self.kind(event.kind), text: event.text, actor: event.actor,
                                         exitCode: event.kind == .command ? event.exitCode : nil))
        }
        for event in ledger {
            var entry = event.entry
            if let command = Self.command(containing: event, among: commands) {
                entry.command = command.text
                entry.exitCode = command.exitCode
                entry.actor = entry.actor ?? command.actor
            }
            entries.append(entry)
        }
        if let closedAt = incident.closedAt {
            entries.append(TimelineEntry(at: closedAt, kind: .closed, text: incident.summary ?? "", actor: incident.closedBy))
        }
        // Stable: what happened at the same instant keeps the order it was recorded in.
        return entries.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
    }

    static func kind(_ kind: IncidentEventKind) -> TimelineEntry.Kind {
        switch kind {
        case .note: .note
        case .bundle: .bundle
        case .notice: .notice
        case .command: .command
        }
    }

    /// The recorded command a ledger event happened in: the same process for deploys and
    /// rollbacks, else the shortest command whose run spans the event.
    static func command(containing event: LedgerEvent, among commands: [IncidentEventRecord]) -> IncidentEventRecord? {
        let spanning = commands.filter { command in
            guard let end = command.finishedAt else { return false }
            return command.at <= event.entry.at && event.entry.at <= end
        }
        if let pid = event.pid, let same = spanning.first(where: { $0.pid == pid }) { return same }
        return spanning.min { ($0.finishedAt!.timeIntervalSince($0.at)) < ($1.finishedAt!.timeIntervalSince($1.at)) }
    }

    /// The first deploy or rollback in the window that succeeded: what mitigated the incident.
    public static func mitigation(_ ledger: [LedgerEvent]) -> LedgerEvent? {
        ledger.filter(\.mitigates).min { ($0.finishedAt ?? $0.entry.at) < ($1.finishedAt ?? $1.entry.at) }
    }
}

/// One event the ledger recorded, as a timeline entry.
public struct LedgerEvent: Sendable, Equatable {
    public var entry: TimelineEntry
    /// The opsctl process that wrote it, when the ledger keeps it (deploys and rollbacks).
    public var pid: Int?
    public var finishedAt: Date?
    /// A deploy or rollback that succeeded: something that can end an outage.
    public var mitigates = false

    init(deployment record: DeploymentRecord, canary: [CanaryStepReport], redactor: Redactor) {
        let reason = record.reason.map { ": " + redactor.scrub($0) } ?? ""
        let from = record.previousVersion ?? "nothing"
        let kind: TimelineEntry.Kind
        let text: String
        if record.kind == .rollback {
            kind = .rollback
            text = "rollback to \(record.version) (from \(from)): \(record.status.rawValue)" + reason
        } else if record.status == .rolledBack, let step = canary.first(where: { $0.verdict != .passed }) {
            kind = .canaryWithdrawal
            text = "canary \(record.version) withdrawn at step \(step.step) (\(step.share)% of traffic); \(from) serves again" + reason
        } else if record.status == .rolledBack {
            kind = .autoRollback
            text = "deploy \(record.version) failed and was rolled back to \(from)" + reason
        } else {
            kind = .deploy
            text = "deploy \(record.version) (from \(from)): \(record.status.rawValue)" + reason
        }
        entry = TimelineEntry(at: record.startedAt, kind: kind, text: text, actor: record.actor, outcome: TimelineEntry.Outcome(record.status))
        pid = record.pid
        finishedAt = record.finishedAt
        mitigates = record.status == .succeeded
    }

    init(backup record: BackupRecord, redactor: Redactor) {
        let what = record.file.map { HandoffReport.Activity.fileName($0) } ?? record.databasePath
        let detail = record.status == .failed ? ": " + redactor.scrub(record.error ?? "no reason recorded") : ""
        entry = TimelineEntry(at: record.startedAt, kind: .backup, text: "backup \(record.status.rawValue): \(what)" + detail, outcome: TimelineEntry.Outcome(record.status))
        finishedAt = record.finishedAt
    }

    init(restore record: RestoreRecord, redactor: Redactor) {
        let drill = record.drill ? " (drill)" : ""
        let reason = record.reason.map { ": " + redactor.scrub($0) } ?? ""
        entry = TimelineEntry(at: record.finishedAt, kind: .restore,
                              text: "restore of \(HandoffReport.Activity.fileName(record.backup)) to \(record.target)\(drill): \(record.status.rawValue)" + reason,
                              actor: record.actor, outcome: TimelineEntry.Outcome(record.status))
        finishedAt = record.finishedAt
    }

    init(smoke record: SmokeRunRecord) {
        let against = record.baseURL.map { " against \(Redactor.redactURLCredentials($0))" } ?? ""
        entry = TimelineEntry(at: record.startedAt, kind: .smokeFailure,
                              text: "smoke failed\(against): \(record.passed) of \(record.passed + record.failed) checks passed", outcome: TimelineEntry.Outcome(record.status))
    }
}

/// A restore as the ledger keeps it.
public struct RestoreRecord: Sendable, Codable, Equatable {
    public var env: String
    public var backup: String
    public var target: String
    public var drill: Bool
    public var status: RestoreStatus
    public var reason: String?
    public var actor: String?
    public var finishedAt: Date
}

extension Ledger {
    func restoreRuns(env: String, from: Date, to: Date) throws(OpsError) -> [RestoreRecord] {
        try database.query("""
            SELECT env, backup, target, drill, status, reason, actor, finished_at FROM restores
            WHERE env = ? AND finished_at >= ? AND finished_at <= ? ORDER BY finished_at, id
            """, [.text(env), .real(from.ledgerTime), .real(to.ledgerTime)]).map { row in
            RestoreRecord(env: row.string(0) ?? env, backup: row.string(1) ?? "", target: row.string(2) ?? "", drill: row.int(3) == 1,
                          status: RestoreStatus(rawValue: row.string(4) ?? "") ?? .failed, reason: row.string(5), actor: row.string(6),
                          finishedAt: Date(ledgerTime: row.double(7) ?? 0))
        }
    }
}
