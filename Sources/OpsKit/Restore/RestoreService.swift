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

    /// The restore, step by step; nothing is changed before the swap. The ledger records a failed
    /// restore when the identity is missing or the source cannot be materialized or verified, and
    /// the outcome of every swap.
    public static func restore(_ request: Request, context: OpsContext) async throws(OpsError) -> RestoreReport {
        let started = ContinuousClock.now
        let source = try Source.choose(request, context: context)
        try await refuseBeforeStarting(request)
        let restore = try InProgress(request, source: source, started: started, context: context)
        let keys = try await restore.keys()
        let lock = try restore.lock()
        defer { lock.release() }
        defer { unlink(restore.temporary) }
        let materialized = try restore.materializeAndVerify(keys: keys)
        // From here on, with --pause, the app is stopped and users wait in nginx until it is back.
        try await request.pause?.stopApp()
        let swapped = try await restore.swapAndCheck()
        let pause = await request.pause?.startApp()
        try restore.requirePassedCheck(swapped)
        return restore.report(materialized, swapped: swapped, pause: pause)
    }

    /// What is refused before anything starts: a drill over an existing file (without --force), a
    /// restore under a running app (unless --force, or --pause stops it), a target directory that
    /// cannot be written.
    static func refuseBeforeStarting(_ request: Request) async throws(OpsError) {
        if request.isDrill, FileManager.default.fileExists(atPath: request.target), !request.force {
            throw OpsError(.usage, code: "restore.target_exists", "\(request.target) exists; pass --force to overwrite it")
        }
        if !request.isDrill, !request.force, request.pause == nil {
            try await DatabaseSwap.refuseWhileAppRuns(env: request.env, runtime: request.runtime, purpose: .restore)
        }
        guard access(request.targetDirectory, W_OK) == 0 else {
            throw OpsError(.io, code: "restore.target_unwritable", "\(request.targetDirectory): cannot write there: \(String(cString: strerror(errno)))")
        }
    }
}

extension RestoreService.Request {
    /// `--to`: a drill, which never touches the live database.
    var isDrill: Bool { destination != nil }
    /// Where the restored database goes.
    var target: String { destination ?? liveDatabase }
    var targetDirectory: String { URL(fileURLWithPath: target).deletingLastPathComponent().path }
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
