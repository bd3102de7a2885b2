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
        func materialize(into temporary: String, request: Request, keys: BackupKeys,
                         context: OpsContext) throws(OpsError) -> (VerificationResult, ReplicaRestore.Result?) {
            let directory = URL(fileURLWithPath: temporary).deletingLastPathComponent().path
            switch self {
            case .backup(let path):
                return (try verifyInto(path, temporary: temporary, keys: keys), nil)
            case .remote(let copy, let settings):
                return (try RemoteVerifier.verify(copy, client: S3Client(settings: settings, logger: context.logger), deep: false,
                                                  temporaryDirectory: directory, keepAs: temporary, keys: keys), nil)
            case .replica(let source, let chain):
                let started = ContinuousClock.now
                let point = try ReplicaRestore.materialize(chain, from: source, into: temporary, keys: keys)
                let check = VerifyService.checkLive(temporary)
                // The check's read-only connection leaves an empty WAL and index beside the file.
                for suffix in ["-wal", "-shm"] { unlink(temporary + suffix) }
                var result = VerificationResult(file: label, ok: check.ok, reason: check.reason, hasManifest: false, compressedBytes: chain.reduce(0) { $0 + $1.bytes },
                                                databaseBytes: Int64(point.pageCount) * Int64(point.pageSize), pageCount: point.pageCount, deep: false,
                                                durationMs: (ContinuousClock.now - started).milliseconds)
                result.encrypted = encrypted
                return (result, point)
            }
        }
    }
}
