// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

public enum DeploymentStatus: String, Sendable, Codable, CaseIterable {
    /// `aborted`: stopped before anything changed (backup, hook or preflight failed, a signal).
    case running, succeeded, failed, rolledBack = "rolled_back", interrupted, aborted
}

/// A backup run's row: `running` until it finishes.
public enum BackupRunStatus: String, Sendable, Codable, CaseIterable { case running, succeeded, failed }

/// The outcome of one verification (ledger rows and manifests).
public enum VerificationStatus: String, Sendable, Codable, CaseIterable { case ok, failed }

public enum RestoreStatus: String, Sendable, Codable, CaseIterable { case succeeded, failed }

public enum SmokeRunStatus: String, Sendable, Codable, CaseIterable { case passed, failed }

public struct DeploymentRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var env: String
    public var kind: ReleaseAction
    public var version: String
    public var previousVersion: String?
    public var status: DeploymentStatus
    public var gitCommit: String?
    public var image: String?
    public var container: String?
    public var startedAt: Date
    public var finishedAt: Date?
    public var actor: String?
    public var host: String?
    public var pid: Int?
    public var message: String?
    public var reason: String?
    /// How traffic moved (nil for runs from before strategies existed).
    public var strategy: String?
    /// blue-green: the slot the release ran on.
    public var slot: String?

    public var duration: TimeInterval? { finishedAt.map { $0.timeIntervalSince(startedAt) } }
}

public struct BackupRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var env: String
    public var databasePath: String
    public var file: String?
    public var status: BackupRunStatus
    public var bytes: Int64?
    public var startedAt: Date
    public var finishedAt: Date?
    public var error: String?
}

public struct VerificationRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var env: String
    public var file: String
    public var status: VerificationStatus
    public var reason: String?
    public var deep: Bool
    public var checkedAt: Date
}

public struct SmokeRunRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var env: String
    public var baseURL: String?
    public var status: SmokeRunStatus
    public var passed: Int
    public var failed: Int
    public var startedAt: Date
}

public struct NoteRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var env: String
    public var text: String
    public var author: String?
    public var createdAt: Date
}

extension Ledger {
    static let deploymentColumns = "id, env, kind, version, previous_version, status, git_commit, image, container, started_at, finished_at, actor, host, pid, message, reason, strategy, slot"

    static func deployment(_ row: SQLiteRow) -> DeploymentRecord {
        DeploymentRecord(
            id: row.int64(0) ?? 0, env: row.string(1) ?? "", kind: row.string(2).flatMap(ReleaseAction.init(rawValue:)) ?? .deploy, version: row.string(3) ?? "",
            previousVersion: row.string(4), status: DeploymentStatus(rawValue: row.string(5) ?? "") ?? .failed,
            gitCommit: row.string(6), image: row.string(7), container: row.string(8),
            startedAt: Date(ledgerTime: row.double(9) ?? 0), finishedAt: row.double(10).map(Date.init(ledgerTime:)),
            actor: row.string(11), host: row.string(12), pid: row.int(13), message: row.string(14), reason: row.string(15),
            strategy: row.string(16), slot: row.string(17))
    }

