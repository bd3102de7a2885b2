// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl restore`: the disaster-recovery path, without its risks. Verify first; refuse while
/// the app runs; keep a safety copy of the current database; write the new one beside it and
/// rename it into place atomically; check it afterwards.
public struct RestoreReport: Report {
    public var backup: String
    public var target: String
    public var drill: Bool
    public var safetyCopy: String?
    public var verification: VerificationResult
    public var durationMs: Int

    public func renderText() -> String {
        var lines = ["restored \(URL(fileURLWithPath: backup).lastPathComponent) -> \(target)" + (drill ? " (drill: the live database was not touched)" : "")]
        lines.append("  verified  \(verification.pageCount ?? 0) pages, \(verification.hasManifest ? "sha256 matches the manifest" : "no manifest"), quick_check ok before and after")
        if let safetyCopy { lines.append("  safety    the previous database is in \(safetyCopy)") }
        lines.append("  took      \(durationMs) ms")
        return lines.joined(separator: "\n")
    }
}

public enum RestoreService {
    public struct Request: Sendable {
        public var env: String
        public var backupDirectory: String
        public var name: String
        /// A file name in the backup directory or a path; nil: the newest verified backup.
        public var backup: String?
        public var liveDatabase: String
        /// `--to`: restore here instead (a drill); the live database is never touched.
        public var destination: String?
        public var force: Bool
        /// What runs the app, to refuse a restore under it; nil when there is nothing to ask.
        public var runtime: (any ReleaseDriver)?
        public var ledgerPath: String?
        /// `--remote`: the backup comes from the off-site copies, streamed and verified on the way in.
        public var remote: OffsiteSettings?
        /// The identities for an encrypted backup, fetched only when the chosen backup is one
        /// (an identity command runs only when it must).
        public var keys: @Sendable () async throws(OpsError) -> BackupKeys = { .none("no identity was given") }
        /// `backup.encryption`: the safety copy of the current database is encrypted like any backup.
        public var encryption: BackupEncryption?

        public init(env: String, backupDirectory: String, name: String, backup: String?, liveDatabase: String, destination: String?,
                    force: Bool, runtime: (any ReleaseDriver)?, ledgerPath: String?) {
            self.env = env
            self.backupDirectory = backupDirectory
            self.name = name
            self.backup = backup
            self.liveDatabase = liveDatabase
            self.destination = destination
            self.force = force
            self.runtime = runtime
            self.ledgerPath = ledgerPath
        }
    }

