// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `backup:`, its `retention` and `offsite`, and the byte sizes they use.
extension ConfigSchema {
    static let backupKeys = ["dir", "name", "level", "before_deploy", "retention", "offsite", "encryption", "replica"]
    static let retentionKeys = ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within"]
    static let offsiteKeys = ["url", "endpoint", "region", "access_key_id", "part_size", "retention", "path_style"]
        + secretForms("secret_access_key")

    /// The replica is read last: where it goes and whether it is shipped depend on the rest.
    func backupSettings(_ backup: MappingReader) throws(OpsError) -> BackupSettings {
        var settings = BackupSettings(dir: resolvePath(try backup.requiredString("dir")))
        settings.name = try backup.string("name")
        settings.level = try backup.int("level", range: 1...9) ?? 6
        settings.beforeDeploy = try backup.bool("before_deploy") ?? false
        settings.retention = try retentionPolicy(backup) ?? settings.retention
        settings.offsite = try backup.mapping("offsite", allowedKeys: Self.offsiteKeys).map(offsiteSettings)
        settings.encryption = try backup.mapping("encryption", allowedKeys: Self.encryptionKeys).map(backupEncryption)
        if let replica = try backup.mapping("replica", allowedKeys: Self.replicaKeys) {
            settings.replica = try replicaSettings(replica, backup: settings)
        }
        return settings
    }

    /// `retention: {keep_last: 7, ...}` under `map`; nil when absent.
    func retentionPolicy(_ map: MappingReader) throws(OpsError) -> RetentionPolicy? {
        guard let retention = try map.mapping("retention", allowedKeys: Self.retentionKeys) else { return nil }
        return RetentionPolicy(
            keepLast: try retention.int("keep_last", range: 0...100_000), keepHourly: try retention.int("keep_hourly", range: 0...100_000),
            keepDaily: try retention.int("keep_daily", range: 0...100_000), keepWeekly: try retention.int("keep_weekly", range: 0...100_000),
            keepMonthly: try retention.int("keep_monthly", range: 0...100_000), keepYearly: try retention.int("keep_yearly", range: 0...100_000),
            keepWithin: try retention.duration("keep_within"))
    }

    func offsiteSettings(_ map: MappingReader) throws(OpsError) -> OffsiteSettings {
        let urlText = try map.requiredString("url")
        guard let location = OffsiteSettings.parseURL(urlText) else {
            throw reader.error(at: map.value("url"), path: map.keyPath("url"), "\"\(urlText)\" is not s3://BUCKET/PREFIX/",
                               details: ["bucket names are 3-63 lowercase letters, digits, '.' and '-'"])
        }
        let configuredEndpoint = try endpoint(map)
        let region = try map.string("region") ?? (configuredEndpoint == nil ? nil : "us-east-1")
        guard let region, !region.isEmpty, region.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw reader.error(at: map.value("region") ?? map.node, path: map.keyPath("region"),
                               map.value("region") == nil ? "required when endpoint is not set (AWS's endpoint comes from it)" : "is not a region name")
        }
        let accessKey = try map.requiredString("access_key_id")
        // Inline, _file or _command (fetched later, only by the commands that talk to S3).
        guard let secret = try self.secret(map, "secret_access_key") else {
            throw reader.error(at: map.node, path: map.keyPath("secret_access_key"),
                               "required key is missing (or secret_access_key_file, or secret_access_key_command)")
        }
        if let value = secret.valueIfResolved, value.isEmpty {
            throw reader.error(at: map.value("secret_access_key_file"), path: map.keyPath("secret_access_key_file"), "the file is empty")
        }
        var settings = OffsiteSettings(bucket: location.bucket, prefix: location.prefix,
                                       endpoint: configuredEndpoint ?? OffsiteSettings.awsEndpoint(region: region), region: region,
                                       accessKeyId: accessKey, secretAccessKey: secret,
                                       // Virtual-hosted names need a bucket without dots (TLS wildcards cover one label).
                                       pathStyle: try map.bool("path_style") ?? (configuredEndpoint != nil || location.bucket.contains(".")))
        settings.partSize = try byteSize(map, "part_size", range: OffsiteSettings.partSizeRange) ?? settings.partSize
        settings.retention = try retentionPolicy(map)
        return settings
    }

    /// `endpoint:` as `scheme://host[:port]`; a path would silently change every key.
    func endpoint(_ map: MappingReader) throws(OpsError) -> String? {
        guard let text = try map.string("endpoint"), !text.isEmpty else { return nil }
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        guard let url = URL(string: trimmed), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
              url.path.isEmpty, url.query == nil, url.user == nil else {
            throw reader.error(at: map.value("endpoint"), path: map.keyPath("endpoint"), "\"\(Redactor.redactURLCredentials(text))\" is not http(s)://HOST[:PORT]",
                               details: ["the bucket goes in url: s3://BUCKET/PREFIX/, never in the endpoint"])
        }
        return trimmed
    }

    func byteSize(_ map: MappingReader, _ key: String, range: ClosedRange<Int64>) throws(OpsError) -> Int64? {
        guard let text = try map.string(key) else { return nil }
        guard let bytes = ByteCount.parse(text) else {
            throw reader.error(at: map.value(key), path: map.keyPath(key), "\"\(text)\" is not a size", details: ["e.g. 64MiB, 512KiB, 1GiB, 100MB"])
        }
        guard range.contains(bytes) else {
            throw reader.error(at: map.value(key), path: map.keyPath(key),
                               "\(text) is out of range \(ByteCount.format(range.lowerBound))...\(ByteCount.format(range.upperBound))")
        }
        return bytes
    }
}

extension ByteCount {
    /// `64MiB`, `64 MiB`, `512KiB`, `1GiB` (binary), `100MB` (decimal), `1048576` (bytes).
    static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCIIDigit }
        guard !digits.isEmpty, let value = Int64(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let multipliers: [String: Int64] = ["": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
                                            "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000, "TB": 1_000_000_000_000]
        guard let multiplier = multipliers[unit] else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }
}
