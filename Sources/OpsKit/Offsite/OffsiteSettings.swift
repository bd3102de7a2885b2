// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `backup.offsite`: where the off-site copies go (any S3-compatible service) and how.
public struct OffsiteSettings: Sendable, Encodable {
    public var bucket: String
    /// Empty, or ending in `/`: every object key starts with it.
    public var prefix: String
    /// `scheme://host[:port]`, without a path.
    public var endpoint: String
    public var region: String
    public var accessKeyId: String
    /// Inline, from `secret_access_key_file`, or from `secret_access_key_command`.
    public var secretAccessKey: Secret
    /// Set when the key came from `secret_access_key_file` (preflight checks its mode).
    public var secretAccessKeyFile: String? { secretAccessKey.file }
    /// Files larger than this go up as multipart uploads of parts this size.
    public var partSize: Int64 = OffsiteSettings.defaultPartSize
    /// The remote policy; nil: the local `backup.retention`.
    public var retention: RetentionPolicy?
    /// `endpoint/bucket/key` instead of `bucket.endpoint/key` (MinIO, Ceph, most self-hosted services).
    public var pathStyle: Bool

    /// 16 MiB: parts go up 4 at a time, and several mid-sized parts in flight beat one large
    /// stream (scripts/bench/offsite.sh; S3's own guidance is 8-16 MB). Parts stream from the
    /// file, so memory does not grow with this.
    public static let defaultPartSize: Int64 = 16 << 20
    /// S3's limits: every part but the last at least 5 MiB, at most 5 GiB, at most 10,000 parts.
    public static let partSizeRange: ClosedRange<Int64> = (5 << 20)...(5 << 30)
    public static let maxParts = 10_000

    public init(bucket: String, prefix: String, endpoint: String, region: String, accessKeyId: String, secretAccessKey: Secret,
                pathStyle: Bool = true) {
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.pathStyle = pathStyle
    }

    /// `s3://bucket/prefix/`, as configured; never carries a credential.
    public var url: String { "s3://\(bucket)/\(prefix)" }

    public func url(of file: String) -> String { url + file }

    /// AWS's own endpoint for a region.
    public static func awsEndpoint(region: String) -> String { "https://s3.\(region).amazonaws.com" }

    /// The policy remote retention applies: `offsite.retention`, else the local one.
    public func effectiveRetention(local: RetentionPolicy) -> RetentionPolicy { retention ?? local }

    /// `s3://bucket/some/prefix` into its bucket and normalised prefix; nil when it is not one.
    public static func parseURL(_ text: String) -> (bucket: String, prefix: String)? {
        guard text.hasPrefix("s3://") else { return nil }
        let rest = text.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        guard isValidBucket(bucket) else { return nil }
        var prefix = String(rest.dropFirst(bucket.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard !prefix.contains("//"), !prefix.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else { return nil }
        if !prefix.isEmpty { prefix += "/" }
        return (bucket, prefix)
    }

    /// S3's bucket naming rules: 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit.
    public static func isValidBucket(_ name: String) -> Bool {
        guard (3...63).contains(name.count), let first = name.unicodeScalars.first, let last = name.unicodeScalars.last else { return false }
        let alphanumeric = { (scalar: Unicode.Scalar) in ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) }
        return alphanumeric(first) && alphanumeric(last) && name.unicodeScalars.allSatisfy { alphanumeric($0) || $0 == "." || $0 == "-" }
    }
}

extension OpsConfig {
    /// `backup.offsite` of an environment, for the `--remote` commands.
    public func offsiteSettings(of environment: EnvironmentConfig) throws(OpsError) -> OffsiteSettings {
        guard let offsite = environment.backup?.offsite else {
            throw OpsError(.config, code: "config.missing", "\(sourcePath): environments.\(environment.name).backup.offsite is not set",
                           details: ["add backup.offsite: {url: s3://BUCKET/PREFIX/, ...} (runbooks/offsite.md)"])
        }
        try offsite.requireKey()
        return offsite
    }
}

extension OffsiteSettings {
    /// A key from `secret_access_key_command` is fetched by the commands that talk to S3 before
    /// they start; reaching S3 without it would be a bug, so it stops here with a clear error.
    func requireKey() throws(OpsError) {
        guard secretAccessKey.isResolved else {
            throw OpsError(.software, code: "offsite.key_not_fetched", "backup.offsite.secret_access_key_command was not run before talking to \(url)")
        }
    }
}
