// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

extension RestoreService {
    /// One restore under way: what was asked, the source chosen for it, the temp file it builds
    /// and the ledger its outcome goes to. Each step of `RestoreService.restore` is one function here.
    struct InProgress {
        let request: Request
        let source: Source
        let started: ContinuousClock.Instant
        let context: OpsContext
        let ledger: Ledger?
        /// Next to the target (the same file system: the rename is atomic); removed whatever happens.
        let temporary: String

        init(_ request: Request, source: Source, started: ContinuousClock.Instant, context: OpsContext) throws(OpsError) {
            self.request = request
            self.source = source
            self.started = started
            self.context = context
            ledger = try request.ledgerPath.map { path throws(OpsError) in try context.ledger(path) }
            temporary = "\(request.targetDirectory)/\(BackupNaming.temporaryPrefix)restore-\(getpid()).db"
        }

        /// The identities, fetched only for an encrypted source (an identity command runs only when
        /// it must); without one the restore stops here.
        func keys() async throws(OpsError) -> BackupKeys {
            guard source.encrypted else { return .none("not needed") }
            let keys = try await request.keys()
            guard keys.hasIdentity else { throw recordedAsFailed(keys.missing(for: sourceFileName)) }
            return keys
        }

        /// The backup lock, held from the verification through the swap: a cron backup must not
        /// interleave. On a new host after a disaster the backup directory may not exist yet: the
        /// lock and the safety copy live there.
        func lock() throws(OpsError) -> FileLock {
            if source.isRemote { try FileManager.default.createDirectoryIfNeeded(request.backupDirectory) }
            return try FileLock.acquire(path: BackupNaming.lockPath(directory: request.backupDirectory, name: request.name),
                                        what: "a backup or restore of \(request.name)", command: "opsctl restore", now: context.now)
        }

        /// The database inflated (or rebuilt) and verified into the temp file; nothing else is touched.
        func materializeAndVerify(keys: BackupKeys) throws(OpsError) -> Materialized {
            let materialized: Materialized
            do throws(OpsError) {
                materialized = try source.materialize(into: temporary, keys: keys, context: context)
            } catch {
                throw recordedAsFailed(error)
            }
            guard materialized.verification.ok else {
                let reason = "\(sourceFileName) failed verification: \(materialized.verification.reason ?? "unknown"); nothing was changed"
                throw recordedAsFailed(OpsError(.checkFailed, code: "restore.bad_backup", reason))
            }
            return materialized
        }

        /// The safety copy, the swap, the check of what is now in place, recorded. With --pause, a
        /// failure here starts the app again before it is reported.
        func swapAndCheck() async throws(OpsError) -> Swapped {
            do throws(OpsError) {
                return try swapKeepingASafetyCopy()
            } catch {
                guard let pause = request.pause else { throw error }
                let outcome = await pause.startApp()
                throw OpsError(error.kind, code: error.code, error.message + "; " + outcome.afterUndo, details: error.details)
            }
        }

        func swapKeepingASafetyCopy() throws(OpsError) -> Swapped {
            let safetyCopy = try keepSafetyCopy()
            try DatabaseSwap.swapIn(temporary, over: request.target, purpose: .restore)
            let check = VerifyService.checkLive(request.target)
            try record(check.ok ? .succeeded : .failed, safetyCopy: safetyCopy, reason: check.reason)
            return Swapped(safetyCopy: safetyCopy, check: check)
        }

        /// A copy of the database there now, unless this is a drill (the live database is never
        /// touched) or there is none yet.
        func keepSafetyCopy() throws(OpsError) -> String? {
            guard !request.isDrill, FileManager.default.fileExists(atPath: request.target) else { return nil }
            return try DatabaseSwap.safetyCopy(of: request.target, directory: request.backupDirectory, name: request.name,
                                               encryption: request.encryption, purpose: .restore, context: context)
        }

        /// Thrown once the app is back (or was never stopped): the swap recorded the failure already.
        func requirePassedCheck(_ swapped: Swapped) throws(OpsError) {
            guard !swapped.check.ok else { return }
            throw OpsError(.checkFailed, code: "restore.check_failed", "\(request.target) failed quick_check after the restore: \(swapped.check.reason ?? "")",
                           details: swapped.safetyCopy.map { ["the previous database is in \($0)"] } ?? [])
        }

        func report(_ materialized: Materialized, swapped: Swapped, pause: PauseOutcome?) -> RestoreReport {
            var report = RestoreReport(backup: source.label, target: request.target, drill: request.isDrill, safetyCopy: swapped.safetyCopy,
                                       verification: materialized.verification, durationMs: (ContinuousClock.now - started).milliseconds)
            report.replica = materialized.replicaPoint
            report.pause = pause
            return report
        }

        /// The failure recorded in the ledger (when there is one and it can take it), handed back to be thrown.
        func recordedAsFailed(_ error: OpsError) -> OpsError {
            try? record(.failed, safetyCopy: nil, reason: error.message)
            return error
        }

        func record(_ status: RestoreStatus, safetyCopy: String?, reason: String?) throws(OpsError) {
            try ledger?.recordRestore(env: request.env, backup: source.label, target: request.target, drill: request.isDrill, safetyCopy: safetyCopy,
                                      status: status, reason: reason, actor: context.actor, at: context.now())
        }

        var sourceFileName: String { URL(fileURLWithPath: source.label).lastPathComponent }
    }

    /// What the swap left in place: the safety copy of the database it replaced, and the check of the new one.
    struct Swapped {
        var safetyCopy: String?
        var check: VerifyReport.LiveCheck
    }
}
