// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What the ledger's off-site rows record.
public enum OffsiteUploadStatus: String, Sendable, Codable { case uploaded, failed }
public enum OffsiteRunStatus: String, Sendable, Codable { case succeeded, failed }

/// Off-site uploads and runs in the ledger (tables from migration 5). URLs are `s3://bucket/key`:
/// no endpoint credentials, no signatures.
extension Ledger {
    func recordOffsiteUpload(env: String, url: String, file: String, backupTime: Date, uploaded: OffsiteUploader.Uploaded?,
                             failure: (code: String, message: String)?, at date: Date) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("""
                INSERT INTO offsite_uploads (env, url, file, backup_time, status, bytes, parts, duration_ms, error_code, error, finished_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(env), .text(url), .text(file), .real(backupTime.ledgerTime), .text((uploaded == nil ? OffsiteUploadStatus.failed : .uploaded).rawValue),
                      uploaded.map { .integer($0.bytes) } ?? .null, uploaded.map { .integer(Int64($0.parts)) } ?? .null,
                      uploaded.map { .integer(Int64($0.durationMs)) } ?? .null, .optional(failure?.code), .optional(failure?.message),
                      .real(date.ledgerTime)])
        }
    }

    func recordOffsiteRun(env: String, report: OffsiteSyncReport, startedAt: Date, finishedAt: Date) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("""
                INSERT INTO offsite_runs (env, url, status, uploaded, pending, aborted_uploads, pruned, error_code, error, started_at, finished_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(env), .text(report.url), .text((report.failure == nil ? OffsiteRunStatus.succeeded : .failed).rawValue), .integer(Int64(report.uploaded.count)),
                      .integer(Int64(report.notOffsite.count)), .integer(Int64(report.abortedUploads.count)),
                      .integer(Int64(report.prune?.deleted.count ?? 0)), .optional(report.failure?.s3Code ?? report.failure?.code),
                      .optional(report.failure?.message), .real(startedAt.ledgerTime), .real(finishedAt.ledgerTime)])
        }
    }

    /// The newest backup uploaded off-site: its file, when it was taken, when it went up.
    func newestOffsiteCopy(env: String) throws(OpsError) -> (file: String, backupTime: Date, uploadedAt: Date)? {
        guard let row = try database.query("""
            SELECT file, backup_time, finished_at FROM offsite_uploads WHERE env = ? AND status = ?
            ORDER BY backup_time DESC, id DESC LIMIT 1
            """, [.text(env), .text(OffsiteUploadStatus.uploaded.rawValue)]).first, let file = row.string(0), let time = row.double(1), let at = row.double(2) else { return nil }
        return (file, Date(ledgerTime: time), Date(ledgerTime: at))
    }

    /// The newest off-site run up to `to`, and the runs and failures in the window.
    func offsiteRuns(env: String, from: Date, to: Date) throws(OpsError) -> (total: Int, failed: Int, last: (status: OffsiteRunStatus, error: String?, at: Date)?) {
        let counts = try database.query("SELECT COUNT(*), COALESCE(SUM(status = ?), 0) FROM offsite_runs WHERE env = ? AND started_at >= ? AND started_at <= ?",
                                        [.text(OffsiteRunStatus.failed.rawValue), .text(env), .real(from.ledgerTime), .real(to.ledgerTime)]).first
        let last = try database.query("SELECT status, error, finished_at FROM offsite_runs WHERE env = ? AND started_at <= ? ORDER BY started_at DESC, id DESC LIMIT 1",
                                      [.text(env), .real(to.ledgerTime)]).first
        return (counts?.int(0) ?? 0, counts?.int(1) ?? 0,
                last.flatMap { row in row.double(2).map { (OffsiteRunStatus(rawValue: row.string(0) ?? "") ?? .failed, row.string(1), Date(ledgerTime: $0)) } })
    }
}