    public static func restore(_ request: Request, context: OpsContext) async throws(OpsError) -> RestoreReport {
        let started = ContinuousClock.now
        let remoteCopy = try request.remote.map { settings throws(OpsError) in try RemoteRestore.choose(request, settings: settings, context: context) }
        var backupPath = remoteCopy?.url ?? ""
        if remoteCopy == nil { backupPath = try chooseBackup(request) }
        let drill = request.destination != nil
        let target = request.destination ?? request.liveDatabase
        let targetDirectory = URL(fileURLWithPath: target).deletingLastPathComponent().path

        if drill, FileManager.default.fileExists(atPath: target), !request.force {
            throw OpsError(.usage, code: "restore.target_exists", "\(target) exists; pass --force to overwrite it")
        }
        if !drill, !request.force {
            try await DatabaseSwap.refuseWhileAppRuns(env: request.env, runtime: request.runtime, purpose: .restore)
        }
        guard access(targetDirectory, W_OK) == 0 else {
            throw OpsError(.io, code: "restore.target_unwritable", "\(targetDirectory): cannot write there: \(String(cString: strerror(errno)))")
        }
        let ledger = try request.ledgerPath.map { path throws(OpsError) in try Ledger(path: path) }
        let keys = Self.isEncrypted(backupPath) ? try await request.keys() : .none("not needed")
        if Self.isEncrypted(backupPath), !keys.hasIdentity {
            let error = keys.missing(for: URL(fileURLWithPath: backupPath).lastPathComponent)
            try? ledger?.recordRestore(env: request.env, backup: backupPath, target: target, drill: drill, safetyCopy: nil, status: .failed,
                                       reason: error.message, actor: context.actor, at: context.now())
            throw error
        }
        // On a new host after a disaster the backup directory may not exist yet: the lock and the safety copy live there.
        if request.remote != nil { try FileManager.default.createDirectoryIfNeeded(request.backupDirectory) }
        // Held from the verification through the swap: a cron backup must not interleave.
        let lock = try FileLock.acquire(path: BackupNaming.lockPath(directory: request.backupDirectory, name: request.name),
                                        what: "a backup or restore of \(request.name)", command: "opsctl restore", now: context.now)
        defer { lock.release() }

        // 1. Inflate and verify into a temp file next to the target (same file system: rename is atomic).
        let temporary = "\(targetDirectory)/\(BackupNaming.temporaryPrefix)restore-\(getpid()).db"
        defer { unlink(temporary) }
        let verification: VerificationResult
        do throws(OpsError) {
            if let remoteCopy, let settings = request.remote {
                verification = try RemoteVerifier.verify(remoteCopy, client: S3Client(settings: settings, logger: context.logger), deep: false,
                                                         temporaryDirectory: targetDirectory, keepAs: temporary, keys: keys)
            } else {
                verification = try verifyInto(backupPath, temporary: temporary, keys: keys)
            }
        } catch {
            try? ledger?.recordRestore(env: request.env, backup: backupPath, target: target, drill: drill, safetyCopy: nil, status: .failed,
                                       reason: error.message, actor: context.actor, at: context.now())
            throw error
        }
        guard verification.ok else {
            let reason = "\(URL(fileURLWithPath: backupPath).lastPathComponent) failed verification: \(verification.reason ?? "unknown"); nothing was changed"
            try? ledger?.recordRestore(env: request.env, backup: backupPath, target: target, drill: drill, safetyCopy: nil, status: .failed,
                                       reason: reason, actor: context.actor, at: context.now())
            throw OpsError(.checkFailed, code: "restore.bad_backup", reason)
        }

        // 2. A safety copy of what is there now.
        var safetyCopy: String?
        if !drill, FileManager.default.fileExists(atPath: target) {
            safetyCopy = try DatabaseSwap.safetyCopy(of: target, directory: request.backupDirectory, name: request.name, encryption: request.encryption,
                                                     purpose: .restore, context: context)
        }

        // 3. Swap.
        try DatabaseSwap.swapIn(temporary, over: target, purpose: .restore)

        // 4. Check what is now in place.
        let after = VerifyService.checkLive(target)
        let status: RestoreStatus = after.ok ? .succeeded : .failed
        try ledger?.recordRestore(env: request.env, backup: backupPath, target: target, drill: drill, safetyCopy: safetyCopy, status: status,
                                  reason: after.reason, actor: context.actor, at: context.now())
        guard after.ok else {
            throw OpsError(.checkFailed, code: "restore.check_failed", "\(target) failed quick_check after the restore: \(after.reason ?? "")",
                           details: safetyCopy.map { ["the previous database is in \($0)"] } ?? [])
        }
        return RestoreReport(backup: backupPath, target: target, drill: drill, safetyCopy: safetyCopy, verification: verification,
                             durationMs: (ContinuousClock.now - started).milliseconds)
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

extension Ledger {
    public func recordRestore(env: String, backup: String, target: String, drill: Bool, safetyCopy: String?, status: RestoreStatus,
                              reason: String?, actor: String?, at date: Date) throws(OpsError) {
        try database.writeTransaction { () throws(OpsError) in
            try database.query("""
                INSERT INTO restores (env, backup, target, drill, safety_copy, status, reason, actor, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(env), .text(backup), .text(target), .integer(drill ? 1 : 0), .optional(safetyCopy), .text(status.rawValue), .optional(reason),
                      .optional(actor), .real(date.ledgerTime)])
        }
    }
}
