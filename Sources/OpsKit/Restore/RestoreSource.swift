// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

extension RestoreService {
    /// What a restore rebuilds the database from: a local backup, an off-site copy, or a point of
    /// the replica (`--at`). Chosen before anything is touched, so a bad name or a moment outside
    /// the window fails with nothing changed.
    enum Source {
        case backup(path: String)
        case remote(RemoteCopy, OffsiteSettings)
        case replica(ReplicaSource, chain: [ReplicaPoint])

        static func choose(_ request: Request, context: OpsContext) throws(OpsError) -> Source {
            if let time = request.pointInTime {
                guard let settings = request.replica else {
                    throw OpsError(.config, code: "config.missing", "restore --at needs environments.\(request.env).backup.replica (continuous replication)")
                }
                let source: ReplicaSource = request.remote.map { .remote($0, logger: context.logger) }
                    ?? .local(ReplicaStore(directory: settings.dir, encryption: request.encryption))
                let heartbeat = request.remote == nil ? ReplicaStatus.read(ReplicaStore(directory: settings.dir, encryption: nil).statusPath) : nil
                let chain = try ReplicaRestore.chain(for: time, in: try source.catalog(), source: source.label, confirmedUntil: heartbeat)
                return .replica(source, chain: chain)
            }
            if let settings = request.remote { return .remote(try RemoteRestore.choose(request, settings: settings, context: context), settings) }
            return .backup(path: try chooseBackup(request))
        }

        /// Names the source in the report and the ledger.
        var label: String {
            switch self {
            case .backup(let path): path
            case .remote(let copy, _): copy.url
            case .replica(let source, let chain): "\(source.label) at \(PointInTime.format(chain.last!.time))"
            }
        }

        var encrypted: Bool {
            switch self {
            case .backup(let path): RestoreService.isEncrypted(path)
            case .remote(let copy, _): RestoreService.isEncrypted(copy.url)
            case .replica(_, let chain): chain.contains(where: \.encrypted)
            }
        }

        var isRemote: Bool {
            switch self {
            case .backup: false
            case .remote: true
            case .replica(let source, _): if case .remote = source { true } else { false }
            }
        }

        /// The database, inflated (or rebuilt) and checked, into `temporary`.
        func materialize(into temporary: String, keys: BackupKeys, context: OpsContext) throws(OpsError) -> Materialized {
            let directory = URL(fileURLWithPath: temporary).deletingLastPathComponent().path
            switch self {
            case .backup(let path):
                return Materialized(verification: try verifyInto(path, temporary: temporary, keys: keys))
            case .remote(let copy, let settings):
                return Materialized(verification: try RemoteVerifier.verify(copy, client: S3Client(settings: settings, logger: context.logger), deep: false,
                                                                            temporaryDirectory: directory, keepAs: temporary, keys: keys))
            case .replica(let source, let chain):
                return try rebuild(chain, from: source, into: temporary, keys: keys)
            }
        }

        /// `--at`: the replica's snapshot and segments up to the point, then quick_check, reported as a verification.
        func rebuild(_ chain: [ReplicaPoint], from source: ReplicaSource, into temporary: String, keys: BackupKeys) throws(OpsError) -> Materialized {
            let started = ContinuousClock.now
            let point = try ReplicaRestore.materialize(chain, from: source, into: temporary, keys: keys)
            let check = VerifyService.checkLive(temporary)
            // The check's read-only connection leaves an empty WAL and index beside the file.
            for suffix in ["-wal", "-shm"] { unlink(temporary + suffix) }
            var result = VerificationResult(file: label, ok: check.ok, reason: check.reason, hasManifest: false, compressedBytes: chain.reduce(0) { $0 + $1.bytes },
                                            databaseBytes: Int64(point.pageCount) * Int64(point.pageSize), pageCount: point.pageCount, deep: false,
                                            durationMs: (ContinuousClock.now - started).milliseconds)
            result.encrypted = encrypted
            return Materialized(verification: result, replicaPoint: point)
        }
    }

    /// The database a source left in the temp file, and what checking it found.
    struct Materialized {
        var verification: VerificationResult
        /// `--at`: the point of the replica rebuilt.
        var replicaPoint: ReplicaRestore.Result?
    }

    /// The named backup, or the newest one whose manifest says it verified.
    static func chooseBackup(_ request: Request) throws(OpsError) -> String {
        if let backup = request.backup {
            let path = backup.contains("/") ? backup : "\(request.backupDirectory)/\(backup)"
            guard FileManager.default.fileExists(atPath: path) else { throw OpsError(.usage, code: "restore.no_such_backup", "\(path): no such backup") }
            return path
        }
        let entries = try BackupCatalog.list(directory: request.backupDirectory, name: request.name)
        guard let newest = entries.first(where: \.verified) else {
            throw OpsError(.checkFailed, code: "restore.none_verified",
                           "no verified backup of \(request.name) in \(request.backupDirectory)",
                           details: ["run `opsctl verify \(request.env)`, or name a backup: opsctl restore \(request.env) FILE"])
        }
        return newest.path
    }

    static func verifyInto(_ backup: String, temporary: String, keys: BackupKeys) throws(OpsError) -> VerificationResult {
        // The verifier inflates into a scratch file it removes; here that file is the one we keep.
        try BackupVerifier.verify(path: backup, deep: false, temporaryDirectory: URL(fileURLWithPath: temporary).deletingLastPathComponent().path,
                                  keepAs: temporary, keys: keys)
    }

    /// By its name (`.age`, local or off-site) or, for a local file under another name, its first bytes.
    static func isEncrypted(_ path: String) -> Bool {
        if BackupNaming.isEncrypted(path) { return true }
        guard !path.hasPrefix("s3://"), let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return ((try? handle.read(upToCount: 19)) ?? Data()).starts(with: Array(AgeHeader.versionPrefix.utf8))
    }
}
