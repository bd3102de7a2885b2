// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Replacing a live database file, as `opsctl restore` and `opsctl db vacuum` both do: refuse
/// while the app runs, keep a safety copy, move the new file in atomically. The caller holds the
/// backup lock from before the safety copy through the swap, so no cron backup slips in between.
public enum DatabaseSwap {
    /// Why a swap is about to happen, for the messages and error codes of each command.
    public struct Purpose: Sendable {
        /// `restore` or `database`: the error codes' area.
        var area: String
        /// "restoring": what a running app would lose its writes to.
        var doing: String
        /// "restore": what is refused when the runtime cannot say whether the app runs.
        var verb: String
        /// What the refusal suggests beside stopping the app.
        var alternatives: String
        /// `.pre-restore.db.gz`, `.pre-vacuum.db.gz`: never counted or pruned as a backup.
        var safetySuffix: String
        var safetyHints: [String]
        /// "the restored database", for a failed rename.
        var newFile: String
        /// "the restore": what a paused app is stopped for, in a pause's steps and messages.
        var task: String
        /// "nothing was restored": what a pause that could not stop the app leaves.
        var untouched: String
        /// Whose pause the ledger's maintenance row and status name.
        var pauseSource: MaintenanceRecord.Source

        public static let restore = Purpose(area: "restore", doing: "restoring", verb: "restore", alternatives: ", pass --force, or drill with --to PATH",
                                            safetySuffix: ".pre-restore.db.gz", safetyHints: ["pass --force with --to to restore elsewhere first"],
                                            newFile: "the restored database", task: "the restore", untouched: "nothing was restored", pauseSource: .restore)
        public static let vacuum = Purpose(area: "database", doing: "swapping a vacuumed copy in", verb: "swap a vacuumed copy in",
                                           alternatives: "; with auto_vacuum=incremental a vacuum runs while the app does",
                                           safetySuffix: ".pre-vacuum.db.gz", safetyHints: [], newFile: "the vacuumed database",
                                           task: "the vacuum's swap", untouched: "nothing was swapped", pauseSource: .vacuum)
    }

    /// Refuses while the runtime (docker, compose, the Swarm service) says the app runs, or
    /// cannot say: a swap under a live app loses its writes.
    public static func refuseWhileAppRuns(env: String, runtime: (any ReleaseDriver)?, purpose: Purpose) async throws(OpsError) {
        guard let runtime else { return }
        let running: [DeployedRelease]
        do {
            running = try await runtime.releases().filter(\.running)
        } catch {
            throw OpsError(error.kind, code: error.code, "cannot tell whether the app of \(env) is running (\(error.message)); refusing to \(purpose.verb)",
                           details: ["stop the app and retry" + purpose.alternatives])
        }
        if !running.isEmpty {
            throw OpsError(.checkFailed, code: "\(purpose.area).app_running",
                           "\(running.map(\.container).joined(separator: ", ")) is running; \(purpose.doing) under a live app loses its writes",
                           details: ["stop it (docker stop \(running[0].container)) and retry" + purpose.alternatives])
        }
    }

    /// A gzip backup of `database` into `directory` as `<name>_<stamp><suffix>` (encrypted like
    /// every backup when `encryption` is set). The caller holds the backup lock.
    public static func safetyCopy(of database: String, directory: String, name: String, encryption: BackupEncryption?, purpose: Purpose,
                                  context: OpsContext) throws(OpsError) -> String {
        var safety = BackupRequest(databasePath: database, directory: directory, name: name)
        safety.suffix = purpose.safetySuffix
        safety.prune = false
        safety.callerHoldsLock = true
        safety.encryption = encryption
        do {
            return try BackupService.run(safety, context: context).path
        } catch {
            throw OpsError(error.kind, code: "\(purpose.area).safety_copy_failed",
                           "cannot keep a safety copy of \(database) (\(error.message)); nothing was changed", details: purpose.safetyHints)
        }
    }

    /// Moves `replacement` (a file in the target's directory: rename is atomic there) over
    /// `target`. The old database's WAL and shared memory belong to it: they are folded in and
    /// removed first, so SQLite never replays an old WAL onto the new file. A kill at any point
    /// leaves the old database or the new one, never a mix.
    public static func swapIn(_ replacement: String, over target: String, purpose: Purpose) throws(OpsError) {
        if FileManager.default.fileExists(atPath: target), let old = try? SQLiteDatabase(path: target, mode: .readWrite) {
            _ = try? old.query("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        for suffix in ["-wal", "-shm", "-journal"] { unlink(target + suffix) }
        guard rename(replacement, target) == 0 else {
            throw OpsError(.io, code: "\(purpose.area).rename_failed", "cannot move \(purpose.newFile) into \(target): \(String(cString: strerror(errno)))")
        }
        AtomicFile.syncDirectory(URL(fileURLWithPath: target).deletingLastPathComponent().path)
    }
}
