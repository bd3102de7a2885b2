// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A vacuum without auto_vacuum=incremental: `VACUUM INTO` a new file next to the database
/// (the live file is only read), `integrity_check` on it, then the swap under the same rules as
/// `opsctl restore`: nothing may have the database open (the `SwapPause` decides), the backup
/// lock is held, a safety copy is kept, the rename is atomic.
struct VacuumSwap {
    let request: DatabaseRequest
    /// `--auto-vacuum`: the new file's mode (nil keeps the current one).
    let autoVacuum: AutoVacuum?

    struct Outcome {
        var safetyCopy: String
        var generation: String
        /// Behind the proxy: what users met while they were held.
        var pause: PauseOutcome?
    }

    var scratch: String {
        "\(URL(fileURLWithPath: request.path).deletingLastPathComponent().path)/\(BackupNaming.temporaryPrefix)vacuum-\(getpid()).db"
    }

    func run(_ facts: DatabaseFacts, context: OpsContext) async throws(OpsError) -> Outcome {
        guard let directory = request.backupDirectory else {
            throw OpsError(.config, code: "config.missing", "a vacuum that swaps a new file in keeps a safety copy in backup.dir, which \(request.env) does not set",
                           details: ["add backup.dir, or switch the database to auto_vacuum=incremental"])
        }
        guard let pause = request.pause else {
            throw OpsError(.software, code: "database.no_pause", "no way to keep the app off \(request.path) was given; nothing was changed")
        }
        try requireSpace(facts)
        try await pause.pause(database: request.path, context: context)
        var outcome: Outcome
        do {
            outcome = try swap(facts, directory: directory, context: context)
        } catch {
            // The old file is still in place (the rename is the swap's last step).
            guard let resumed = await pause.resume(context: context) else { throw error }
            throw OpsError(error.kind, code: error.code, error.message + "; " + resumed.afterUndo, details: error.details)
        }
        outcome.pause = await pause.resume(context: context)
        return outcome
    }

    /// The new file needs room for every page in use, next to the database.
    func requireSpace(_ facts: DatabaseFacts) throws(OpsError) {
        let directory = URL(fileURLWithPath: request.path).deletingLastPathComponent().path
        let needed = Int64(facts.pageCount - facts.freelistPages) * Int64(facts.pageSize) + (1 << 20)
        guard let free = DiskUsage.of(directory)?.freeBytes, free < needed else { return }
        throw OpsError(.io, code: "database.no_space", "\(directory): \(ByteCount.format(free)) free, the vacuumed copy needs about \(ByteCount.format(needed)); nothing was changed",
                       details: ["free space on that filesystem, or prune old files"])
    }

    private func swap(_ facts: DatabaseFacts, directory: String, context: OpsContext) throws(OpsError) -> Outcome {
        try BackupService.createDirectory(directory)
        let lock = try FileLock.acquire(path: BackupNaming.lockPath(directory: directory, name: request.backupName),
                                        what: "a backup, restore or vacuum of \(request.backupName)", command: "opsctl db vacuum", now: context.now)
        defer { lock.release() }
        let scratch = self.scratch
        defer { for suffix in ["", "-journal", "-wal", "-shm"] { unlink(scratch + suffix) } }
        let safetyCopy = try prepare(scratch, directory: directory, context: context)
        try DatabaseSwap.swapIn(scratch, over: request.path, purpose: .vacuum)
        return Outcome(safetyCopy: safetyCopy, generation: UUID().uuidString.lowercased())
    }

    /// The checked copy in `scratch` and the safety copy; returns once its connection to the
    /// live database is closed (the last one: SQLite folds the WAL in as it closes).
    private func prepare(_ scratch: String, directory: String, context: OpsContext) throws(OpsError) -> String {
        let busyTimeout = request.limits.busyTimeout
        let live = try DatabaseFile.open(request.path, busyTimeout: busyTimeout)
        let version = try dataVersion(live)
        try DatabaseFile.run(live, busyTimeout: busyTimeout) { () throws(OpsError) in
            // Takes effect in the new file only: an existing file changes auto_vacuum by a vacuum alone.
            if let autoVacuum { try live.execute("PRAGMA auto_vacuum = \(autoVacuum.rawValue.uppercased())") }
            context.logger.info("VACUUM INTO \(scratch)")
            try live.query("VACUUM INTO ?", [.text(scratch)])
        }
        try checkCopy(scratch)
        let safetyCopy = try DatabaseSwap.safetyCopy(of: request.path, directory: directory, name: request.backupName, encryption: request.encryption,
                                                     purpose: .vacuum, context: context)
        // The last look before the rename: nobody opened or wrote the database since the copy began.
        do throws(OpsError) {
            try RefuseWhileInUse.refuseWhileOpen(request.path, replicaDirectory: request.replicaDirectory)
            guard try dataVersion(live) == version else {
                throw OpsError(.databaseBusy, code: "database.written_during_vacuum",
                               "\(request.path) was written while it was being vacuumed; nothing was swapped", details: ["run it again when nothing writes the database"])
            }
        } catch {
            for file in [safetyCopy, safetyCopy + BackupNaming.manifestSuffix] { unlink(file) }
            throw error
        }
        return safetyCopy
    }

    /// Changes whenever another connection commits (SQLite's own change counter for this connection's view).
    func dataVersion(_ database: SQLiteDatabase) throws(OpsError) -> Int {
        try DatabaseFile.run(database, busyTimeout: request.limits.busyTimeout) { () throws(OpsError) in try database.pragmaInt("data_version") }
    }

    /// The copy passes `integrity_check` and is left in WAL mode like the original.
    func checkCopy(_ path: String) throws(OpsError) {
        let copy = try SQLiteDatabase(path: path, mode: .readWrite)
        let problems = try copy.query("PRAGMA integrity_check").compactMap { $0.string(0) }
        guard problems == ["ok"] else {
            throw OpsError(.databaseCorrupt, code: "database.vacuum_check_failed",
                           "the vacuumed copy of \(request.path) failed integrity_check: \(problems.prefix(3).joined(separator: "; ")); nothing was changed",
                           details: ["opsctl verify \(request.env) checks the backups; the live database may need opsctl restore"])
        }
        try copy.execute("PRAGMA journal_mode = WAL")
    }
}
