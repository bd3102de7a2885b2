// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// The handoff as a picture, over a ledger filled by real opsctl runs: the SVG marks each deploy,
/// rollback and backup once, where its time says; a real browser renders the page (light, dark,
/// print); Markdown gets the one-line lanes; `opsctl status` draws them on a terminal only.
@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct HandoffPictureTests {
    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    static func date(_ value: Any?) throws -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return try #require((value as? String).flatMap(formatter.date(from:)), "not a time: \(String(describing: value))")
    }

    /// What the browser tool reads back from a PNG (Tests/Fixtures/png/inspect.py).
    static func inspect(_ png: String, _ arguments: [String]) async throws -> [String: Any] {
        let output = try await setUp("python3", [repositoryRoot + "/Tests/Fixtures/png/inspect.py", png] + arguments)
        return try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
    }

    @Test func theShiftAsAPictureInARealBrowserAndOnATerminal() async throws {
        let fixture = try await DeployFixture(extra: """
                database: {path: data/app.db}
                backup: {dir: backups, name: app}
            """)
        var opsctl = fixture.opsctl
        opsctl.environment["TZ"] = "Asia/Kolkata"
        try FileManager.default.createDirectory(atPath: fixture.directory.path + "/data", withIntermediateDirectories: true)
        try await setUp("sqlite3", [fixture.directory.path + "/data/app.db", "CREATE TABLE t(x); INSERT INTO t VALUES (1);"])

        let start = Date().addingTimeInterval(-1)
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        #expect(try await opsctl.run("deploy", "production", "1.0.1").exitCode == 0)
        #expect(try await opsctl.run("deploy", "production", "1.0.3").exitCode == 3, "crashes at start: rolled back")
        #expect(try await opsctl.run("rollback", "production").exitCode == 0, "back to 1.0.0")
        #expect(try await opsctl.run("backup", "production").exitCode == 0)
        try await Task.sleep(for: .seconds(1.1))   // backups are named by the second
        #expect(try await opsctl.run("backup", "production").exitCode == 0)
        #expect(try await opsctl.run("verify", "production", "--latest").exitCode == 0)
        #expect(try await opsctl.run("smoke", "production").exitCode == 0)
        #expect(try await opsctl.run("note", "production", "1.0.3 crashes at start: <do not> redeploy").exitCode == 0)
        let window = ["--from", Self.iso(start), "--to", Self.iso(Date().addingTimeInterval(1))]

        let json = try await opsctl.run(["handoff", "production", "--format", "json"] + window)
        #expect(json.exitCode == 0, "\(json.stderr)")
        let report = try json.json()
        let html = try await opsctl.run(["handoff", "production", "--format", "html", "--output", "handoff.html"] + window)
        #expect(html.exitCode == 0, "\(html.stderr)")
        let page = try fixture.directory.read("handoff.html")
        try checkTimeline(page, report)
        #expect(page.contains(#"<div class="banner Warning"><span class="verdict Warning">Warning</span> deploy.rolled_back: "#))
        #expect(page.contains(#"<h2><span class="dot Warning"></span>Deploys and rollbacks</h2>"#))
        #expect(page.contains(#"<h2><span class="dot Healthy"></span>Backups</h2>"#))
        #expect(page.contains(#"<svg xmlns="http://www.w3.org/2000/svg" class="sparkline""#), "the backup size trend")
        #expect(!page.contains("<script") && !page.contains("<link") && !page.contains("src=") && !page.contains("href=") && !page.contains("url("),
                "one self-contained page: no scripts, nothing fetched")

        try await checkInBrowser(fixture.directory.file("handoff.html"), in: fixture.directory)

        let markdown = try await opsctl.run(["handoff", "production"] + window)
        let glance = try #require(markdown.stdout.split(separator: "\n").first { $0.hasPrefix("At a glance: ") })
        #expect(glance.hasPrefix("At a glance: releases ▲▲✕▼ · backups ■■ · verify ● · smoke "), "\(glance)")
        #expect(glance.hasSuffix(" · notes ◆"))

        try await checkStatusLanes(fixture)
        try fixture.assertNoSecrets([json.stdout, page, markdown.stdout])
    }

    /// Every deploy, rollback and backup of the window is marked once, titled with its version
    /// or size, at the x its time gives on the plot; the axis is in the report's timezone.
    func checkTimeline(_ page: String, _ report: [String: Any]) throws {
        let svgStart = try #require(page.range(of: #"<svg xmlns="http://www.w3.org/2000/svg" class="timeline""#))
        let svgEnd = try #require(page.range(of: "</svg>", range: svgStart.upperBound..<page.endIndex))
        let svg = try ParsedSVG(String(page[svgStart.lowerBound..<svgEnd.upperBound]))
        let plot = try #require(svg.plot)
        let window = try #require(report["window"] as? [String: Any])
        let from = try Self.date(window["from"]), to = try Self.date(window["to"])
        #expect(window["timezone"] as? String == "Asia/Kolkata")
        #expect(page.contains(#"<text class="zone" x="8" y="15">Asia/Kolkata</text>"#) && page.contains("GMT+5:30"))
        func expectedX(_ date: Date) -> Double { plot.x + date.timeIntervalSince(from) / to.timeIntervalSince(from) * plot.width }
        // The SVG rounds to 0.1 px and the JSON's times to the millisecond (half of one each for
        // from, to and the event): over a window of seconds a millisecond is a visible fraction of a pixel.
        let tolerance = 0.05 + 0.0015 / to.timeIntervalSince(from) * plot.width
        /// The one mark naming `text`; a single mark must sit at `at`, a cluster must span it.
        func checkMarked(_ text: String, at date: Date, lane: String) {
            let marks = svg.marks.filter { $0.classes.contains(lane) && $0.title.contains(text) }
            #expect(marks.count == 1, "\(text): \(marks.count) marks")
            guard let mark = marks.first else { return }
            if mark.classes.first == "mark" {
                #expect(abs(mark.x - expectedX(date)) <= tolerance, "\(text) at x \(mark.x), expected \(expectedX(date))")
            } else {
                #expect(abs(mark.x - expectedX(date)) <= TimelineSVG.clusterSpan / 2 + 6, "\(text) in a cluster around x \(mark.x)")
            }
        }
        let deploys = try #require(report["deploys"] as? [[String: Any]])
        #expect(deploys.map { "\($0["kind"]!) \($0["version"]!)" } == ["rollback 1.0.0", "deploy 1.0.3", "deploy 1.0.1", "deploy 1.0.0"])
        for deploy in deploys {
            checkMarked("\(deploy["kind"]!) \(deploy["version"]!) (from \(deploy["previous_version"] as? String ?? "nothing")): ", at: try Self.date(deploy["at"]), lane: "releases")
        }
        let backups = try #require((report["activity"] as? [String: Any])?["backups"] as? [[String: Any]])
        #expect(backups.count == 2)
        for backup in backups {
            let bytes = try #require(backup["bytes"] as? Int)
            checkMarked("\(backup["file"]!)", at: try Self.date(backup["at"]), lane: "backups")
            #expect(svg.marks.contains { $0.title.contains("\(backup["file"]!)") && $0.title.contains(ByteCount.format(Int64(bytes))) }, "size on hover")
        }
        #expect(svg.marks.contains { $0.classes.contains("releases") && $0.classes.contains("warning") && $0.title.contains("deploy 1.0.3") })
        #expect(svg.marks.contains { $0.classes.contains("notes") && $0.title.contains("<do not> redeploy") }, "escaped in the page, text again when parsed")
        #expect(svg.nowX != nil, "the window ends now")
    }

    /// Chromium renders the page: the banner has the verdict's colour, the timeline's plot is
    /// drawn, dark mode switches the palette, and it prints.
    func checkInBrowser(_ html: String, in directory: TemporaryDirectory) async throws {
        guard Chromium.path != nil else {
            if DockerEngine.isCI { Issue.record("chromium is missing: scripts/setup.sh installs it") }
            return
        }
        let light = directory.file("handoff.png"), dark = directory.file("handoff-dark.png"), pdf = directory.file("handoff.pdf")
        try await Chromium.screenshot(html, to: light, width: 1200, height: 900)
        let png = try await Self.inspect(light, ["--at", "5,5", "--count", "f6f8fa"])
        #expect(png["width"] as? Int == 1200 && png["height"] as? Int == 900)
        let banner = try #require((png["at"] as? [String: [Int]])?["5,5"])
        #expect(zip(banner, [0xd4, 0xa7, 0x2c]).allSatisfy { abs($0 - $1) <= 6 }, "Warning's amber across the top: \(banner)")
        #expect(((png["count"] as? [String: Int])?["f6f8fa"] ?? 0) > 40_000, "the timeline's plot area is drawn")

        try await Chromium.screenshot(html, to: dark, width: 1200, height: 900, dark: true)
        let night = try await Self.inspect(dark, ["--at", "5,5", "--at", "5,880"])
        #expect(zip((night["at"] as? [String: [Int]])?["5,5"] ?? [], [0x9e, 0x6a, 0x03]).allSatisfy { abs($0 - $1) <= 6 }, "\(night)")
        #expect(zip((night["at"] as? [String: [Int]])?["5,880"] ?? [], [0x0d, 0x11, 0x17]).allSatisfy { abs($0 - $1) <= 6 }, "a dark page: \(night)")

        try await Chromium.printToPDF(html, to: pdf)
        let printed = try Data(contentsOf: URL(fileURLWithPath: pdf))
        #expect(printed.starts(with: Data("%PDF".utf8)) && printed.count > 10_000)
    }

    /// `opsctl status` draws the lanes on a terminal (a real pty), never in a pipe or in --json.
    func checkStatusLanes(_ fixture: DeployFixture) async throws {
        func onTerminal(_ arguments: [String]) async throws -> String {
            let spawn = "import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)"
            let result = try await SubprocessRunner().run(ProcessRequest(
                "env", ["-u", "NO_COLOR", "TERM=xterm", "OPSCTL_CONFIG=", "USER=alice", "python3", "-c", spawn, Opsctl.binary] + arguments,
                workingDirectory: fixture.directory.path, timeout: .seconds(60)))
            #expect(result.succeeded, "\(result.failureSummary)")
            return result.standardOutput.replacingOccurrences(of: "\r\n", with: "\n")
        }
        let terminal = try await onTerminal(["status", "production"])
        let lines = terminal.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("last 24 h") }, "\(terminal)")
        #expect(lines[header].hasSuffix("  now"))
        let plain = lines.map { $0.replacing(/\x{1B}\[[0-9;]*m/, with: "") }
        #expect(plain[header + 1].hasPrefix("releases  ") && plain[header + 1].hasSuffix("  4, 1 not ok"), "\(plain[header + 1])")
        #expect(plain[header + 1].contains("✕"), "the rolled-back deploy is the worst of its half hour")
        #expect(plain[header + 2].hasPrefix("backups   ") && plain[header + 2].contains("■") && plain[header + 2].hasSuffix("  2"))
        #expect(plain[header + 5].hasPrefix("notes     ") && plain[header + 5].contains("◆"))
        #expect(terminal.contains("\u{1B}[33m✕"), "the rolled-back deploy in amber")

        let piped = try await fixture.opsctl.run("status", "production")
        #expect(piped.exitCode == 0 && !piped.stdout.contains("last 24 h"), "a pipe gets no lanes")
        let json = try await onTerminal(["status", "production", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(object?["env"] as? String == "production" && !json.contains("last 24 h") && !json.contains("■"), "--json is one document, no lanes")
    }
}
