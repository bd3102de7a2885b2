// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl incident show`: the postmortem draft. What happened, in order, from the notes people
/// wrote and everything the ledger recorded while the incident was open, with who did it and
/// how it exited; how long it lasted and how long until a deploy or rollback put things right.
public struct Postmortem: Report {
    public enum Format: String, Sendable, CaseIterable { case markdown, json }

    /// The first successful deploy or rollback after the incident opened.
    public struct Mitigation: Sendable, Codable, Equatable {
        public var at: Date
        public var what: String
        public var by: String?
        public var seconds: Int
    }

    public var app: String
    public var incident: IncidentRecord
    public var open: Bool
    public var durationSeconds: Int
    /// nil: nothing has mitigated it yet.
    public var timeToMitigate: Mitigation?
    public var timeline: [TimelineEntry]
    /// The diagnostic bundles taken, oldest first.
    public var bundles: [String]
    public var generatedAt: Date
    /// The Markdown draft (not part of the JSON document).
    public var rendered = ""

    enum CodingKeys: String, CodingKey {
        case app, incident, open, durationSeconds, timeToMitigate, timeline, bundles, generatedAt
    }

    public func renderText() -> String { rendered }

    static let clock = ClockFormat("yyyy-MM-dd HH:mm:ss 'UTC'", timeZone: TimeZone(identifier: "UTC")!)
    static let timeOfDay = ClockFormat("HH:mm:ss", timeZone: TimeZone(identifier: "UTC")!)

    /// The draft as Markdown: a facts table, the timeline as a table, the bundles.
    public func markdown() -> String {
        var lines = ["# Incident #\(incident.id): \(Self.cell(incident.title))", "", "| | |", "|---|---|",
                     "| Environment | \(app) / \(incident.env) |",
                     "| Severity | \(incident.severity.rawValue) |",
                     "| Opened | \(Self.clock.string(incident.openedAt)) by \(incident.openedBy ?? "?") |"]
        if let closedAt = incident.closedAt {
            lines.append("| Closed | \(Self.clock.string(closedAt)) by \(incident.closedBy ?? "?") |")
        } else {
            lines.append("| Closed | still open |")
        }
        lines.append("| Duration | \(TextFormat.duration(seconds: durationSeconds))\(open ? " so far" : "") |")
        if let mitigation = timeToMitigate {
            lines.append("| Time to mitigate | \(TextFormat.duration(seconds: mitigation.seconds)): \(Self.cell(mitigation.what)) by \(mitigation.by ?? "?") at \(Self.clock.string(mitigation.at)) |")
        } else {
            lines.append("| Time to mitigate | not mitigated: no deploy or rollback succeeded since it opened |")
        }
        if let summary = incident.summary { lines.append("| Summary | \(Self.cell(summary)) |") }
        let days = Set(timeline.map { Self.clock.string($0.at).prefix(10) })
        let stamp = days.count > 1 ? Self.clock : Self.timeOfDay
        lines += ["", "## Timeline", "", "| \(days.count > 1 ? "time" : "time (UTC)") | what | by | exit |", "|---|---|---|---|"]
        for entry in timeline {
            let during = entry.command.map { " (in `\(Self.cell($0))`)" } ?? ""
            let text = entry.kind == .command ? "`\(Self.cell(entry.text))`" : Self.cell(entry.text) + during
            lines.append("| \(stamp.string(entry.at)) | **\(entry.kind.rawValue.replacingOccurrences(of: "_", with: " "))** \(text) | \(entry.actor ?? "") | \(entry.exitCode.map(String.init) ?? "") |")
        }
        lines += ["", "## Diagnostic bundles", ""]
        lines += bundles.isEmpty ? ["- none"] : bundles.map { "- `\($0)`" }
        return lines.joined(separator: "\n")
    }

    /// One table cell: no pipe or newline may break the row.
    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
