// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Yams

/// `database.maintenance`: the limits `opsctl db`, status, preflight, handoff and the metrics
/// warn past, and how long a maintenance step waits for the app.
public struct DatabaseMaintenance: Sendable, Encodable, Equatable {
    /// The WAL file may grow to this; status warns at half of it, and as soon as a reader keeps
    /// the WAL from being checkpointed, whatever its size.
    public var maxWAL: Int64 = 256 << 20
    /// Free pages as a percentage of the file past which a vacuum is due.
    public var maxFreelist: Double = 20
    /// How long one maintenance transaction waits for the app's own write transaction to end
    /// before it gives up (exit 75, nothing changed by that step).
    public var busyTimeout: OpsDuration = .seconds(5)

    public init() {}

    enum CodingKeys: String, CodingKey { case maxWAL = "max_wal", maxFreelist = "max_freelist", busyTimeout = "busy_timeout" }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ByteCount.format(maxWAL), forKey: .maxWAL)
        try container.encode(Self.percentText(maxFreelist), forKey: .maxFreelist)
        try container.encode(busyTimeout, forKey: .busyTimeout)
    }

    /// `20%`, `12.5%`.
    static func percentText(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))%" : String(format: "%g%%", value)
    }
}

extension ConfigSchema {
    static let databaseKeys = ["path", "maintenance"]
    static let maintenanceKeys = ["max_wal", "max_freelist", "busy_timeout"]

    func databaseSettings(_ map: MappingReader) throws(OpsError) -> DatabaseSettings {
        var settings = DatabaseSettings(path: resolvePath(try map.requiredString("path")))
        guard let maintenance = try map.mapping("maintenance", allowedKeys: Self.maintenanceKeys) else { return settings }
        settings.maintenance.maxWAL = try byteSize(maintenance, "max_wal", range: (1 << 20)...(1 << 40)) ?? settings.maintenance.maxWAL
        settings.maintenance.maxFreelist = try percent(maintenance, "max_freelist") ?? settings.maintenance.maxFreelist
        if let timeout = try maintenance.duration("busy_timeout") {
            guard timeout.milliseconds > 0, timeout <= .minutes(10) else {
                throw reader.error(at: maintenance.value("busy_timeout"), path: maintenance.keyPath("busy_timeout"),
                                   "must be greater than 0 and at most 10m: the app's writers wait behind a maintenance step at most this long")
            }
            settings.maintenance.busyTimeout = timeout
        }
        return settings
    }

    /// `20%` (a percentage above 0 and at most 100). A bare number is refused: 0.2 and 20 would both look plausible.
    func percent(_ map: MappingReader, _ key: String) throws(OpsError) -> Double? {
        guard let text = try map.string(key) else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasSuffix("%"), let value = Double(trimmed.dropLast().trimmingCharacters(in: .whitespaces)), value.isFinite else {
            throw reader.error(at: map.value(key), path: map.keyPath(key), "\"\(text)\" is not a percentage", details: ["write it with a % sign, e.g. 20%"])
        }
        guard value > 0, value <= 100 else {
            throw reader.error(at: map.value(key), path: map.keyPath(key), "\(text) is out of range: above 0% and at most 100%")
        }
        return value
    }
}
