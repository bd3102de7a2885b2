// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What one off-site run did: part of `opsctl backup`'s report (or all of it, with `--offsite-only`).
public struct OffsiteSyncReport: Report {
    public struct Upload: Sendable, Encodable, Equatable {
        public var file: String
        public var bytes: Int64
        public var parts: Int
        public var durationMs: Int
    }

    public struct Skip: Sendable, Encodable, Equatable {
        public var file: String
        public var reason: String
    }

    /// Why the run stopped: S3's code and message when the remote answered.
    public struct Failure: Sendable, Encodable, Equatable {
        public var code: String
        public var s3Code: String?
        public var status: Int?
        public var message: String
        public var hint: String?
        public var exitCode: Int32
    }

    public var url: String
    public var uploaded: [Upload] = []
    /// Local backups that already had a complete copy there.
    public var alreadyOffsite = 0
    /// Local backups not uploaded because remote retention would delete them at once.
    public var skipped: [Skip] = []
    /// Local backups still without a complete copy after this run (the next run retries them).
    public var notOffsite: [String] = []
    /// Multipart uploads a killed run left behind, aborted before uploading.
    public var abortedUploads: [String] = []
    public var prune: PruneReport?
    public var failure: Failure?
    public var durationMs = 0
    /// The remote was listed, so `notOffsite` is known (not encoded: it is null-free bookkeeping).
    var planned = false

    enum CodingKeys: String, CodingKey { case url, uploaded, alreadyOffsite, skipped, notOffsite, abortedUploads, prune, failure, durationMs }

    public var exitCode: Int32 { failure?.exitCode ?? 0 }

    public func renderText() -> String { renderLines().joined(separator: "\n") }

    public func renderLines() -> [String] {
        var lines: [String] = []
        let bytes = uploaded.reduce(Int64(0)) { $0 + $1.bytes }
        let summary = uploaded.isEmpty ? "nothing new" : "uploaded \(uploaded.count) backup(s), \(ByteCount.format(bytes))"
        if failure == nil || !uploaded.isEmpty {
            lines.append("offsite   \(url): \(summary) (\(alreadyOffsite) already there) in \(durationMs) ms")
        }
        for upload in uploaded { lines.append("          + \(upload.file) (\(ByteCount.format(upload.bytes)), \(upload.parts) part(s), \(upload.durationMs) ms)") }
        if !abortedUploads.isEmpty { lines.append("          aborted \(abortedUploads.count) stale multipart upload(s) of an interrupted run") }
        for skip in skipped { lines.append("          skipped \(skip.file): \(skip.reason)") }
        if let prune { lines += prune.renderText().split(separator: "\n").map { "          " + $0 } }
        if let failure {
            lines.append("offsite   FAILED: \(failure.message)")
            if let hint = failure.hint { lines.append("          hint: \(hint)") }
            lines.append("          the local backup is kept" + (planned ? "; \(notOffsite.count) backup(s) are not off-site yet" : "")
                         + ": the next run uploads what the remote lacks")
        }
        return lines
    }
}

/// The off-site step of every backup run: abort what a killed run left, upload every local
/// backup the remote lacks (newest first, so an outage heals by itself), then remote retention.
/// It never throws: a failure is in the report, the ledger and the metrics, and the local
/// backups are untouched by it.
public enum OffsiteSync {
    public struct Request: Sendable {
        public var env: String
        public var directory: String
        public var name: String
        public var settings: OffsiteSettings
        public var localRetention: RetentionPolicy
        public var prune: Bool
        public var ledgerPath: String?
        public var metricsDirectory: String?
        /// The key's command (`secret_access_key_command`) failed: this run reports it as the
        /// off-site failure; the local backup it follows stands.
        public var keyError: OpsError?

        public init(env: String, directory: String, name: String, settings: OffsiteSettings, localRetention: RetentionPolicy, prune: Bool,
                    ledgerPath: String?, metricsDirectory: String?) {
            self.env = env
            self.directory = directory
            self.name = name
            self.settings = settings
            self.localRetention = localRetention
            self.prune = prune
            self.ledgerPath = ledgerPath
            self.metricsDirectory = metricsDirectory
        }
    }

