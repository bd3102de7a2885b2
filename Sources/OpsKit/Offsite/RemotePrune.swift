// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Retention on the remote: the same restic rules and safety rules as local (never the newest
/// copy, never the newest one `verify --remote` passed), over the copies of one name only.
public enum RemotePrune {
    /// `opsctl prune ENV --remote`: under the backup lock, so no backup run uploads meanwhile.
    public static func run(settings: OffsiteSettings, directory: String, name: String, policy: RetentionPolicy, dryRun: Bool,
                           ledgerPath: String?, context: OpsContext) throws(OpsError) -> PruneReport {
        let lock = dryRun ? nil : try FileLock.acquire(path: BackupNaming.lockPath(directory: directory, name: name),
                                                       what: "a backup, prune or restore of \(name)", command: "opsctl prune --remote", now: context.now)
        defer { lock?.release() }
        let ledger = try ledgerPath.map { path throws(OpsError) in try context.ledger(path) }
        do {
            return try prune(client: S3Client(settings: settings, logger: context.logger), name: name, policy: policy, dryRun: dryRun,
                             ledger: ledger, context: context)
        } catch {
            throw error.opsError
        }
    }

    /// `copies`: the remote as the caller just saw it (a backup run listed it before uploading); nil: list it now.
    static func prune(client: S3Client, name: String, policy: RetentionPolicy, dryRun: Bool, ledger: Ledger?, copies known: [RemoteCopy]? = nil,
                      context: OpsContext) throws(S3Failure) -> PruneReport {
        let copies: [RemoteCopy]
        if let known { copies = known } else { copies = try RemoteCatalog.list(client, name: name) }
        // Only complete copies (object and manifest) count as backups: an object whose manifest
        // never landed must not push the last restorable copy out of keep_last.
        let complete = copies.filter(\.hasManifest)
        let decisions = policy.decide(complete.map { copy in
            (file: copy.file, time: copy.time, verified: (try? ledger?.isVerified(file: copy.url)) == true)
        }) + incompleteDecisions(copies, newestComplete: complete.map(\.time).max())
        var deleted: [String] = []
        if !dryRun {
            let byFile = Dictionary(copies.map { ($0.file, $0) }, uniquingKeysWith: { first, _ in first })
            for decision in decisions where !decision.keep {
                guard let copy = byFile[decision.file] else { continue }
                // The manifest first: a run killed in between leaves an incomplete copy, which the
                // next prune deletes, never a manifest that promises a missing object.
                if copy.hasManifest { try client.delete(copy.key + BackupNaming.manifestSuffix) }
                try client.delete(copy.key)
                deleted.append(copy.file)
                context.logger.info("pruned \(copy.url)")
            }
        }
        return PruneReport(directory: client.settings.url, name: name, policy: policy.summary, dryRun: dryRun,
                           decisions: decisions.sorted { $0.time > $1.time || ($0.time == $1.time && $0.file > $1.file) }, deleted: deleted)
    }

    /// Copies without a manifest (an upload that failed after its object landed): deleted once a
    /// newer complete copy exists, kept otherwise (the next run completes or replaces it).
    static func incompleteDecisions(_ copies: [RemoteCopy], newestComplete: Date?) -> [RetentionDecision] {
        copies.filter { !$0.hasManifest }.map { copy in
            if let newestComplete, copy.time < newestComplete {
                return RetentionDecision(file: copy.file, time: copy.time, keep: false, reasons: ["incomplete copy (no manifest), older than the newest complete one"])
            }
            return RetentionDecision(file: copy.file, time: copy.time, keep: true, reasons: ["incomplete copy (no manifest): the next backup run completes it"])
        }
    }
}
