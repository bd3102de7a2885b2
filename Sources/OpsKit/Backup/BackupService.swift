// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation
import Logging

/// What to back up and where. Built from an environment's config or from `--db/--dir`.
public struct BackupRequest: Sendable {
    public var databasePath: String
    public var directory: String
    public var name: String
    public var level: Int = 6
    public var retention: RetentionPolicy = RetentionPolicy()
    public var prune: Bool = true
    public var waitLock: OpsDuration?
    /// Set when run for a configured environment: ledger rows and metrics.
    public var env: String?
    public var ledgerPath: String?
    public var metricsDirectory: String?
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// `.db.gz` for backups; `.pre-restore.db.gz` for the safety copy restore takes (never pruned).
    public var suffix: String = BackupNaming.suffix
    /// nil: memory when the database fits, else a scratch file next to the backup.
    public var snapshotInMemory: Bool?
    /// Encrypt to these age recipients (`backup.encryption`): the file gets `.age` after the suffix.
    public var encryption: BackupEncryption?
    /// The caller already holds this directory's backup lock (restore's safety copy: the lock
    /// must stay held from the copy through the swap, so no cron backup can slip in between).
    public var callerHoldsLock = false
    /// Upload to `backup.offsite` after the local backup (with the environment's config).
    public var offsite: OffsiteSettings?
    /// The off-site key's command failed: the local backup goes on, the off-site step fails with this.
    public var offsiteKeyError: OpsError?

    public init(databasePath: String, directory: String, name: String? = nil) {
        self.databasePath = databasePath
        self.directory = directory
        self.name = name ?? BackupNaming.defaultName(forDatabase: databasePath)
    }

    /// The request for `opsctl backup ENV` (and deploy's `before_deploy` backup).
    public static func forEnvironment(_ environment: EnvironmentConfig, config: OpsConfig) throws(OpsError) -> BackupRequest {
        let target = config.backupTarget(of: environment)
        var request = BackupRequest(databasePath: try target.requireDatabase(), directory: try target.requireDirectory(), name: target.name)
        if let backup = environment.backup {
            request.level = backup.level
            request.retention = backup.retention
            request.offsite = backup.offsite
            request.encryption = backup.encryption
        }
        request.env = environment.name
        request.ledgerPath = config.state
        request.metricsDirectory = environment.metrics?.textfileDir
        return request
    }
}

public struct BackupReport: Report {
    public var file: String
    public var path: String
    public var manifest: BackupManifest
    public var staleFilesRemoved: [String]
    public var staleLockHolder: FileLock.Holder?
    public var prune: PruneReport?
    /// The off-site run; a failure there keeps the local backup and exits 69.
    public var offsite: OffsiteSyncReport?

    public var exitCode: Int32 { offsite?.exitCode ?? 0 }

