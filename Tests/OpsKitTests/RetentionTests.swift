// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// Retention against hand-computed expectations of restic's `forget` rules plus our safety rules.
struct RetentionTests {
    static func at(_ text: String) -> Date {
        // "2026-11-22 02:00" in UTC
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = text.split(whereSeparator: { " -:".contains($0) }).map { Int($0)! }
        return calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2], hour: parts[3], minute: parts[4]))!
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var policy: RetentionPolicy
        var backups: [String]            // "YYYY-MM-DD HH:MM", any order
        var verified: [String] = []
        var kept: [String]               // what must survive
        var testDescription: String { name }
    }

    static func policy(last: Int? = nil, hourly: Int? = nil, daily: Int? = nil, weekly: Int? = nil, monthly: Int? = nil,
                       yearly: Int? = nil, within: String? = nil) -> RetentionPolicy {
        RetentionPolicy(keepLast: last, keepHourly: hourly, keepDaily: daily, keepWeekly: weekly, keepMonthly: monthly,
                        keepYearly: yearly, keepWithin: within.flatMap(OpsDuration.init(parsing:)))
    }

    static let cases: [Case] = [
        Case(name: "keep_last keeps the N newest", policy: policy(last: 3),
             backups: ["2026-11-01 02:00", "2026-11-02 02:00", "2026-11-03 02:00", "2026-11-04 02:00", "2026-11-05 02:00"],
             kept: ["2026-11-05 02:00", "2026-11-04 02:00", "2026-11-03 02:00"]),
        Case(name: "keep_daily keeps the newest of each day", policy: policy(daily: 2),
             backups: ["2026-11-03 10:00", "2026-11-03 02:00", "2026-11-02 23:00", "2026-11-02 01:00", "2026-11-01 12:00"],
             kept: ["2026-11-03 10:00", "2026-11-02 23:00"]),
        Case(name: "only days that hold backups count", policy: policy(daily: 3),
             backups: ["2026-11-10 02:00", "2026-11-05 02:00", "2026-11-01 02:00", "2026-10-20 02:00"],
             kept: ["2026-11-10 02:00", "2026-11-05 02:00", "2026-11-01 02:00"]),
        Case(name: "ISO weeks across a year boundary (2026 has a week 53)", policy: policy(weekly: 2),
             backups: ["2027-01-04 02:00", "2027-01-03 02:00", "2026-12-28 02:00", "2026-12-27 02:00"],
             kept: ["2027-01-04 02:00", "2027-01-03 02:00"]),
        Case(name: "hourly", policy: policy(hourly: 2),
             backups: ["2026-11-22 10:45", "2026-11-22 10:15", "2026-11-22 09:59", "2026-11-22 08:00"],
             kept: ["2026-11-22 10:45", "2026-11-22 09:59"]),
        Case(name: "monthly and yearly are ORed", policy: policy(monthly: 2, yearly: 3),
             backups: ["2026-11-20 02:00", "2026-11-01 02:00", "2026-10-15 02:00", "2026-09-30 02:00", "2025-12-31 02:00", "2025-06-01 02:00", "2024-01-01 02:00", "2023-05-05 02:00"],
             kept: ["2026-11-20 02:00", "2026-10-15 02:00", "2025-12-31 02:00", "2024-01-01 02:00"]),
        Case(name: "keep_within is measured from the newest backup, not from now", policy: policy(within: "48h"),
             backups: ["2020-01-10 12:00", "2020-01-08 13:00", "2020-01-08 11:00", "2020-01-01 00:00"],
             kept: ["2020-01-10 12:00", "2020-01-08 13:00"]),
        Case(name: "the seed runbook's policy (7 last, 14 daily, 8 weekly, 12 monthly)", policy: policy(last: 7, daily: 14, weekly: 8, monthly: 12),
             backups: (0..<40).map { day in
                 let date = Self.at("2026-11-22 02:00").addingTimeInterval(-Double(day) * 86_400)
                 return Self.format(date)
             },
             // Nov 22, 2026 is a Sunday. 7 last and 14 daily: Nov 22 .. Nov 9. Weekly (ISO, Monday first):
             // W47 Nov 22 and W46 Nov 15 are kept already, then W45 -> Nov 8, W44 -> Nov 1, W43 -> Oct 25,
             // W42 -> Oct 18; the backups end on Oct 14 (also W42), so only 6 of the 8 weekly slots fill.
             // Monthly: November (Nov 22) and October -> Oct 31.
             kept: (0..<14).map { Self.format(Self.at("2026-11-22 02:00").addingTimeInterval(-Double($0) * 86_400)) }
                + ["2026-11-08 02:00", "2026-11-01 02:00", "2026-10-25 02:00", "2026-10-18 02:00", "2026-10-31 02:00"]),
        Case(name: "the newest verified backup is never deleted", policy: policy(last: 1),
             backups: ["2026-11-05 02:00", "2026-11-04 02:00", "2026-11-03 02:00", "2026-11-02 02:00"],
             verified: ["2026-11-03 02:00", "2026-11-02 02:00"],
             kept: ["2026-11-05 02:00", "2026-11-03 02:00"]),
        Case(name: "the newest backup is never deleted, whatever the rules", policy: policy(last: 0, daily: 0, within: "1s"),
             backups: ["2026-11-05 02:00", "2026-11-04 02:00"],
             kept: ["2026-11-05 02:00"]),
        Case(name: "no rule at all deletes nothing", policy: RetentionPolicy(),
             backups: ["2026-11-05 02:00", "2026-11-04 02:00", "2020-01-01 00:00"],
             kept: ["2026-11-05 02:00", "2026-11-04 02:00", "2020-01-01 00:00"]),
    ]

    static func format(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!)
    }

    @Test(arguments: cases)
    func decides(_ testCase: Case) {
        let input = testCase.backups.map { (file: $0, time: Self.at($0), verified: testCase.verified.contains($0)) }
        let decisions = testCase.policy.decide(input)
        #expect(decisions.count == testCase.backups.count)
        #expect(Set(decisions.filter(\.keep).map(\.file)) == Set(testCase.kept))
        #expect(decisions.allSatisfy { $0.keep == !$0.reasons.isEmpty })
        #expect(decisions.map(\.time) == decisions.map(\.time).sorted(by: >), "newest first")
    }

    @Test func reasonsNameTheRuleAndBucket() {
        let decisions = Self.policy(last: 1, daily: 2, within: "1h").decide([
            ("a", Self.at("2026-11-22 02:00"), false), ("b", Self.at("2026-11-21 02:00"), true), ("c", Self.at("2026-11-20 02:00"), false),
        ])
        #expect(decisions[0].reasons == ["newest backup", "last 1", "daily 2026-11-22", "within 1h of newest"])
        #expect(decisions[1].reasons == ["newest verified backup", "daily 2026-11-21"])
        #expect(decisions[2].reasons.isEmpty && !decisions[2].keep)
    }
}

