// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization
import Testing
@testable import OpsKit

/// Restore holds the backup lock from the verification through the swap: a cron backup that
/// slipped in between the safety copy and the swap would back up a database that is about to
/// be replaced, and retention could then prune the only good copy.
@Suite(.serialized)
struct RestoreLockTests {
    let directory = TemporaryDirectory("opsctl-restore-lock")

    /// Watches the lock file from another thread while a restore runs: who the holder record
    /// names, and whether the lock was ever free before the restored file was in place.
    final class LockWatcher: Sendable {
        let path: String
        let target: String
        let originalInode: UInt64
        let stop = Atomic<Bool>(false)
        let holders = Mutex<Set<String>>([])
        let freeBeforeSwap = Atomic<Int>(0)

        init(path: String, target: String) {
            self.path = path
            self.target = target
            var info = stat()
            stat(target, &info)
            originalInode = UInt64(info.st_ino)
        }

        func start() -> Thread {
            let thread = Thread { [self] in
                var sawHeld = false
                while !stop.load(ordering: .acquiring) {
                    let descriptor = open(path, O_RDWR | O_CLOEXEC)
                    guard descriptor >= 0 else { continue }
                    // A holder record is written only under the lock (and cleared before unlocking), so
                    // once one shows, the restore has taken the lock: from then on try to take it too.
                    // Trying earlier could beat the restore to it and fail it for the wrong reason.
                    if let holder = FileLock.readHolder(descriptor) {
                        holders.withLock { _ = $0.insert(holder.command) }
                        sawHeld = true
                    }
                    if sawHeld, flock(descriptor, LOCK_EX | LOCK_NB) == 0 {
                        var info = stat()
                        stat(target, &info)
                        if UInt64(info.st_ino) == originalInode { freeBeforeSwap.add(1, ordering: .relaxed) }
                        flock(descriptor, LOCK_UN)
                    }
                    close(descriptor)
                }
            }
            thread.start()
            return thread
        }
    }

    @Test func theLockIsHeldFromTheSafetyCopyThroughTheSwap() async throws {
        let live = directory.file("app.db")
        let backups = directory.file("backups")
        try await generateDatabase(live, megabytes: 8)
        var request = BackupRequest(databasePath: live, directory: backups, name: "app")
        request.prune = false
        let backup = try BackupService.run(request, context: OpsContext())
        _ = try BackupVerifier.verify(path: backup.path, deep: false, temporaryDirectory: directory.path)

        let watcher = LockWatcher(path: BackupNaming.lockPath(directory: backups, name: "app"), target: live)
        let thread = watcher.start()
        let restore = RestoreService.Request(env: "production", backupDirectory: backups, name: "app", backup: backup.file, liveDatabase: live,
                                             destination: nil, force: true, runtime: nil, ledgerPath: nil)
        let report = try await RestoreService.restore(restore, context: OpsContext())
        watcher.stop.store(true, ordering: .releasing)
        while !thread.isFinished { try await Task.sleep(for: .milliseconds(5)) }

        #expect(report.safetyCopy != nil)
        #expect(watcher.holders.withLock { $0 } == ["opsctl restore"], "the safety copy must not release and re-take the lock")
        #expect(watcher.freeBeforeSwap.load(ordering: .relaxed) == 0, "the lock was free before the restored database was in place")
    }
}