    public func renderText() -> String {
        let ratio = manifest.bytes > 0 ? Double(manifest.database.bytes) / Double(manifest.bytes) : 0
        var lines = [
            "backup \(path)",
            "  database  \(manifest.database.source) (\(ByteCount.format(manifest.database.bytes)), \(manifest.database.pageCount) pages of \(manifest.database.pageSize) B, \(manifest.database.journalMode))",
            "  written   \(ByteCount.format(manifest.bytes)) gzip -\(manifest.compression.level) (ratio \(String(format: "%.2f", ratio))), sha256 \(manifest.sha256.prefix(16))…",
            "  took      \(manifest.durationMs) ms (copy \(manifest.copyMs) ms, lock window \(manifest.database.lockWindowMs) ms; compress \(manifest.compressMs) ms on \(manifest.compression.threads) threads)",
        ]
        if !staleFilesRemoved.isEmpty { lines.append("  cleaned   \(staleFilesRemoved.count) leftover file(s) of an interrupted run: \(staleFilesRemoved.joined(separator: ", "))") }
        if let staleLockHolder { lines.append("  note      the previous run (\(staleLockHolder.description)) died without releasing its lock") }
        // In the order they ran: the off-site copy before local retention.
        if let offsite { lines += offsite.renderLines().map { "  " + $0 } }
        if let prune { lines.append(prune.renderText().split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")) }
        return lines.joined(separator: "\n")
    }
}

enum ByteCount {
    static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

public enum BackupService {
    /// Takes one backup: lock, online snapshot, parallel gzip with SHA-256, manifest, atomic
    /// rename, ledger row, metrics, then retention. Deploy calls this for `before_deploy`.
    public static func run(_ request: BackupRequest, context: OpsContext,
                           progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) throws(OpsError) -> BackupReport {
        try validateName(request.name)
        try createDirectory(request.directory)
        let lock = request.callerHoldsLock ? nil : try FileLock.acquire(path: BackupNaming.lockPath(directory: request.directory, name: request.name),
                                                                       what: lockPurpose(request), command: "opsctl backup", wait: request.waitLock, now: context.now)
        defer { lock?.release() }
        var stale = removeStaleFiles(directory: request.directory, name: request.name)
        if request.encryption != nil { stale += removeStaleFiles(directory: scratchDirectory(request), name: request.name) }
        let ledger = try request.ledgerPath.map { path throws(OpsError) in try context.ledger(path) }
        let started = context.now()
        let ledgerID = try ledger.map { ledger throws(OpsError) in
            try ledger.beginBackup(env: request.env ?? "-", databasePath: request.databasePath, at: started)
        }
        do {
            let manifest = try takeBackup(request, startedAt: started, context: context, progress: progress)
            let path = "\(request.directory)/\(manifest.file)"
            try ledger?.finishBackup(id: ledgerID!, status: .succeeded, file: path, manifest: manifest, at: context.now())
            var report = BackupReport(file: manifest.file, path: path, manifest: manifest, staleFilesRemoved: stale,
                                      staleLockHolder: lock?.staleHolder, prune: nil)
            if let metricsDirectory = request.metricsDirectory, let env = request.env {
                try MetricsFile.update(directory: metricsDirectory, env: env, samples: metrics(manifest, env: env, success: true, at: context.now()))
            }
            // Off-site before local retention: the backups the remote still lacks are uploaded first.
            if let offsite = request.offsite, let env = request.env {
                var sync = OffsiteSync.Request(env: env, directory: request.directory, name: request.name, settings: offsite,
                                               localRetention: request.retention, prune: request.prune, ledgerPath: request.ledgerPath,
                                               metricsDirectory: request.metricsDirectory)
                sync.keyError = request.offsiteKeyError
                report.offsite = OffsiteSync.run(sync, context: context)
            }
            if request.prune {
                report.prune = try PruneService.prune(directory: request.directory, name: request.name, policy: request.retention,
                                                      dryRun: false, context: context)
            }
            return report
        } catch {
            try? ledger?.finishBackup(id: ledgerID!, status: .failed, error: error.message, at: context.now())
            if let metricsDirectory = request.metricsDirectory, let env = request.env {
                try? MetricsFile.update(directory: metricsDirectory, env: env, samples: [
                    MetricSample("opsctl_backup_last_failure_timestamp_seconds", "When the last backup failed.", labels: [("env", env)],
                                 context.now().timeIntervalSince1970.rounded()),
                ])
            }
            throw error
        }
    }

    /// `opsctl backup --wait-lock`: queues behind a running backup of the same database without
    /// holding a thread (the wait can last minutes), stops waiting when the task is cancelled or
    /// `interruption` sees a signal, then runs the backup holding that lock.
    public static func run(_ request: BackupRequest, context: OpsContext, interruption: Interruption?,
                           progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) async throws(OpsError) -> BackupReport {
        guard request.waitLock != nil, !request.callerHoldsLock else { return try run(request, context: context, progress: progress) }
        try validateName(request.name)
        try createDirectory(request.directory)
        let lock = try await FileLock.acquire(path: BackupNaming.lockPath(directory: request.directory, name: request.name), what: lockPurpose(request),
                                              command: "opsctl backup", wait: request.waitLock, interruption: interruption, now: context.now)
        defer { lock.release() }
        var locked = request
        locked.callerHoldsLock = true
        var report = try run(locked, context: context, progress: progress)
        report.staleLockHolder = lock.staleHolder
        return report
    }

    static func lockPurpose(_ request: BackupRequest) -> String { "a backup of \(request.databasePath) into \(request.directory)" }

    static func validateName(_ name: String) throws(OpsError) {
        guard BackupNaming.isValidName(name) else {
            throw OpsError(.usage, code: "backup.bad_name", "backup name \"\(name)\" may contain only letters, digits, '-', '_' and '.'")
        }
    }

    static func createDirectory(_ directory: String) throws(OpsError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw OpsError(.io, code: "backup.dir_unwritable", "\(directory): cannot create the backup directory: \(YAMLReader.reason(error))")
        }
    }

    static func metrics(_ manifest: BackupManifest, env: String, success: Bool, at now: Date) -> [MetricSample] {
        let labels = [("env", env)]
        return [
            MetricSample("opsctl_backup_last_success_timestamp_seconds", "When the last backup finished successfully.", labels: labels, now.timeIntervalSince1970.rounded()),
            MetricSample("opsctl_backup_size_bytes", "Compressed size of the last backup.", labels: labels, Double(manifest.bytes)),
            MetricSample("opsctl_backup_database_bytes", "Size of the database at the last backup.", labels: labels, Double(manifest.database.bytes)),
            MetricSample("opsctl_backup_duration_seconds", "Wall time of the last backup.", labels: labels, Double(manifest.durationMs) / 1000),
            MetricSample("opsctl_backup_lock_window_seconds", "How long the last backup held the database's read lock.", labels: labels, Double(manifest.database.lockWindowMs) / 1000),
        ]
    }

    static func milliseconds(since start: Date, now: Date) -> Int { Int((now.timeIntervalSince(start) * 1000).rounded()) }

    /// Leftovers of runs killed mid-way (their pid is gone): `.opsctl-tmp-<name>_….<pid>.*`.
    static func removeStaleFiles(directory: String, name: String) -> [String] {
        let prefix = BackupNaming.temporaryPrefix + name + "_"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed: [String] = []
        for file in files where file.hasPrefix(prefix) {
            // .opsctl-tmp-<name>_<stamp>.<pid>.db[.gz]
            let parts = file.dropFirst(prefix.count).split(separator: ".")
            guard parts.count >= 3, let pid = Int32(parts[1]) else { continue }
            if pid != getpid(), Ledger.isProcessAlive(pid) { continue }
            if unlink("\(directory)/\(file)") == 0 { removed.append(file) }
        }
        return removed
    }

    /// Where the uncompressed snapshot goes when it does not fit in memory: the backup directory,
    /// or, for an encrypted backup, next to the database (plaintext never lands beside the backups).
    static func scratchDirectory(_ request: BackupRequest) -> String {
        request.encryption == nil ? request.directory : URL(fileURLWithPath: request.databasePath).deletingLastPathComponent().path
    }

    private static func takeBackup(_ request: BackupRequest, startedAt: Date, context: OpsContext,
                                   progress: (@Sendable (Int, Int) -> Void)?) throws(OpsError) -> BackupManifest {
        var time = startedAt
        // One backup per second per name: if this second's name is taken, wait for the next.
        let encrypted = request.encryption != nil
        func fileName(_ time: Date, encrypted: Bool) -> String {
            String(BackupNaming.fileName(name: request.name, time: time).dropLast(BackupNaming.suffix.count)) + request.suffix
                + (encrypted ? BackupNaming.ageExtension : "")
        }
        while [false, true].contains(where: { FileManager.default.fileExists(atPath: "\(request.directory)/\(fileName(time, encrypted: $0))") }) {
            usleep(UInt32(1_000_000 - Int(time.timeIntervalSince1970.truncatingRemainder(dividingBy: 1) * 1_000_000)) + 1000)
            time = context.now()
        }
        let file = fileName(time, encrypted: encrypted)
        let stamp = file.dropFirst(request.name.count + 1).prefix(15)
        let scratch = "\(BackupNaming.temporaryPrefix)\(request.name)_\(stamp).\(getpid())"
        let copyPath = "\(scratchDirectory(request))/\(scratch).db"
        let partialPath = "\(request.directory)/\(scratch).db.gz" + (encrypted ? BackupNaming.ageExtension : "")
        // At most one uncompressed copy, and it never outlives this call.
        defer {
            unlink(copyPath)
            unlink(copyPath + "-journal")
            unlink(partialPath)
        }

        let copyStart = ContinuousClock.now
        let destination: OnlineSnapshot.Destination = switch request.snapshotInMemory {
        case true?: .memory
        case false?: .file(copyPath)
        case nil: OnlineSnapshot.destination(forDatabase: request.databasePath, scratchFile: copyPath)
        }
        context.logger.info("copying \(request.databasePath) (online backup API, one pinned snapshot, into \(destination.label))")
        let copy = try OnlineSnapshot(sourcePath: request.databasePath).copy(to: destination)
        let snapshot = copy.result
        let copyDuration = ContinuousClock.now - copyStart

        let compressStart = ContinuousClock.now
        let output = try BackupSink(file: try HashingFile(creating: partialPath), encryption: request.encryption)
        var gzip = ParallelGzip(level: request.level, threads: request.threads)
        gzip.yieldsToOtherWork = true
        let modificationTime = UInt32(time.timeIntervalSince1970)
        let compressed = try copy.withBytes { buffer in
            compress(buffer, into: output, gzip: gzip, modificationTime: modificationTime, progress: progress)
        }
        let summary = try compressed.get()
        let compressDuration = ContinuousClock.now - compressStart

        let manifest = BackupManifest(
            file: file, sha256: output.file.sha256Hex, bytes: output.file.bytesWritten, crc32: summary.crc32,
            database: .init(source: request.databasePath, bytes: snapshot.bytes, pageSize: snapshot.pageSize, pageCount: snapshot.pageCount,
                            journalMode: snapshot.journalMode, lockWindowMs: snapshot.lockWindowMilliseconds),
            compression: .init(format: "gzip", level: request.level, blockSize: ParallelGzip.blockSize, threads: gzip.threads),
            // Whole seconds, as in the file name (and as ISO 8601 round-trips it).
            createdAt: Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down)),
            durationMs: milliseconds(since: startedAt, now: context.now()), copyMs: copyDuration.milliseconds, compressMs: compressDuration.milliseconds,
            sqliteVersion: SQLiteDatabase.libraryVersion, opsctlVersion: OpsctlVersion.current, encryption: output.manifestEntry)
        let finalPath = "\(request.directory)/\(file)"
        // The manifest lands first: a crash between the two renames leaves a manifest without a
        // backup (ignored), never a backup that claims to have no manifest.
        try AtomicFile.write(try manifest.encoded(), to: finalPath + BackupNaming.manifestSuffix)
        guard rename(partialPath, finalPath) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(finalPath + BackupNaming.manifestSuffix)
            throw OpsError(.io, code: "backup.rename_failed", "\(finalPath): cannot move the backup into place: \(reason)")
        }
        AtomicFile.syncDirectory(request.directory)
        return manifest
    }
}