struct BackupNamingTests {
    @Test func roundTripsTheSeedNaming() throws {
        let time = RetentionTests.at("2024-12-15 02:00")
        #expect(BackupNaming.fileName(name: "dashboard", time: time) == "dashboard_20241215_020000.db.gz")
        #expect(BackupNaming.time(of: "dashboard_20241215_020000.db.gz", name: "dashboard") == time)
    }

    @Test(arguments: ["dashboard_20241215_020000.db", "dashboard_20241315_020000.db.gz", "dashboard_20240230_020000.db.gz",
                      "dashboard_20241215_250000.db.gz", "dashboard_2024121_0200000.db.gz", "dash_20241215_020000.db.gz",
                      "dashboard_20241215_020000.db.gz.manifest.json", ".opsctl-tmp-dashboard_20241215_020000.123.db.gz",
                      "dashboard_20241215_020000.pre-restore.db.gz", "dashboard-20241215_020000.db.gz"])
    func ignoresFilesThatDoNotMatch(_ file: String) {
        #expect(BackupNaming.time(of: file, name: "dashboard") == nil)
    }

    @Test func defaultNames() {
        #expect(BackupNaming.defaultName(forDatabase: "/srv/data/dashboard.db") == "dashboard")
        #expect(BackupNaming.defaultName(forDatabase: "app.sqlite3") == "app")
        #expect(BackupNaming.defaultName(forDatabase: "plain") == "plain")
    }
}
