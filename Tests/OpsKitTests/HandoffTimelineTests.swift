// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// The handoff's picture: a fixed ledger gives a fixed SVG (golden file), every mark sits where
/// its time says, busy lanes cluster, and the axis follows the report's timezone.
struct HandoffTimelineTests {
    static let golden = repositoryRoot + "/Tests/Fixtures/handoff/timeline.svg"
    static let from = Date(timeIntervalSince1970: 1_763_762_400)   // 2025-11-21T22:00:00Z
    static let to = from.addingTimeInterval(8 * 3600)

    static func at(_ hours: Double) -> Double { from.timeIntervalSince1970 + hours * 3600 }

    /// A night shift: deploys (one rolled back, one failed, a rollback), hourly backups (one
    /// failed, one much smaller), verifications, a burst of smoke runs, notes, and rows outside
    /// the window or for another environment that must not show.
    static func fillLedger(_ ledger: Ledger) throws {
        let db = ledger.database
        func deploy(_ hours: Double, _ kind: String, _ version: String, _ previous: String, _ status: String, _ reason: String? = nil) throws {
            try db.query("""
                INSERT INTO deployments (env, kind, version, previous_version, status, started_at, finished_at, actor, host, pid, reason)
                VALUES ('production', ?, ?, ?, ?, ?, ?, 'alice', 'h', 1, ?)
                """, [.text(kind), .text(version), .text(previous), .text(status), .real(at(hours)), .real(at(hours) + 14), .optional(reason)])
        }
        try deploy(-1, "deploy", "1.3.9", "1.3.8", "succeeded")
        try deploy(0.66, "deploy", "1.4.0", "1.3.9", "succeeded")
        try deploy(3.16, "deploy", "1.4.1", "1.4.0", "rolled_back", "health check failed: HTTP 503")
        try deploy(3.33, "deploy", "1.4.1", "1.4.0", "succeeded")
        try deploy(5.5, "rollback", "1.4.0", "1.4.1", "succeeded")
        try deploy(7.66, "deploy", "1.4.2", "1.4.0", "failed", "no healthy container: <exit 1>")
        for hour in 0..<8 {
            let failed = hour == 4
            try db.query("""
                INSERT INTO backups (env, database_path, file, status, bytes, started_at, finished_at, error)
                VALUES ('production', 'app.db', ?, ?, ?, ?, ?, ?)
                """, [.text("/srv/backups/app_2025112\(hour)_0005.db.gz"), .text(failed ? "failed" : "succeeded"),
                      failed ? .null : .integer(hour == 6 ? 61_000_000 : 120_000_000 + Int64(hour) * 900_000),
                      .real(at(Double(hour) + 0.08)), .real(at(Double(hour) + 0.09)), failed ? .text("disk full") : .null])
        }
        try db.query("INSERT INTO backups (env, database_path, file, status, bytes, started_at) VALUES ('staging', 'app.db', 'x.db.gz', 'succeeded', 5, ?)", [.real(at(1))])
        for (hours, status, deep, reason) in [(0.33, "ok", 0, nil), (4.33, "failed", 0, "gzip: CRC mismatch"), (6.33, "ok", 1, nil)] as [(Double, String, Int64, String?)] {
            try db.query("INSERT INTO verifications (env, file, status, reason, deep, checked_at) VALUES ('production', ?, ?, ?, ?, ?)",
                         [.text("/srv/backups/app_\(hours).db.gz"), .text(status), .optional(reason), .integer(deep), .real(at(hours))])
        }
        // A burst: five smoke runs in four minutes (one failed) cannot be drawn apart.
        for (index, hours) in [0.68, 3.18, 3.2, 3.22, 3.24, 3.25, 7.68].enumerated() {
            let failed = index == 2 || index == 6
            let checks = (0..<3).map { #"{"name": "c\#($0)", "timings": {"total_ms": \#(20 + index * 4 + $0 * 5)}}"# }.joined(separator: ",")
            try db.query("INSERT INTO smoke_runs (env, status, passed, failed, started_at, details) VALUES ('production', ?, ?, ?, ?, ?)",
                         [.text(failed ? "failed" : "passed"), .integer(failed ? 2 : 3), .integer(failed ? 1 : 0), .real(at(hours)), .text("[\(checks)]")])
        }
        try db.query("INSERT INTO notes (env, text, author, created_at, resolved_at) VALUES ('production', 'disk on /srv grows 2%/day', 'bob', ?, ?)",
                     [.real(at(1.5)), .real(at(4))])
        try db.query("INSERT INTO notes (env, text, author, created_at) VALUES ('production', 'do not redeploy <1.4.2> & co before the fix', 'alice', ?)",
                     [.real(at(7.75))])
    }

    static func report() async throws -> HandoffReport {
        let directory = TemporaryDirectory("opsctl-timeline")
        let config = try ConfigLoader.parse("""
            app: dashboard
            image: dashboard
            state: state.db
            environments:
              production:
                backup: {dir: backups}
            """, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: [:])
        try fillLedger(try Ledger(path: directory.file("state.db")))
        // Docker answers "no containers", so the report has no log section and no source errors.
        let runner = RecordingRunner { RecordingRunner.result($0) }
        let context = OpsContext(runner: runner, environment: [:], now: { to })
        var report = await HandoffService(config: config, environment: try config.environment(named: "production"), context: context)
            .build(from: from, to: to, by: "alice")
        report.window.timezone = "Europe/Berlin"
        return report
    }

    @Test func aFixedLedgerGivesTheGoldenSVG() async throws {
        let report = try await Self.report()
        #expect(report.sourceErrors.isEmpty, "\(report.sourceErrors)")
        let svg = TimelineSVG.render(report)
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try AtomicFile.write(svg, to: Self.golden)
        }
        let expected = try String(contentsOfFile: Self.golden, encoding: .utf8)
        let (got, want) = (svg.split(separator: "\n", omittingEmptySubsequences: false), expected.split(separator: "\n", omittingEmptySubsequences: false))
        let line = Array(zip(got, want)).firstIndex { $0 != $1 } ?? min(got.count, want.count)
        #expect(svg == expected, """
            the timeline differs from Tests/Fixtures/handoff/timeline.svg at line \(line + 1):
              got:      \(line < got.count ? got[line] : "(end)")
              expected: \(line < want.count ? want[line] : "(end)")
            if on purpose, rerun with UPDATE_GOLDEN=1 and review the diff
            """)
        #expect(TimelineLanes(report: report).summaryLine() == "releases ▲✕▲▼✕ · backups ■■■■□■■■ · verify ●✕● · smoke ●●✕●●●✕ · notes ◇◆")
    }

    @Test func everyMarkSitsAtItsTimeAndIsTitledOnce() async throws {
        let report = try await Self.report()
        let svg = try ParsedSVG(TimelineSVG.render(report))
        let plot = try #require(svg.plot)
        func expectedX(_ date: Date) -> Double { plot.x + date.timeIntervalSince(Self.from) / (8 * 3600) * plot.width }

        #expect(report.deploys.count == 5, "the deploy before the window is not in it")
        for deploy in report.deploys {
            let marks = svg.marks.filter { $0.classes.contains("releases") && $0.title.hasPrefix("\(deploy.kind) \(deploy.version) (from \(deploy.previousVersion!))") && $0.title.contains(deploy.status.rawValue.replacingOccurrences(of: "_", with: " ")) }
            #expect(marks.count == 1, "\(deploy.kind) \(deploy.version) \(deploy.status)")
            #expect(abs((marks.first?.x ?? 0) - expectedX(deploy.at)) <= 0.05)
        }
        let backups = report.activity.backups
        #expect(backups.count == 8, "the other environment's backup is not in it")
        for backup in backups {
            let marks = svg.marks.filter { $0.classes.contains("backups") && $0.title.contains(backup.file!) }
            #expect(marks.count == 1)
            if let bytes = backup.bytes { #expect(marks.first?.title.contains(ByteCount.format(bytes)) == true) }
            #expect(abs((marks.first?.x ?? 0) - expectedX(backup.at)) <= 0.05)
            #expect(marks.first?.classes.contains(backup.status == .failed ? "failed" : "ok") == true)
        }
        // The burst is one cluster whose title lists each run, over the span of their times.
        let cluster = try #require(svg.marks.first { $0.classes.contains("cluster") && $0.classes.contains("smoke") })
        #expect(cluster.title.hasPrefix("5 smoke from") && cluster.title.contains("1 not ok"))
        #expect(cluster.classes.contains("failed"), "a cluster takes its worst member's colour")
        #expect(abs(cluster.x - (expectedX(Date(timeIntervalSince1970: Self.at(3.18))) + expectedX(Date(timeIntervalSince1970: Self.at(3.25)))) / 2) <= 0.05)
        #expect(svg.marks.filter { $0.classes.contains("smoke") }.count == 3)
        // The second 1.4.1 is too close to the first for both labels; its title still says it.
        #expect(svg.labels.filter { $0 == "1.4.1" }.count == 1)
        #expect(svg.labels == ["1.4.0", "1.4.1", "1.4.0", "1.4.2"])
        // Text from the ledger is escaped, never markup.
        #expect(svg.marks.contains { $0.title.contains("do not redeploy <1.4.2> & co") })
        #expect(svg.nowX.map { abs($0 - (plot.x + plot.width)) <= 0.05 } == true, "now is the window's end")
    }

    @Test func tenThousandEventsBecomeAFewHundredElements() throws {
        let start = Date(timeIntervalSince1970: 1_763_762_400)
        var activity = HandoffReport.Activity()
        var releases: [ReleaseEvent] = []
        for index in 0..<2000 {
            let at = start.addingTimeInterval(Double(index) * 302.4)
            releases.append(ReleaseEvent(kind: .deploy, version: "1.\(index).0", previousVersion: nil, status: index % 7 == 0 ? .rolledBack : .succeeded,
                                         at: at, by: "b", seconds: 5, reason: nil))
            activity.backups.append(.init(at: at, status: .succeeded, bytes: 1_000_000 + Int64(index), file: "b\(index).db.gz"))
            activity.verifications.append(.init(at: at, passed: true, detail: "b\(index).db.gz"))
            activity.smokeRuns.append(.init(at: at, passed: index % 50 != 0, detail: "3 of 3 checks passed", p95Ms: 12))
            activity.notes.append(.init(id: Int64(index), at: at, text: "note \(index)", by: "b"))
        }
        let lanes = TimelineLanes(from: start, to: start.addingTimeInterval(7 * 86400), timeZone: TimeZone(identifier: "UTC")!, releases: releases, activity: activity)
        let svg = TimelineSVG(lanes: lanes, now: start.addingTimeInterval(7 * 86400)).render()
        let elements = svg.components(separatedBy: "<g class=\"").count - 1
        #expect(elements < 600, "\(elements) groups")
        // Nothing is dropped: the clusters' counts and the single marks add up to every event of the lane.
        let marks = try ParsedSVG(svg).marks.filter { $0.classes.contains("backups") }
        let total = marks.map { $0.classes.first == "cluster" ? Int($0.title.prefix { $0 != " " })! : 1 }.reduce(0, +)
        #expect(total == 2000)
        #expect(lanes.summaryLine().contains("releases (+1976) "))
    }

    @Test func ticksFollowTheWallClockOfTheReportsTimezone() {
        func labels(_ from: String, _ to: String, _ zone: String, most: Int = 9) -> [String] {
            let parse = ISO8601DateFormatter()
            return TimeAxis.ticks(from: parse.date(from: from)!, to: parse.date(from: to)!, timeZone: TimeZone(identifier: zone)!, most: most).map(\.label)
        }
        // +05:30: its own whole hours, not UTC's.
        #expect(labels("2025-11-22T00:00:00Z", "2025-11-22T08:00:00Z", "Asia/Kolkata") == ["06:00", "07:00", "08:00", "09:00", "10:00", "11:00", "12:00", "13:00"])
        // The night the clocks go forward in Berlin: 02:00 does not exist, the labels say what the wall clock said.
        #expect(labels("2026-03-28T22:00:00Z", "2026-03-29T06:00:00Z", "Europe/Berlin") == ["23:00", "Sun 29 Mar", "01:00", "03:00", "04:00", "05:00", "06:00", "07:00", "08:00"])
        #expect(labels("2025-11-22T10:00:00Z", "2025-11-22T10:01:00Z", "UTC") == ["10:00:00", "10:00:10", "10:00:20", "10:00:30", "10:00:40", "10:00:50", "10:01:00"])
        #expect(labels("2025-11-01T00:00:00Z", "2025-11-08T00:00:00Z", "UTC") == ["Sat 1 Nov", "Sun 2 Nov", "Mon 3 Nov", "Tue 4 Nov", "Wed 5 Nov", "Thu 6 Nov", "Fri 7 Nov", "Sat 8 Nov"])
    }

    @Test func sparklinesMarkJumps() async throws {
        let report = try await Self.report()
        let sizes = try #require(Sparkline.backupSizes(report, timeZone: TimeZone(identifier: "UTC")!))
        #expect(sizes.points.count == 7, "the good backups up to the window's end")
        #expect(Set(sizes.jumps.keys) == [5, 6], "the drop to 61 MB and the way back")
        #expect(sizes.blocks() == "▇▇███▁█")
        #expect(sizes.summary.contains("2 jump(s) of 20% or more"))
        let p95 = try #require(Sparkline.smokeP95(report, timeZone: TimeZone(identifier: "UTC")!))
        #expect(p95.points.map(\.value) == [30, 34, 38, 42, 46, 50, 54], "nearest-rank p95 of each run's three checks")
        #expect(p95.jumps.isEmpty)
        #expect(HandoffReport.Activity.p95([5]) == 5 && HandoffReport.Activity.p95([]) == nil)
        // Latency jitters by a few ms: a jump needs 20% and at least 50 ms.
        func latency(_ values: [Double]) -> Sparkline {
            Sparkline(caption: "p95", points: values.map { .init(at: Self.from, value: $0, text: "\($0)") }, timeZone: TimeZone(identifier: "UTC")!, floor: Sparkline.smokeFloorMs)
        }
        #expect(latency([4, 12, 5]).jumps.isEmpty)
        #expect(latency([100, 180, 170]).jumps == [1: 0.8])
        #expect(HandoffReport.Activity.p95((1...100).map(Double.init)) == 95)
    }

    @Test func statusLanesAreOneLineEachWithTheWorstMarkPerColumn() {
        let now = Date(timeIntervalSince1970: 1_763_805_600)   // 2025-11-22T10:00:00Z
        var activity = HandoffReport.Activity()
        activity.backups = [.init(at: now.addingTimeInterval(-23 * 3600), status: .succeeded, bytes: 1),
                            .init(at: now.addingTimeInterval(-3600), status: .failed),
                            .init(at: now.addingTimeInterval(-3500), status: .succeeded, bytes: 1)]
        let releases = [ReleaseEvent(kind: .deploy, version: "1.0.1", previousVersion: nil, status: .succeeded, at: now.addingTimeInterval(-5 * 3600), by: nil, seconds: nil, reason: nil),
                        ReleaseEvent(kind: .rollback, version: "1.0.0", previousVersion: nil, status: .succeeded, at: now.addingTimeInterval(-60), by: nil, seconds: nil, reason: nil)]
        let lanes = TimelineLanes(from: now.addingTimeInterval(-StatusLanes.window), to: now, timeZone: TimeZone(identifier: "UTC")!, releases: releases, activity: activity)
        let text = StatusLanes(lanes: lanes, colour: false).render()
        let rows = text.split(separator: "\n").map(String.init)
        #expect(rows.count == 6)
        #expect(rows[0] == "last 24 h     12:00       18:00       Sat         06:00     now")
        #expect(rows[1] == "releases  " + String(repeating: "·", count: 38) + "▲" + String(repeating: "·", count: 8) + "▼  2")
        #expect(rows[2] == "backups   ··■" + String(repeating: "·", count: 43) + "□·  3, 1 not ok", "the failed run wins its column")
        #expect(rows[5] == "notes     " + String(repeating: "·", count: 48) + "  none")
        #expect(!text.contains("\u{1B}"))
        #expect(StatusLanes(lanes: lanes, colour: true).render().contains("\u{1B}[31m□\u{1B}[0m"))
    }
}