extension BackupService {
    static func compress(_ input: UnsafeRawBufferPointer, into output: BackupSink, gzip: ParallelGzip, modificationTime: UInt32,
                         progress: (@Sendable (Int, Int) -> Void)?) -> Result<ParallelGzip.Summary, OpsError> {
        let total = input.count
        let report: (@Sendable (Int) -> Void)?
        if let progress { report = { done in progress(done, total) } } else { report = nil }
        let sink: @Sendable (UnsafeRawBufferPointer) throws(OpsError) -> Void = { chunk throws(OpsError) in try output.write(chunk) }
        do throws(OpsError) {
            let summary = try gzip.compress(input, modificationTime: modificationTime, progress: report, sink: sink)
            try output.finish()
            return .success(summary)
        } catch {
            output.file.closeQuietly()
            return .failure(error)
        }
    }
}

extension OnlineSnapshot.Destination {
    var label: String {
        switch self {
        case .memory: "memory"
        case .file(let path): path
        }
    }
}

extension Duration {
    var milliseconds: Int { Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000) }
}

/// A new file written in order, hashed with SHA-256 on the way; ENOSPC is exit 74.
final class HashingFile: @unchecked Sendable {
    let path: String
    private var descriptor: Int32
    private var hasher = SHA256()
    private var written: Int64 = 0
    var bytesWritten: Int64 { written }
    private var flushed: Int64 = 0
    /// Write back every few MiB as we go: a large final fsync would stall the application's own
    /// commits (ext4 orders their journal commit after our dirty data).
    /// 1 MiB: measured against a writer committing every 5 ms, larger steps (8, 64 MiB) gave it
    /// 6 to 28 ms stalls (scripts/bench/backup.sh).
    static let writebackInterval: Int64 = 1 << 20