    /// `opsctl backup ENV --offsite-only`: the catch-up alone, under the backup lock (no local
    /// prune can remove a file while it goes up).
    public static func runHoldingLock(_ request: Request, wait: OpsDuration?, context: OpsContext) throws(OpsError) -> OffsiteSyncReport {
        let lock = try FileLock.acquire(path: BackupNaming.lockPath(directory: request.directory, name: request.name),
                                        what: "a backup of \(request.name) into \(request.directory)", command: "opsctl backup --offsite-only",
                                        wait: wait, now: context.now)
        defer { lock.release() }
        return run(request, context: context)
    }

    public static func run(_ request: Request, context: OpsContext) -> OffsiteSyncReport {
        let started = ContinuousClock.now
        let startedAt = context.now()
        let client = S3Client(settings: request.settings, logger: context.logger)
        let ledger = request.ledgerPath.flatMap { path in try? context.ledger(path) }
        var report = OffsiteSyncReport(url: request.settings.url)
        var newestCopy: Date?
        do throws(OffsiteError) {
            newestCopy = try sync(request, client: client, ledger: ledger, report: &report, context: context)
        } catch {
            report.failure = failure(error)
            context.logger.error("off-site copy failed: \(error.opsError.message)")
        }
        report.durationMs = (ContinuousClock.now - started).milliseconds
        record(report, request: request, ledger: ledger, startedAt: startedAt, newestCopy: newestCopy, context: context)
        return report
    }

    /// The steps; returns the time of the newest complete copy on the remote.
    static func sync(_ request: Request, client: S3Client, ledger: Ledger?, report: inout OffsiteSyncReport,
                     context: OpsContext) throws(OffsiteError) -> Date? {
        if let keyError = request.keyError { throw .local(keyError) }
        do throws(OpsError) { try request.settings.requireKey() } catch { throw .local(error) }
        let filePrefix = request.settings.prefix + request.name + "_"
        let copies: [RemoteCopy]
        do throws(S3Failure) {
            // Under the backup lock no other run of ours uploads here: any open upload is a killed run's.
            for upload in try client.listMultipartUploads(prefix: filePrefix) {
                try client.abortMultipartUpload(upload.key, uploadId: upload.uploadId)
                report.abortedUploads.append(upload.key)
                context.logger.notice("aborted the stale multipart upload \(upload.uploadId) of \(client.objectURL(upload.key))")
            }
            copies = try RemoteCatalog.list(client, name: request.name)
        } catch {
            throw .remote(error)
        }
        let plan = catchUpPlan(request, copies: copies, ledger: ledger)
        report.alreadyOffsite = plan.alreadyOffsite
        report.skipped = plan.skipped
        report.notOffsite = plan.upload.map(\.file)
        report.planned = true
        var newest = copies.filter(\.hasManifest).map(\.time).max()
        var current = copies
        let uploader = OffsiteUploader(client: client)
        for entry in plan.upload {
            do throws(OffsiteError) {
                let uploaded = try uploader.upload(entry, manifest: entry.manifest!)
                report.uploaded.append(.init(file: uploaded.file, bytes: uploaded.bytes, parts: uploaded.parts, durationMs: uploaded.durationMs))
                report.notOffsite.removeAll { $0 == entry.file }
                newest = max(newest ?? entry.time, entry.time)
                let key = request.settings.prefix + entry.file
                current.removeAll { $0.file == entry.file }
                current.append(RemoteCopy(file: entry.file, key: key, url: client.objectURL(key), time: entry.time, bytes: uploaded.bytes,
                                          hasManifest: true, uploadedAt: context.now()))
                try? ledger?.recordOffsiteUpload(env: request.env, url: request.settings.url(of: entry.file), file: entry.file, backupTime: entry.time,
                                                 uploaded: uploaded, failure: nil, at: context.now())
            } catch {
                try? ledger?.recordOffsiteUpload(env: request.env, url: request.settings.url(of: entry.file), file: entry.file, backupTime: entry.time,
                                                 uploaded: nil, failure: (error.code, error.opsError.message), at: context.now())
                throw error
            }
        }
        if request.prune {
            do throws(S3Failure) {
                report.prune = try RemotePrune.prune(client: client, name: request.name, policy: request.settings.effectiveRetention(local: request.localRetention),
                                                     dryRun: false, ledger: ledger, copies: current, context: context)
            } catch {
                throw .remote(error)
            }
        }
        return newest
    }

