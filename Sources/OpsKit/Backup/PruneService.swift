// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl prune`: retention over one backup directory. Only files named
/// `<name>_YYYYMMDD_HHMMSS.db.gz` are considered; anything else is never touched.
public struct PruneReport: Report {
    public var directory: String
    public var name: String
    public var policy: String
    public var dryRun: Bool
    public var decisions: [RetentionDecision]
    public var deleted: [String]

    public var kept: Int { decisions.filter(\.keep).count }

    public func renderText() -> String {
        var lines = ["retention (\(policy)) over \(decisions.count) backup\(decisions.count == 1 ? "" : "s") of \(name) in \(directory): keep \(kept), "
                     + (dryRun ? "would delete \(decisions.count - kept)" : "deleted \(deleted.count)")]
        if dryRun || decisions.count <= 50 {
            for decision in decisions {
                let verb = decision.keep ? "keep  " : (dryRun ? "delete" : "deleted")
                lines.append("  \(verb) \(decision.file)" + (decision.keep ? "  (\(decision.reasons.joined(separator: ", ")))" : ""))
            }
        }
        return lines.joined(separator: "\n")
    }
}

public enum PruneService {
    /// `opsctl prune`: under the backup lock, so no file is deleted while a backup run uploads it
    /// off-site or a restore reads it (a dry run deletes nothing and takes no lock).
    public static func runHoldingLock(directory: String, name: String, policy: RetentionPolicy, dryRun: Bool,
                                      context: OpsContext) throws(OpsError) -> PruneReport {
        let lock = dryRun ? nil : try FileLock.acquire(path: BackupNaming.lockPath(directory: directory, name: name),
                                                       what: "a backup, prune or restore of \(name)", command: "opsctl prune", now: context.now)
        defer { lock?.release() }
        return try prune(directory: directory, name: name, policy: policy, dryRun: dryRun, context: context)
    }

    /// Retention itself; the caller holds the backup lock (a backup run prunes under its own).
    public static func prune(directory: String, name: String, policy: RetentionPolicy, dryRun: Bool,
                             context: OpsContext) throws(OpsError) -> PruneReport {
        var entries = try BackupCatalog.list(directory: directory, name: name, readManifests: false)
        // Only the newest verified backup matters to retention: read manifests newest-first until one says so.
        for index in entries.indices where FileManager.default.fileExists(atPath: entries[index].manifestPath) {
            entries[index].manifest = try? BackupManifest.read(entries[index].manifestPath)
            if entries[index].verified { break }
        }
        let decisions = policy.decide(entries.map { ($0.file, $0.time, $0.verified) })
        var deleted: [String] = []
        if !dryRun {
            for decision in decisions where !decision.keep {
                let path = "\(directory)/\(decision.file)"
                guard unlink(path) == 0 || errno == ENOENT else {
                    throw OpsError(.io, code: "prune.failed", "\(path): cannot delete: \(String(cString: strerror(errno)))")
                }
                unlink(path + BackupNaming.manifestSuffix)
                deleted.append(decision.file)
                context.logger.info("pruned \(decision.file)")
            }
            if !deleted.isEmpty { AtomicFile.syncDirectory(directory) }
        }
        return PruneReport(directory: directory, name: name, policy: policy.summary, dryRun: dryRun, decisions: decisions, deleted: deleted)
    }
}

/// `opsctl backups`: what is in a backup directory.
public struct BackupListReport: Report {
    public var directory: String
    public var name: String
    public var backups: [BackupEntry]
    public var generatedAt: Date

    public static func load(directory: String, name: String, now: Date) throws(OpsError) -> BackupListReport {
        BackupListReport(directory: directory, name: name, backups: try BackupCatalog.list(directory: directory, name: name), generatedAt: now)
    }

    public func renderText() -> String {
        guard !backups.isEmpty else { return "no backups of \(name) in \(directory)" }
        let rows = backups.map { entry -> [String] in
            let verified: String
            if let verification = entry.manifest?.verification {
                verified = verification.status == .ok ? "yes (\(TextFormat.age(of: verification.at, now: generatedAt)))" : "FAILED"
            } else {
                verified = entry.manifest == nil ? (entry.manifestError == nil ? "no manifest" : "bad manifest") : "not yet"
            }
            return [TextFormat.timestamp(entry.time), TextFormat.age(of: entry.time, now: generatedAt), ByteCount.format(entry.bytes),
                    entry.ratio.map { String(format: "%.2f", $0) } ?? "-", verified, entry.file]
        }
        return "\(backups.count) backup\(backups.count == 1 ? "" : "s") of \(name) in \(directory)\n"
            + TextFormat.table(["TIME (UTC)", "AGE", "SIZE", "RATIO", "VERIFIED", "FILE"], rows)
    }
}
