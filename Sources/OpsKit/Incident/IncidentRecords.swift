// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// How bad it is. Critical makes the handoff's verdict Critical while the incident is open.
public enum IncidentSeverity: String, Sendable, Codable, CaseIterable {
    case critical, major, minor
}

/// One incident as the ledger keeps it.
public struct IncidentRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var env: String
    public var title: String
    public var severity: IncidentSeverity
    public var openedAt: Date
    public var openedBy: String?
    public var closedAt: Date?
    public var closedBy: String?
    public var summary: String?

    public var isOpen: Bool { closedAt == nil }

    /// Opened to closed, or to `now` while it is open.
    public func durationSeconds(now: Date) -> Int {
        max(0, Int((closedAt ?? now).timeIntervalSince(openedAt).rounded()))
    }
}

/// What an incident's own timeline holds besides the ledger's events.
public enum IncidentEventKind: String, Sendable, Codable, CaseIterable {
    /// `opsctl incident note`.
    case note
    /// A diagnostic bundle was written (at open, or `opsctl incident bundle`).
    case bundle
    /// The webhook notice of an open or a close, posted or not.
    case notice
    /// An opsctl command run on the environment while the incident was open.
    case command
}

public struct IncidentEventRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var incidentId: Int64
    public var kind: IncidentEventKind
    public var at: Date
    public var finishedAt: Date?
    public var actor: String?
    public var text: String
    public var exitCode: Int32?
    public var errorCode: String?
    public var pid: Int?
    /// A bundle's parts and how each went (JSON).
    public var detail: String?
}

/// One event to append; its id and incident come from the ledger.
public struct IncidentEventDraft: Sendable {
    public var kind: IncidentEventKind
    public var at: Date
    public var finishedAt: Date?
    public var actor: String?
    public var text: String
    public var exitCode: Int32?
    public var errorCode: String?
    public var pid: Int?
    public var detail: String?

    public init(kind: IncidentEventKind, at: Date, finishedAt: Date? = nil, actor: String?, text: String, exitCode: Int32? = nil,
                errorCode: String? = nil, pid: Int? = nil, detail: String? = nil) {
        self.kind = kind
        self.at = at
        self.finishedAt = finishedAt
        self.actor = actor
        self.text = text
        self.exitCode = exitCode
        self.errorCode = errorCode
        self.pid = pid
        self.detail = detail
    }
}

extension Ledger {
    static let incidentColumns = "id, env, title, severity, opened_at, opened_by, closed_at, closed_by, summary"

    static func incident(_ row: SQLiteRow) -> IncidentRecord {
        IncidentRecord(id: row.int64(0) ?? 0, env: row.string(1) ?? "", title: row.string(2) ?? "",
                       severity: IncidentSeverity(rawValue: row.string(3) ?? "") ?? .major, openedAt: Date(ledgerTime: row.double(4) ?? 0),
                       openedBy: row.string(5), closedAt: row.double(6).map(Date.init(ledgerTime:)), closedBy: row.string(7), summary: row.string(8))
    }

    /// Records a new open incident; `whileWriting` runs inside the same write transaction (the
    /// open-incident marker is written there, so a concurrent close cannot remove it in between).
    public func openIncident(env: String, title: String, severity: IncidentSeverity, by actor: String?, at date: Date,
                             whileWriting: () throws(OpsError) -> Void = {}) throws(OpsError) -> Int64 {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("INSERT INTO incidents (env, title, severity, opened_at, opened_by) VALUES (?, ?, ?, ?, ?)",
                               [.text(env), .text(title), .text(severity.rawValue), .real(date.ledgerTime), .optional(actor)])
            let id = database.lastInsertRowID
            try whileWriting()
            return id
        }
    }

    /// Closes incident `id`; false when it is not open. `whileWriting` gets the incidents still
    /// open in `env` afterwards, inside the same write transaction.
    public func closeIncident(id: Int64, env: String, summary: String, by actor: String?, at date: Date,
                              whileWriting: ([IncidentRecord]) throws(OpsError) -> Void = { _ in }) throws(OpsError) -> Bool {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("UPDATE incidents SET closed_at = ?, closed_by = ?, summary = ? WHERE id = ? AND env = ? AND closed_at IS NULL",
                               [.real(date.ledgerTime), .optional(actor), .text(summary), .integer(id), .text(env)])
            guard database.changes > 0 else { return false }
            try whileWriting(try openIncidents(env: env))
            return true
        }
    }

    public func incident(id: Int64) throws(OpsError) -> IncidentRecord? {
        try database.query("SELECT \(Self.incidentColumns) FROM incidents WHERE id = ?", [.integer(id)]).first.map(Self.incident)
    }

    /// Open incidents of `env`, newest first.
    public func openIncidents(env: String) throws(OpsError) -> [IncidentRecord] {
        try database.query("SELECT \(Self.incidentColumns) FROM incidents WHERE env = ? AND closed_at IS NULL ORDER BY opened_at DESC, id DESC",
                           [.text(env)]).map(Self.incident)
    }

    /// Every incident of `env`, newest first.
    public func incidents(env: String) throws(OpsError) -> [IncidentRecord] {
        try database.query("SELECT \(Self.incidentColumns) FROM incidents WHERE env = ? ORDER BY opened_at DESC, id DESC",
                           [.text(env)]).map(Self.incident)
    }

    /// Incidents of `env` closed between `from` and `to`, oldest first.
    public func incidentsClosed(env: String, from: Date, to: Date) throws(OpsError) -> [IncidentRecord] {
        try database.query("""
            SELECT \(Self.incidentColumns) FROM incidents WHERE env = ? AND closed_at >= ? AND closed_at <= ? ORDER BY closed_at, id
            """, [.text(env), .real(from.ledgerTime), .real(to.ledgerTime)]).map(Self.incident)
    }

    /// Appends `event` to each of `incidents`' timelines in one transaction.
    public func addIncidentEvent(_ event: IncidentEventDraft, to incidents: [Int64]) throws(OpsError) {
        guard !incidents.isEmpty else { return }
        try database.writeTransaction { () throws(OpsError) in
            for id in incidents {
                try database.query("""
                    INSERT INTO incident_events (incident_id, kind, at, finished_at, actor, text, exit_code, error_code, pid, detail)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.integer(id), .text(event.kind.rawValue), .real(event.at.ledgerTime), .optional(event.finishedAt?.ledgerTime),
                          .optional(event.actor), .text(event.text), .optional(event.exitCode.map(Int64.init)), .optional(event.errorCode),
                          .optional(event.pid.map(Int64.init)), .optional(event.detail)])
            }
        }
    }

    /// Incident `id`'s own events, oldest first.
    public func incidentEvents(incident id: Int64) throws(OpsError) -> [IncidentEventRecord] {
        try database.query("""
            SELECT id, incident_id, kind, at, finished_at, actor, text, exit_code, error_code, pid, detail
            FROM incident_events WHERE incident_id = ? ORDER BY at, id
            """, [.integer(id)]).map { row in
            IncidentEventRecord(id: row.int64(0) ?? 0, incidentId: row.int64(1) ?? id, kind: IncidentEventKind(rawValue: row.string(2) ?? "") ?? .note,
                                at: Date(ledgerTime: row.double(3) ?? 0), finishedAt: row.double(4).map(Date.init(ledgerTime:)), actor: row.string(5),
                                text: row.string(6) ?? "", exitCode: row.int64(7).map { Int32(truncatingIfNeeded: $0) }, errorCode: row.string(8),
                                pid: row.int(9), detail: row.string(10))
        }
    }
}
