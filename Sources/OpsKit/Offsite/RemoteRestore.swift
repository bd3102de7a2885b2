// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Which off-site copy `restore --remote` takes.
enum RemoteRestore {
    /// The named one (a file name or its s3:// URL), else the newest copy `verify --remote` passed,
    /// else the newest complete copy: on a new host after a disaster there is no ledger to ask,
    /// and the copy is verified on the way in before anything is touched.
    static func choose(_ request: RestoreService.Request, settings: OffsiteSettings, context: OpsContext) throws(OpsError) -> RemoteCopy {
        let client = S3Client(settings: settings, logger: context.logger)
        let copies: [RemoteCopy]
        do { copies = try RemoteCatalog.list(client, name: request.name) } catch { throw error.opsError }
        if let wanted = request.backup {
            let file = wanted.hasPrefix("s3://") ? String(wanted.split(separator: "/").last ?? "") : URL(fileURLWithPath: wanted).lastPathComponent
            guard let copy = copies.first(where: { $0.file == file }) else {
                throw OpsError(.usage, code: "restore.no_such_backup", "\(settings.url(of: file)): no such off-site copy",
                               details: ["list them: opsctl backups \(request.env) --remote"])
            }
            return copy
        }
        let ledger = request.ledgerPath.flatMap { try? context.ledger($0) }
        if let verified = copies.first(where: { (try? ledger?.isVerified(file: $0.url)) == true }) { return verified }
        guard let complete = copies.first(where: \.hasManifest) else {
            throw OpsError(.checkFailed, code: "restore.none_offsite", "no complete off-site copy of \(request.name) in \(settings.url)",
                           details: ["list them: opsctl backups \(request.env) --remote"])
        }
        context.logger.notice("no verify --remote recorded here: restoring the newest complete copy, \(complete.file), verified on the way in")
        return complete
    }
}
