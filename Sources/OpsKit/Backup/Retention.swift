// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// restic's `forget` semantics (https://restic.readthedocs.io/en/stable/060_forget.html):
/// going from newest to oldest, each bucket rule keeps the first backup it sees in each new
/// hour/day/ISO week/month/year, until it has kept N; `keep_last` keeps the N newest;
/// `keep_within` keeps everything younger than the duration, measured from the newest backup.
/// The rules are ORed. On top, two safety rules: the newest backup and the newest verified
/// backup are always kept. With no rule at all, nothing is deleted.
public struct RetentionDecision: Sendable, Encodable, Equatable {
    public var file: String
    public var time: Date
    public var keep: Bool
    public var reasons: [String]
}

extension RetentionPolicy {
    public var isEmpty: Bool {
        [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly].allSatisfy { ($0 ?? 0) == 0 } && keepWithin == nil
    }

    /// Human summary, e.g. "last 7, daily 14, weekly 8".
    public var summary: String {
        let parts: [String?] = [
            keepLast.map { "last \($0)" }, keepHourly.map { "hourly \($0)" }, keepDaily.map { "daily \($0)" },
            keepWeekly.map { "weekly \($0)" }, keepMonthly.map { "monthly \($0)" }, keepYearly.map { "yearly \($0)" },
            keepWithin.map { "within \($0)" },
        ]
        let text = parts.compactMap { $0 }.joined(separator: ", ")
        return text.isEmpty ? "none" : text
    }

    /// Decides for each backup (any order in; newest first out).
    public func decide(_ backups: [(file: String, time: Date, verified: Bool)]) -> [RetentionDecision] {
        let sorted = backups.sorted { $0.time > $1.time || ($0.time == $1.time && $0.file > $1.file) }
        guard let newest = sorted.first else { return [] }
        let newestVerified = sorted.first(where: \.verified)?.file

        struct Bucket {
            let label: String
            var remaining: Int
            let key: (DateComponents) -> String
            var last: String?
        }
        var buckets: [Bucket] = [
            Bucket(label: "hourly", remaining: keepHourly ?? 0, key: RetentionBuckets.hour),
            Bucket(label: "daily", remaining: keepDaily ?? 0, key: RetentionBuckets.day),
            Bucket(label: "weekly", remaining: keepWeekly ?? 0, key: RetentionBuckets.isoWeek),
            Bucket(label: "monthly", remaining: keepMonthly ?? 0, key: RetentionBuckets.month),
            Bucket(label: "yearly", remaining: keepYearly ?? 0, key: RetentionBuckets.year),
        ]
        let policyIsEmpty = isEmpty
        let cutoff = keepWithin.map { newest.time.addingTimeInterval(-$0.seconds) }

        return sorted.enumerated().map { index, backup in
            // One calendar call per backup: Foundation's Calendar is the slow part over 10,000 files.
            let parts = RetentionBuckets.components(backup.time)
            var reasons: [String] = []
            if policyIsEmpty { reasons.append("no retention policy") }
            if index == 0 { reasons.append("newest backup") }
            if backup.file == newestVerified { reasons.append("newest verified backup") }
            if let keepLast, index < keepLast { reasons.append("last \(keepLast)") }
            for position in buckets.indices where buckets[position].remaining > 0 {
                let key = buckets[position].key(parts)
                if key != buckets[position].last {
                    buckets[position].last = key
                    buckets[position].remaining -= 1
                    reasons.append("\(buckets[position].label) \(key)")
                }
            }
            if let cutoff, backup.time > cutoff, let within = keepWithin { reasons.append("within \(within) of newest") }
            return RetentionDecision(file: backup.file, time: backup.time, keep: !reasons.isEmpty, reasons: reasons)
        }
    }
}

/// Bucket keys in UTC, the timezone of the file names.
enum RetentionBuckets {
    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    static func components(_ date: Date) -> DateComponents {
        calendar.dateComponents([.year, .month, .day, .hour, .yearForWeekOfYear, .weekOfYear], from: date)
    }

    static func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : String($0) } ?? "??" }

    static func hour(_ c: DateComponents) -> String { "\(c.year!)-\(two(c.month))-\(two(c.day)) \(two(c.hour))h" }
    static func day(_ c: DateComponents) -> String { "\(c.year!)-\(two(c.month))-\(two(c.day))" }
    static func isoWeek(_ c: DateComponents) -> String { "\(c.yearForWeekOfYear!)-W\(two(c.weekOfYear))" }
    static func month(_ c: DateComponents) -> String { "\(c.year!)-\(two(c.month))" }
    static func year(_ c: DateComponents) -> String { String(c.year!) }
}