    init(creating path: String) throws(OpsError) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw AtomicFile.failure("cannot create \(path)") }
    }

    func write(_ buffer: UnsafeRawBufferPointer) throws(OpsError) {
        hasher.update(bufferPointer: buffer)
        var offset = 0
        while offset < buffer.count {
            let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw AtomicFile.failure("cannot write \(path)")
            }
            offset += written
        }
        self.written += Int64(buffer.count)
        if self.written - flushed >= Self.writebackInterval {
            // On the writer queue, overlapped with compression; keeps dirty data bounded.
            guard fdatasync(descriptor) == 0 else { throw AtomicFile.failure("cannot sync \(path)") }
            flushed = self.written
        }
    }

    func synchronizeAndClose() throws(OpsError) {
        guard fsync(descriptor) == 0 else { throw AtomicFile.failure("cannot sync \(path)") }
        guard close(descriptor) == 0 else { descriptor = -1; throw AtomicFile.failure("cannot close \(path)") }
        descriptor = -1
    }

    func closeQuietly() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    var sha256Hex: String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }
}

/// The gzip stream on its way into the backup file: written as is, or, with `backup.encryption`,
/// hashed as gzip and encrypted to age on the fly (one 64 KiB chunk in memory, no plaintext on
/// disk). Runs on the compressor's ordered writer queue.
final class BackupSink: @unchecked Sendable {
    let file: HashingFile
    private let recipients: [AgeRecipient]
    private var encryptor: AgeEncryptor?
    private var plaintextHasher = SHA256()

