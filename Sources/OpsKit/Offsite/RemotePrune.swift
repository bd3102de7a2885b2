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
        let ledger = try ledgerPath.map { path throws(OpsError) in try Ledger(path: path) }
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
        let decisions = policy.decide(copies.map { copy in
            (file: copy.file, time: copy.time, verified: (try? ledger?.isVerified(file: copy.url)) == true)
        })
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
        return PruneReport(directory: client.settings.url, name: name, policy: policy.summary, dryRun: dryRun, decisions: decisions, deleted: deleted)
    }
}