    /// Records the start of a deploy or rollback; returns its id.
    public func beginDeployment(env: String, kind: ReleaseAction, version: String, previousVersion: String?, gitCommit: String?,
                                image: String?, container: String?, actor: String?, message: String?,
                                strategy: String? = nil, slot: String? = nil, at date: Date = Date()) throws(OpsError) -> Int64 {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("""
                INSERT INTO deployments (env, kind, version, previous_version, status, git_commit, image, container, started_at, actor, host, pid, message,
                                         strategy, slot)
                VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(env), .text(kind.rawValue), .text(version), .optional(previousVersion), .optional(gitCommit), .optional(image),
                      .optional(container), .real(date.ledgerTime), .optional(actor), .text(ProcessInfo.processInfo.hostName),
                      .integer(Int64(getpid())), .optional(message), .optional(strategy), .optional(slot)])
            return database.lastInsertRowID
        }
    }

    public func finishDeployment(id: Int64, status: DeploymentStatus, reason: String? = nil, logs: String? = nil,
                                 at date: Date = Date()) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("UPDATE deployments SET status = ?, reason = ?, logs = ?, finished_at = ? WHERE id = ?",
                               [.text(status.rawValue), .optional(reason), .optional(logs), .real(date.ledgerTime), .integer(id)])
        }
    }

    public func deployments(env: String, limit: Int) throws(OpsError) -> [DeploymentRecord] {
        try database.query("SELECT \(Self.deploymentColumns) FROM deployments WHERE env = ? ORDER BY started_at DESC, id DESC LIMIT ?",
                           [.text(env), .integer(Int64(limit))]).map(Self.deployment)
    }

    public func lastDeployment(env: String, status: DeploymentStatus? = nil) throws(OpsError) -> DeploymentRecord? {
        if let status {
            return try database.query("SELECT \(Self.deploymentColumns) FROM deployments WHERE env = ? AND status = ? ORDER BY started_at DESC, id DESC LIMIT 1",
                                      [.text(env), .text(status.rawValue)]).first.map(Self.deployment)
        }
        return try deployments(env: env, limit: 1).first
    }

    static let backupColumns = "id, env, database_path, file, status, bytes, started_at, finished_at, error"

    static func backup(_ row: SQLiteRow) -> BackupRecord {
        BackupRecord(id: row.int64(0) ?? 0, env: row.string(1) ?? "", databasePath: row.string(2) ?? "", file: row.string(3),
                     status: BackupRunStatus(rawValue: row.string(4) ?? "") ?? .failed, bytes: row.int64(5), startedAt: Date(ledgerTime: row.double(6) ?? 0),
                     finishedAt: row.double(7).map(Date.init(ledgerTime:)), error: row.string(8))
    }

    public func lastBackup(env: String, succeededOnly: Bool = false) throws(OpsError) -> BackupRecord? {
        try database.query("""
            SELECT \(Self.backupColumns) FROM backups
            WHERE env = ? \(succeededOnly ? "AND status = 'succeeded'" : "") ORDER BY started_at DESC, id DESC LIMIT 1
            """, [.text(env)]).first.map(Self.backup)
    }

    static let verificationColumns = "id, env, file, status, reason, deep, checked_at"

    static func verification(_ row: SQLiteRow) -> VerificationRecord {
        VerificationRecord(id: row.int64(0) ?? 0, env: row.string(1) ?? "", file: row.string(2) ?? "", status: VerificationStatus(rawValue: row.string(3) ?? "") ?? .failed,
                           reason: row.string(4), deep: row.int(5) == 1, checkedAt: Date(ledgerTime: row.double(6) ?? 0))
    }

    public func lastVerification(env: String) throws(OpsError) -> VerificationRecord? {
        try database.query("SELECT \(Self.verificationColumns) FROM verifications WHERE env = ? ORDER BY checked_at DESC, id DESC LIMIT 1",
                           [.text(env)]).first.map(Self.verification)
    }

    static let smokeRunColumns = "id, env, base_url, status, passed, failed, started_at"

    /// A smoke run from the first seven columns of `smokeRunColumns`.
    static func smokeRun(_ row: SQLiteRow) -> SmokeRunRecord {
        SmokeRunRecord(id: row.int64(0) ?? 0, env: row.string(1) ?? "", baseURL: row.string(2), status: SmokeRunStatus(rawValue: row.string(3) ?? "") ?? .failed,
                       passed: row.int(4) ?? 0, failed: row.int(5) ?? 0, startedAt: Date(ledgerTime: row.double(6) ?? 0))
    }

    public func lastSmokeRun(env: String) throws(OpsError) -> SmokeRunRecord? {
        try database.query("SELECT \(Self.smokeRunColumns) FROM smoke_runs WHERE env = ? ORDER BY started_at DESC, id DESC LIMIT 1",
                           [.text(env)]).first.map(Self.smokeRun)
    }

    public func addNote(env: String, text: String, author: String?, at date: Date = Date()) throws(OpsError) -> Int64 {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("INSERT INTO notes (env, text, author, created_at) VALUES (?, ?, ?, ?)",
                               [.text(env), .text(text), .optional(author), .real(date.ledgerTime)])
            return database.lastInsertRowID
        }
    }

    /// Closes a pending note; false when there is no such pending note in `env`.
    public func closeNote(env: String, id: Int64, at date: Date = Date()) throws(OpsError) -> Bool {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("UPDATE notes SET resolved_at = ? WHERE env = ? AND id = ? AND resolved_at IS NULL",
                               [.real(date.ledgerTime), .text(env), .integer(id)])
            return database.changes > 0
        }
    }

    public func pendingNotes(env: String) throws(OpsError) -> [NoteRecord] {
        try database.query("SELECT id, env, text, author, created_at FROM notes WHERE env = ? AND resolved_at IS NULL ORDER BY created_at",
                           [.text(env)]).map { row in
            NoteRecord(id: row.int64(0) ?? 0, env: row.string(1) ?? "", text: row.string(2) ?? "", author: row.string(3),
                       createdAt: Date(ledgerTime: row.double(4) ?? 0))
        }
    }
}

extension Ledger {
    public func beginBackup(env: String, databasePath: String, at date: Date = Date()) throws(OpsError) -> Int64 {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("INSERT INTO backups (env, database_path, status, started_at) VALUES (?, ?, 'running', ?)",
                               [.text(env), .text(databasePath), .real(date.ledgerTime)])
            return database.lastInsertRowID
        }
    }

    public func finishBackup(id: Int64, status: BackupRunStatus, file: String? = nil, manifest: BackupManifest? = nil, error: String? = nil,
                             at date: Date = Date()) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("""
                UPDATE backups SET status = ?, file = ?, bytes = ?, source_bytes = ?, pages = ?, sha256 = ?, error = ?, finished_at = ?
                WHERE id = ?
                """, [.text(status.rawValue), .optional(file), .optional(manifest.map { $0.bytes }), .optional(manifest.map { $0.database.bytes }),
                      .optional(manifest.map { Int64($0.database.pageCount) }), .optional(manifest?.sha256), .optional(error),
                      .real(date.ledgerTime), .integer(id)])
        }
    }
}
