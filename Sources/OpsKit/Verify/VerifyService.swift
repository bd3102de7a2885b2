// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl verify`: every backup (or the newest) in a directory, or one file, plus the live
/// database read-only. Results go into each manifest (retention protects the newest verified
/// backup), the ledger and the metrics file.
public struct VerifyReport: Report {
    public struct LiveCheck: Sendable, Encodable {
        public var path: String
        public var ok: Bool
        public var reason: String?
    }

    public var results: [VerificationResult]
    public var live: LiveCheck?
    public var deep: Bool

    public var failed: Int { results.filter { !$0.ok }.count + (live?.ok == false ? 1 : 0) }
    public var exitCode: Int32 { failed > 0 ? OpsError.Kind.checkFailed.exitCode : 0 }

    public func renderText() -> String {
        var lines: [String] = []
        for result in results {
            let name = URL(fileURLWithPath: result.file).lastPathComponent
            let suffix = result.hasManifest ? "" : " (no manifest: checked without hashes)"
            let checked = result.skipped == nil ? "\(result.pageCount ?? 0) pages" : "ciphertext sha256 and age header"
            lines.append(result.ok ? "ok      \(name)  \(checked), \(result.durationMs) ms\(suffix)"
                                   : "FAILED  \(name)  \(result.reason ?? "unknown")")
            if let skipped = result.skipped { lines.append("        \(skipped)") }
            if let note = result.note { lines.append("        note: \(note)") }
        }
        if results.isEmpty { lines.append("no backups to verify") }
        if let live {
            lines.append(live.ok ? "ok      live database \(live.path) (quick_check)" : "FAILED  live database \(live.path): \(live.reason ?? "")")
        }
        lines.append(failed == 0 ? "all \(results.count) backup(s) \(deep ? "deep-" : "")verified" : "\(failed) problem(s) found")
        let shallow = results.filter { $0.skipped != nil }.count
        if shallow > 0 { lines.append("\(shallow) encrypted backup(s) checked without an identity: run verify where the identity is (--identity FILE) for the deep check") }
        return lines.joined(separator: "\n")
    }
}

public enum VerifyService {
    public enum Target: Sendable {
        case directory(String, name: String, latestOnly: Bool)
        case file(String)
    }

    /// `keys`: what decrypts encrypted backups; without an identity they get the checks that need no key.
    public static func verify(_ target: Target, deep: Bool, env: String?, ledgerPath: String?, metricsDirectory: String?,
                              liveDatabase: String?, keys: BackupKeys = .none("no identity was given"),
                              context: OpsContext) throws(OpsError) -> VerifyReport {
        let paths: [String]
        let scratchDirectory: String
        switch target {
        case .file(let path):
            guard FileManager.default.fileExists(atPath: path) else {
                throw OpsError(.io, code: "verify.missing", "\(path): no such backup")
            }
            paths = [path]
            scratchDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        case .directory(let directory, let name, let latestOnly):
            let entries = try BackupCatalog.list(directory: directory, name: name, readManifests: false)
            paths = (latestOnly ? Array(entries.prefix(1)) : entries).map(\.path)
            scratchDirectory = directory
        }
        let ledger = try ledgerPath.map { path throws(OpsError) in try context.ledger(path) }
        var results: [VerificationResult] = []
        for path in paths {
            context.logger.info("verifying \(path)")
            let result = try BackupVerifier.verify(path: path, deep: deep, temporaryDirectory: scratchDirectory, keys: keys)
            let now = context.now()
            try recordInManifest(result, at: now)
            try ledger?.recordVerification(env: env ?? "-", result: result, at: now)
            results.append(result)
        }
        var live: VerifyReport.LiveCheck?
        if let liveDatabase, FileManager.default.fileExists(atPath: liveDatabase) {
            live = checkLive(liveDatabase)
        }
        let report = VerifyReport(results: results, live: live, deep: deep)
        if let metricsDirectory, let env {
            var samples = [
                MetricSample("opsctl_verify_failed_backups", "Backups that failed the last verification run.", labels: [("env", env)], Double(results.filter { !$0.ok }.count)),
                MetricSample("opsctl_verify_last_run_timestamp_seconds", "When verification last ran.", labels: [("env", env)], context.now().timeIntervalSince1970.rounded()),
            ]
            if report.failed == 0 {
                samples.append(MetricSample("opsctl_verify_last_success_timestamp_seconds", "When a verification run last found no problem.",
                                            labels: [("env", env)], context.now().timeIntervalSince1970.rounded()))
            }
            if case .directory(let directory, let name, _) = target,
               let newest = try? BackupCatalog.list(directory: directory, name: name).first(where: \.verified) {
                samples.append(MetricSample("opsctl_backup_last_verified_timestamp_seconds", "When the newest backup that passed verification was taken.",
                                            labels: [("env", env)], newest.time.timeIntervalSince1970.rounded()))
            }
            try MetricsFile.update(directory: metricsDirectory, env: env, samples: samples)
        }
        return report
    }

    /// The outcome goes into the backup's own manifest, atomically; a manifest that names
    /// another file is left as it is.
    static func recordInManifest(_ result: VerificationResult, at date: Date) throws(OpsError) {
        let manifestPath = result.file + BackupNaming.manifestSuffix
        guard result.hasManifest, var manifest = try? BackupManifest.read(manifestPath),
              manifest.file == URL(fileURLWithPath: result.file).lastPathComponent else { return }
        manifest.verification = .init(status: result.ok ? .ok : .failed, at: date, deep: result.deep, reason: result.reason, skipped: result.skipped)
        try AtomicFile.write(try manifest.encoded(), to: manifestPath)
    }

    /// quick_check on the live database, read-only: readers never block a WAL database's writers.
    static func checkLive(_ path: String) -> VerifyReport.LiveCheck {
        do {
            let database = try SQLiteDatabase(path: path, mode: .readOnly)
            let problems = try database.query("PRAGMA quick_check").compactMap { $0.string(0) }
            return .init(path: path, ok: problems == ["ok"], reason: problems == ["ok"] ? nil : "quick_check: " + problems.prefix(3).joined(separator: "; "))
        } catch {
            return .init(path: path, ok: false, reason: error.message)
        }
    }
}

extension Ledger {
    public func recordVerification(env: String, result: VerificationResult, at date: Date) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("INSERT INTO verifications (env, file, status, reason, deep, checked_at, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [.text(env), .text(result.file), .text((result.ok ? VerificationStatus.ok : .failed).rawValue), .optional(result.reason),
                                .integer(result.deep ? 1 : 0), .real(date.ledgerTime), .integer(Int64(result.durationMs))])
        }
    }
}