    struct CatchUp {
        var upload: [BackupEntry]
        var skipped: [OffsiteSyncReport.Skip]
        var alreadyOffsite: Int
    }

    /// Local backups without a complete remote copy, minus those remote retention would delete
    /// right away (a smaller remote policy must not upload and delete the same files every run).
    static func catchUpPlan(_ request: Request, copies: [RemoteCopy], ledger: Ledger?) -> CatchUp {
        let local = ((try? BackupCatalog.list(directory: request.directory, name: request.name)) ?? []).filter { $0.manifest != nil }
        let missing = RemoteCatalog.lackingCopies(local, remote: copies)
        let missingFiles = Set(missing.map(\.file))
        var candidates = copies.filter { $0.hasManifest && !missingFiles.contains($0.file) }.map { copy in
            (file: copy.file, time: copy.time, verified: (try? ledger?.isVerified(file: copy.url)) == true)
        }
        candidates += missing.map { (file: $0.file, time: $0.time, verified: false) }
        let policy = request.settings.effectiveRetention(local: request.localRetention)
        let kept = Set(policy.decide(candidates).filter(\.keep).map(\.file))
        return CatchUp(upload: missing.filter { kept.contains($0.file) },
                       skipped: missing.filter { !kept.contains($0.file) }.map { .init(file: $0.file, reason: "remote retention (\(policy.summary)) would delete it") },
                       alreadyOffsite: local.count - missing.count)
    }

    static func failure(_ error: OffsiteError) -> OffsiteSyncReport.Failure {
        switch error {
        case .remote(let failure):
            let ops = failure.opsError
            return .init(code: ops.code, s3Code: failure.code, status: failure.status, message: ops.message, hint: failure.hint, exitCode: ops.exitCode)
        case .local(let ops):
            return .init(code: ops.code, s3Code: nil, status: nil, message: ops.message, hint: ops.details.first, exitCode: ops.exitCode)
        }
    }

    /// The run in the ledger and the metrics file (for the off-site alert rules).
    static func record(_ report: OffsiteSyncReport, request: Request, ledger: Ledger?, startedAt: Date, newestCopy: Date?, context: OpsContext) {
        let now = context.now()
        do {
            try ledger?.recordOffsiteRun(env: request.env, report: report, startedAt: startedAt, finishedAt: now)
        } catch {
            context.logger.warning("could not record the off-site run in the ledger: \(error.message)")
        }
        guard let directory = request.metricsDirectory else { return }
        let labels = [("env", request.env)]
        var samples = [MetricSample("opsctl_offsite_failed", "1 when the last off-site run failed, else 0.", labels: labels, report.failure == nil ? 0 : 1)]
        if report.planned {
            samples.append(MetricSample("opsctl_offsite_pending_backups", "Local backups without a complete off-site copy after the last run.",
                                        labels: labels, Double(report.notOffsite.count)))
        }
        if report.failure == nil {
            samples.append(MetricSample("opsctl_offsite_last_success_timestamp_seconds", "When an off-site run last finished without error.",
                                        labels: labels, now.timeIntervalSince1970.rounded()))
        } else {
            samples.append(MetricSample("opsctl_offsite_last_failure_timestamp_seconds", "When an off-site run last failed.",
                                        labels: labels, now.timeIntervalSince1970.rounded()))
        }
        if let newestCopy {
            samples.append(MetricSample("opsctl_offsite_newest_backup_timestamp_seconds", "When the newest backup with a complete off-site copy was taken.",
                                        labels: labels, newestCopy.timeIntervalSince1970.rounded()))
        }
        do { try MetricsFile.update(directory: directory, env: request.env, samples: samples) } catch {
            context.logger.warning("could not update the metrics file: \(error.message)")
        }
    }
}