    init(file: HashingFile, encryption: BackupEncryption?) throws(OpsError) {
        self.file = file
        recipients = encryption?.recipients ?? []
        if let encryption {
            do throws(AgeError) { encryptor = try AgeEncryptor(recipients: encryption.recipients) } catch {
                file.closeQuietly()
                throw error.opsError
            }
        }
    }

    func write(_ chunk: UnsafeRawBufferPointer) throws(OpsError) {
        guard encryptor != nil else { return try file.write(chunk) }
        plaintextHasher.update(bufferPointer: chunk)
        try encryptor!.update(chunk) { (sealed) throws(OpsError) in try file.write(sealed) }
    }

    /// Seals the final chunk, then fsyncs and closes the file.
    func finish() throws(OpsError) {
        try encryptor?.finish { (sealed) throws(OpsError) in try file.write(sealed) }
        try file.synchronizeAndClose()
    }

    /// The manifest's record of the encryption: recipients and the gzip stream's own hash.
    var manifestEntry: BackupManifest.Encryption? {
        guard let encryptor else { return nil }
        return .init(format: AgeHeader.versionLine.trimmingCharacters(in: .newlines), recipients: recipients.map(\.description),
                     plaintextSha256: plaintextHasher.finalize().map { String(format: "%02x", $0) }.joined(), plaintextBytes: encryptor.plaintextBytes)
    }
}
