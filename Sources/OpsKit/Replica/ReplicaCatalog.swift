// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One file of a replica: a generation's snapshot (seq 0) or one of its segments, named
/// `<seq>-<cut time in ms>.snapshot.db.gz` / `.segment.gz` (`.age` appended when encrypted)
/// inside the generation's directory, so a listing alone (local or S3) gives the window.
public struct ReplicaPoint: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case snapshot, segment }

    public var generation: String
    public var seq: UInt64
    public var timeMs: Int64
    public var kind: Kind
    public var encrypted: Bool
    public var bytes: Int64

    public var time: Date { Date(timeIntervalSince1970: Double(timeMs) / 1000) }

    /// The whole millisecond at or before `date`, compared as integers: a moment written as
    /// `…:30.768Z` must reach the point named 768 whatever binary fractions do to it.
    static func milliseconds(atOrBefore date: Date) -> Int64 {
        let microseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        return microseconds >= 0 ? microseconds / 1000 : (microseconds - 999) / 1000
    }
    public var fileName: String { Self.fileName(seq: seq, timeMs: timeMs, kind: kind, encrypted: encrypted) }
    /// Relative to the replica's root: `<generation>/<file>`.
    public var key: String { "\(generation)/\(fileName)" }

    static func fileName(seq: UInt64, timeMs: Int64, kind: Kind, encrypted: Bool) -> String {
        let number = String(seq).leftPadded(to: 10)
        let time = String(timeMs).leftPadded(to: 13)
        return "\(number)-\(time)" + (kind == .snapshot ? ".snapshot.db.gz" : ".segment.gz") + (encrypted ? BackupNaming.ageExtension : "")
    }

    /// nil for anything that is not a replica file (temp files, the lock, other objects).
    init?(generation: String, fileName: String, bytes: Int64) {
        var name = Substring(fileName)
        encrypted = name.hasSuffix(BackupNaming.ageExtension)
        if encrypted { name = name.dropLast(BackupNaming.ageExtension.count) }
        if name.hasSuffix(".snapshot.db.gz") {
            kind = .snapshot
            name = name.dropLast(".snapshot.db.gz".count)
        } else if name.hasSuffix(".segment.gz") {
            kind = .segment
            name = name.dropLast(".segment.gz".count)
        } else {
            return nil
        }
        let parts = name.split(separator: "-")
        guard ReplicaGeneration.isValid(generation), parts.count == 2, parts[0].count == 10, let seq = UInt64(parts[0]),
              let time = Int64(parts[1]), (kind == .snapshot) == (seq == 0) else { return nil }
        self.generation = generation
        self.seq = seq
        self.timeMs = time
        self.bytes = bytes
    }

    init(generation: String, seq: UInt64, timeMs: Int64, kind: Kind, encrypted: Bool, bytes: Int64) {
        self.generation = generation
        self.seq = seq
        self.timeMs = timeMs
        self.kind = kind
        self.encrypted = encrypted
        self.bytes = bytes
    }
}

/// A generation: one full snapshot and the segments after it, named by when it started, to the
/// millisecond (`20261207T101530.250Z-1a2b3c4d`), so names sort in time order even when a
/// restarted replicate starts two in one second.
public struct ReplicaGeneration: Sendable, Codable, Equatable {
    public var name: String
    /// Its files in seq order.
    public var points: [ReplicaPoint]
    /// The first missing seq, when the chain has a hole (the points after it cannot be used).
    public var gapAt: UInt64?

    public var snapshot: ReplicaPoint? { points.first { $0.kind == .snapshot } }
    /// The points a restore can reach: the snapshot and the unbroken chain after it.
    public var usable: [ReplicaPoint] {
        guard snapshot != nil else { return [] }
        guard let gapAt else { return points }
        return points.filter { $0.seq < gapAt }
    }
    public var start: Date? { usable.first?.time }
    public var end: Date? { usable.last?.time }
    public var bytes: Int64 { points.reduce(0) { $0 + $1.bytes } }

    static func newName(at time: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        return formatter.string(from: time) + "-" + String(format: "%08x", UInt32.random(in: 0...UInt32.max))
    }

    static func isValid(_ name: String) -> Bool {
        let parts = name.split(separator: "-")
        return parts.count == 2 && parts[0].count == 20 && parts[1].count == 8 && parts[1].allSatisfy(\.isHexDigit)
    }

    init(name: String, points: [ReplicaPoint]) {
        self.name = name
        self.points = points.sorted { $0.seq < $1.seq }
        var expected: UInt64 = 0
        for point in self.points {
            if point.seq != expected { gapAt = expected; break }
            expected += 1
        }
    }
}

/// The generations of one replica (a local directory or an off-site prefix), oldest first, and
/// what they can restore.
public struct ReplicaCatalog: Sendable, Codable, Equatable {
    public var generations: [ReplicaGeneration]

    /// Files as `<generation>/<file>` keys with their sizes; anything else is ignored.
    init(files: [(key: String, bytes: Int64)]) {
        var byGeneration: [String: [ReplicaPoint]] = [:]
        for file in files {
            let parts = file.key.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let point = ReplicaPoint(generation: String(parts[0]), fileName: String(parts[1]), bytes: file.bytes) else { continue }
            byGeneration[point.generation, default: []].append(point)
        }
        // By when each started (its snapshot), the name breaking ties.
        generations = byGeneration.keys.sorted().map { ReplicaGeneration(name: $0, points: byGeneration[$0]!) }
            .sorted { ($0.snapshot?.timeMs ?? .max, $0.name) < ($1.snapshot?.timeMs ?? .max, $1.name) }
    }

    public var window: RestoreWindow? {
        let usable = generations.filter { $0.start != nil }
        guard let first = usable.first?.start, let last = usable.compactMap(\.end).max() else { return nil }
        return RestoreWindow(earliest: first, latest: last)
    }

    /// The last point at or before `time`: in the newest generation that had started by then.
    /// Its predecessors in that generation are what a restore applies.
    func chain(at time: Date) -> [ReplicaPoint]? {
        let limit = ReplicaPoint.milliseconds(atOrBefore: time)
        for generation in generations.reversed() {
            guard let start = generation.usable.first, start.timeMs <= limit else { continue }
            return generation.usable.filter { $0.timeMs <= limit }
        }
        return nil
    }

    /// The newest point of all.
    func latestChain() -> [ReplicaPoint]? {
        guard let newest = generations.last(where: { $0.end != nil }) else { return nil }
        return newest.usable
    }

    /// Generations wholly older than `cutoff` (never the newest one): what retention deletes.
    func expired(before cutoff: Date) -> [ReplicaGeneration] {
        guard let newest = generations.last else { return [] }
        return generations.filter { $0.name != newest.name && ($0.points.last?.time ?? .distantPast) < cutoff }
    }
}

/// The moments a point-in-time restore can reach.
public struct RestoreWindow: Sendable, Codable, Equatable {
    public var earliest: Date
    public var latest: Date

    public func contains(_ time: Date) -> Bool {
        let moment = ReplicaPoint.milliseconds(atOrBefore: time)
        return moment >= ReplicaPoint.milliseconds(atOrBefore: earliest) && moment <= ReplicaPoint.milliseconds(atOrBefore: latest)
    }

    public var description: String {
        "\(PointInTime.format(earliest)) to \(PointInTime.format(latest))"
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
