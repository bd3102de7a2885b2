// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One backup on the remote: `<prefix><name>_YYYYMMDD_HHMMSS.db.gz`, and whether its manifest
/// (`….manifest.json`, uploaded last) is there too.
public struct RemoteCopy: Sendable, Encodable {
    public var file: String
    public var key: String
    public var url: String
    public var time: Date
    public var bytes: Int64
    /// A copy without a manifest is an upload that did not finish, or one made by another tool.
    public var hasManifest: Bool
    public var uploadedAt: Date?
    /// Does the local backup directory still hold this backup?
    public var local: Bool?
    /// The last `verify --remote` of this copy passed (from the ledger).
    public var verified: Bool?
}

public enum RemoteCatalog {
    /// The copies of `name` under the configured prefix, newest first; other objects are ignored.
    static func list(_ client: S3Client, name: String) throws(S3Failure) -> [RemoteCopy] {
        let prefix = client.settings.prefix
        let objects = try client.listObjects(prefix: prefix + name + "_")
        let manifests = Set(objects.map(\.key).filter { $0.hasSuffix(BackupNaming.manifestSuffix) })
        var copies: [RemoteCopy] = []
        for object in objects {
            let file = String(object.key.dropFirst(prefix.count))
            guard !file.contains("/"), let time = BackupNaming.time(of: file, name: name) else { continue }
            copies.append(RemoteCopy(file: file, key: object.key, url: client.objectURL(object.key), time: time, bytes: object.size,
                                     hasManifest: manifests.contains(object.key + BackupNaming.manifestSuffix), uploadedAt: object.lastModified))
        }
        return copies.sorted { $0.time > $1.time || ($0.time == $1.time && $0.file > $1.file) }
    }

    /// The local backups (with a manifest) that have no complete remote copy of the same size:
    /// what the next backup run uploads.
    static func lackingCopies(_ local: [BackupEntry], remote copies: [RemoteCopy]) -> [BackupEntry] {
        let complete = Dictionary(copies.filter(\.hasManifest).map { ($0.file, $0.bytes) }, uniquingKeysWith: { first, _ in first })
        return local.filter { entry in entry.manifest.map { complete[entry.file] != $0.bytes } ?? false }
    }

    /// The manifest of a copy, or why it cannot be read; nil when the copy has none.
    static func manifest(of copy: RemoteCopy, client: S3Client) throws(S3Failure) -> Result<BackupManifest, OpsError>? {
        guard copy.hasManifest, let data = try client.getData(copy.key + BackupNaming.manifestSuffix) else { return nil }
        do {
            return .success(try BackupManifest.decoder.decode(BackupManifest.self, from: data))
        } catch {
            return .failure(OpsError(.checkFailed, code: "manifest.invalid", "\(copy.url)\(BackupNaming.manifestSuffix): not a valid opsctl manifest"))
        }
    }
}

/// `opsctl backups ENV --remote`: the off-site copies, and the local backups not there yet.
public struct RemoteListReport: Report {
    public var url: String
    public var name: String
    public var copies: [RemoteCopy]
    /// Local backups (with a manifest) that have no complete copy on the remote.
    public var notOffsite: [String]
    public var generatedAt: Date

    public func renderText() -> String {
        var lines: [String] = []
        if copies.isEmpty {
            lines.append("no copies of \(name) in \(url)")
        } else {
            let rows = copies.map { copy -> [String] in
                [TextFormat.timestamp(copy.time), TextFormat.age(of: copy.time, now: generatedAt), ByteCount.format(copy.bytes),
                 copy.hasManifest ? "yes" : "NO (incomplete)", copy.verified == true ? "yes" : "not yet",
                 copy.local == true ? "yes" : "no", copy.file]
            }
            lines.append("\(copies.count) off-site cop\(copies.count == 1 ? "y" : "ies") of \(name) in \(url)")
            lines.append(TextFormat.table(["TIME (UTC)", "AGE", "SIZE", "MANIFEST", "VERIFIED", "LOCAL", "FILE"], rows))
        }
        if !notOffsite.isEmpty {
            lines.append("\(notOffsite.count) local backup(s) not off-site yet (the next backup run uploads them): " + notOffsite.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}

extension RemoteListReport {
    public static func load(settings: OffsiteSettings, directory: String, name: String, ledgerPath: String?, context: OpsContext) throws(OpsError) -> RemoteListReport {
        let client = S3Client(settings: settings, logger: context.logger)
        var copies: [RemoteCopy]
        do { copies = try RemoteCatalog.list(client, name: name) } catch { throw error.opsError }
        let local = (try? BackupCatalog.list(directory: directory, name: name)) ?? []
        let localFiles = Set(local.map(\.file))
        let ledger = ledgerPath.flatMap { try? context.ledger($0) }
        for index in copies.indices {
            copies[index].local = localFiles.contains(copies[index].file)
            copies[index].verified = (try? ledger?.isVerified(file: copies[index].url)) ?? false
        }
        let missing = RemoteCatalog.lackingCopies(local, remote: copies).map(\.file)
        return RemoteListReport(url: settings.url, name: name, copies: copies, notOffsite: missing, generatedAt: context.now())
    }
}
