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
    /// `--at`: the point of the replica restored (the last cut at or before the moment asked for).
    public var replica: ReplicaRestore.Result?
    /// `--pause`: how users were held while the app was stopped, restored and started.
    public var pause: PauseOutcome?

    /// 4 when the app did not come back healthy after a paused restore: users get the maintenance page.
    public var exitCode: Int32 { pause?.healthy == false ? OpsError.Kind.serviceMayBeDown.exitCode : 0 }

    public func renderText() -> String {
        var lines = ["restored \(replica == nil ? URL(fileURLWithPath: backup).lastPathComponent : backup) -> \(target)" + (drill ? " (drill: the live database was not touched)" : "")]
        if let replica {
            lines.append("  point     \(PointInTime.format(replica.point)) (generation \(replica.generation), snapshot + \(replica.segments) segment(s))")
            lines.append("  verified  \(replica.pageCount) pages, every segment's checksum, quick_check ok before and after")
        } else {
            lines.append("  verified  \(verification.pageCount ?? 0) pages, \(verification.hasManifest ? "sha256 matches the manifest" : "no manifest"), quick_check ok before and after")
        }
        if let safetyCopy { lines.append("  safety    the previous database is in \(safetyCopy)") }
        if let pause { lines += pause.lines.map { "  pause     " + $0 } }
        lines.append("  took      \(durationMs) ms")
        return lines.joined(separator: "\n")
    }
}

/// What `restore --pause` does around the swap: hold users' requests in nginx and stop the app
/// before it, start the app again and let them through after it.
public protocol RestorePause: Sendable {
    /// Holds every new request, lets those on their way finish, stops the app. Throws with
    /// nothing changed for users when it cannot.
    func stopApp() async throws(OpsError)
    /// Starts the app again and, once it is healthy, lets the held requests through.
    func startApp() async -> PauseOutcome
}

/// How a paused restore went for users.
public struct PauseOutcome: Sendable, Codable, Equatable {
    public var bound: OpsDuration
    /// Releases stopped for the restore (kept), and the one started again.
    public var stopped: [String] = []
    public var started: String?
    /// The app answered healthy again and the held requests went on to it.
    public var healthy = false
    /// From the start of the pause to the release.
    public var heldMs: Int?
    public var gate: GateTally?
    public var problem: String?
    public var steps: [String] = []

    public init(bound: OpsDuration) { self.bound = bound }

    /// What users got after a pause that ended with nothing changed (a refusal, a failed swap).
    public var afterUndo: String {
        healthy ? "the app runs again on the old database, users were let through" : "the app did not come back: \(problem ?? "")"
    }

    var lines: [String] {
        var lines = steps
        if let gate {
            lines.append("held \(gate.held) request(s), released \(gate.released) to the app, \(gate.refused) got the maintenance page; longest hold \(TextFormat.duration(milliseconds: gate.longestHoldMs)) (bound \(bound))")
        }
        if let problem { lines.append("PROBLEM: \(problem)") }
        return lines
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
        /// `--at`: rebuild the database as of this moment from the replica (local, or off-site with `remote`).
        public var pointInTime: PointInTime?
        /// `backup.replica`, for `--at`.
        public var replica: ReplicaSettings?
        /// `--pause`: users' requests wait in nginx while the app is stopped, restored and started again.
        public var pause: (any RestorePause)?

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
        let source = try Source.choose(request, context: context)
        let backupPath = source.label
        let drill = request.destination != nil
        let target = request.destination ?? request.liveDatabase
        let targetDirectory = URL(fileURLWithPath: target).deletingLastPathComponent().path

        if drill, FileManager.default.fileExists(atPath: target), !request.force {
            throw OpsError(.usage, code: "restore.target_exists", "\(target) exists; pass --force to overwrite it")
        }
        if !drill, !request.force, request.pause == nil {
            try await DatabaseSwap.refuseWhileAppRuns(env: request.env, runtime: request.runtime, purpose: .restore)
        }
        guard access(targetDirectory, W_OK) == 0 else {
            throw OpsError(.io, code: "restore.target_unwritable", "\(targetDirectory): cannot write there: \(String(cString: strerror(errno)))")
        }
        let ledger = try request.ledgerPath.map { path throws(OpsError) in try context.ledger(path) }
        func recordFailure(_ reason: String) {
            try? ledger?.recordRestore(env: request.env, backup: backupPath, target: target, drill: drill, safetyCopy: nil, status: .failed,
                                       reason: reason, actor: context.actor, at: context.now())
        }
        let keys = source.encrypted ? try await request.keys() : .none("not needed")
        if source.encrypted, !keys.hasIdentity {
            let error = keys.missing(for: URL(fileURLWithPath: backupPath).lastPathComponent)
            recordFailure(error.message)
            throw error
        }
        // On a new host after a disaster the backup directory may not exist yet: the lock and the safety copy live there.
        if source.isRemote { try FileManager.default.createDirectoryIfNeeded(request.backupDirectory) }
        // Held from the verification through the swap: a cron backup must not interleave.
        let lock = try FileLock.acquire(path: BackupNaming.lockPath(directory: request.backupDirectory, name: request.name),
                                        what: "a backup or restore of \(request.name)", command: "opsctl restore", now: context.now)
        defer { lock.release() }

        // 1. Inflate (or rebuild) and verify into a temp file next to the target (same file system: rename is atomic).
        let temporary = "\(targetDirectory)/\(BackupNaming.temporaryPrefix)restore-\(getpid()).db"
        defer { unlink(temporary) }
        let verification: VerificationResult
        let replicaPoint: ReplicaRestore.Result?
        do throws(OpsError) {
            (verification, replicaPoint) = try source.materialize(into: temporary, request: request, keys: keys, context: context)
        } catch {
            recordFailure(error.message)
            throw error
        }
        guard verification.ok else {
            let reason = "\(URL(fileURLWithPath: backupPath).lastPathComponent) failed verification: \(verification.reason ?? "unknown"); nothing was changed"
            recordFailure(reason)
            throw OpsError(.checkFailed, code: "restore.bad_backup", reason)
        }

        // From here on, with --pause, the app is stopped and users wait in nginx until it is back.
        if let pause = request.pause { try await pause.stopApp() }
        let swapped: (safetyCopy: String?, after: VerifyReport.LiveCheck)
        do throws(OpsError) {
            swapped = try swap(request, temporary: temporary, target: target, drill: drill, backupPath: backupPath, ledger: ledger, context: context)
        } catch {
            guard let pause = request.pause else { throw error }
            let outcome = await pause.startApp()
            throw OpsError(error.kind, code: error.code, error.message + "; " + outcome.afterUndo, details: error.details)
        }
        let pause = await request.pause?.startApp()
        guard swapped.after.ok else {
            throw OpsError(.checkFailed, code: "restore.check_failed", "\(target) failed quick_check after the restore: \(swapped.after.reason ?? "")",
                           details: swapped.safetyCopy.map { ["the previous database is in \($0)"] } ?? [])
        }
        var report = RestoreReport(backup: backupPath, target: target, drill: drill, safetyCopy: swapped.safetyCopy, verification: verification,
                                   durationMs: (ContinuousClock.now - started).milliseconds)
        report.replica = replicaPoint
        report.pause = pause
        return report
    }

    /// Steps 2-4: the safety copy, the atomic swap, the check of what is now in place (recorded).
    static func swap(_ request: Request, temporary: String, target: String, drill: Bool, backupPath: String, ledger: Ledger?,
                     context: OpsContext) throws(OpsError) -> (safetyCopy: String?, after: VerifyReport.LiveCheck) {
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
        return (safetyCopy, after)
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
