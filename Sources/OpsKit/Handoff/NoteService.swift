// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// `opsctl note ENV TEXT`: a pending item the next handoff report lists.
public struct NoteReport: Report {
    public var env: String
    public var note: NoteRecord?
    /// Set by `--done ID`.
    public var closed: Int64?
    public var pending: Int

    public func renderText() -> String {
        let tail = "\(pending) pending note\(pending == 1 ? "" : "s")"
        if let closed { return "closed note #\(closed) for \(env); \(tail)" }
        return "noted for \(env) (#\(note?.id ?? 0)); \(tail)"
    }
}

public enum NoteService {
    public static func add(config: OpsConfig, env: String, text: String, context: OpsContext) throws(OpsError) -> NoteReport {
        _ = try config.environment(named: env)
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw OpsError(.usage, code: "note.empty", "the note is empty") }
        let ledger = try context.ledger(config.state)
        // A pasted secret must not end up in the ledger or the handoff report.
        let safe = config.redactor.scrub(trimmed)
        let now = context.now()
        let id = try ledger.addNote(env: env, text: safe, author: context.actor, at: now)
        let pending = try ledger.pendingNotes(env: env)
        let note = pending.first { $0.id == id } ?? NoteRecord(id: id, env: env, text: safe, author: context.actor, createdAt: now)
        return NoteReport(env: env, note: note, pending: pending.count)
    }

    public static func close(config: OpsConfig, env: String, id: Int64, context: OpsContext) throws(OpsError) -> NoteReport {
        _ = try config.environment(named: env)
        let ledger = try context.ledger(config.state)
        guard try ledger.closeNote(env: env, id: id, at: context.now()) else {
            throw OpsError(.usage, code: "note.unknown", "no pending note #\(id) in \(env)",
                           details: ["pending: " + (try ledger.pendingNotes(env: env).map { "#\($0.id)" }.joined(separator: ", "))])
        }
        return NoteReport(env: env, note: nil, closed: id, pending: try ledger.pendingNotes(env: env).count)
    }
}

import Foundation
