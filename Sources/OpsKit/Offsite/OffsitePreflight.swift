// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `offsite.reachable` and `offsite.fresh`: does the remote answer to our key, and does it hold a
/// recent copy (the newest local backup, or one younger than handoff.thresholds.offsite_max_age)?
extension PreflightService {
    func offsiteChecks() async -> [PreflightCheck] {
        guard let settings = environment.backup?.offsite, let location = try? config.backupLocation(of: environment) else { return [] }
        guard settings.secretAccessKey.isResolved else {
            return [PreflightCheck(id: .offsiteReachable, status: .fail, summary: "the secret key's command failed, so \(settings.url) was not asked",
                                   fix: "see secrets.commands")]
        }
        let started = ContinuousClock.now
        let client = S3Client(settings: settings, logger: context.logger)
        // libcurl blocks its thread: not one of Swift's cooperative pool.
        let listing = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(S3Failure) in try RemoteCatalog.list(client, name: location.name) })
            }
        }
        let copies: [RemoteCopy]
        switch listing {
        case .failure(let failure):
            return [PreflightCheck(id: .offsiteReachable, status: .fail, summary: failure.description,
                                   fix: failure.hint ?? "check backup.offsite in \(config.sourcePath)"),
                    PreflightCheck(id: .offsiteFresh, status: .fail, summary: "cannot tell: \(settings.url) did not answer",
                                   fix: "fix offsite.reachable first")]
        case .success(let found):
            copies = found
        }
        let reachable = PreflightCheck(id: .offsiteReachable, status: .pass,
                                       summary: "\(settings.url) answers to \(settings.accessKeyId) (\(copies.count) cop\(copies.count == 1 ? "y" : "ies"), \((ContinuousClock.now - started).milliseconds) ms)")
        return [reachable, offsiteFreshness(copies, settings: settings, location: location)]
    }

    func offsiteFreshness(_ copies: [RemoteCopy], settings: OffsiteSettings, location: (directory: String, name: String)) -> PreflightCheck {
        let limit = environment.handoff.thresholds.offsiteMaxAge
        let newestLocal = (try? BackupCatalog.list(directory: location.directory, name: location.name))?.first { $0.manifest != nil }
        let complete = copies.filter(\.hasManifest)
        let fix = "opsctl backup \(environment.name) (every run uploads what the remote lacks)"
        guard let newest = complete.first else {
            return newestLocal == nil
                ? PreflightCheck(id: .offsiteFresh, status: .warn, summary: "no backups yet, here or in \(settings.url)", fix: fix)
                : PreflightCheck(id: .offsiteFresh, status: .fail, summary: "no complete copy in \(settings.url): losing this host loses every backup", fix: fix)
        }
        let age = context.now().timeIntervalSince(newest.time)
        let ageText = TextFormat.duration(seconds: Int(age))
        if age > limit.seconds {
            return PreflightCheck(id: .offsiteFresh, status: .fail,
                                  summary: "the newest off-site copy, \(newest.file), is \(ageText) old (limit \(limit))", fix: fix)
        }
        if let newestLocal, !complete.contains(where: { $0.file == newestLocal.file && $0.bytes == newestLocal.manifest?.bytes }) {
            return PreflightCheck(id: .offsiteFresh, status: .warn,
                                  summary: "the newest backup, \(newestLocal.file), is not off-site yet (newest copy there: \(ageText) old)", fix: fix)
        }
        return PreflightCheck(id: .offsiteFresh, status: .pass, summary: "the newest backup, \(newest.file), is off-site (\(ageText) old, limit \(limit))")
    }
}
