// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One thing that happened, placed on a lane: what the SVG timeline, the Markdown summary line
/// and `opsctl status`'s terminal lanes all draw. Built only from the report model (or, for
/// status, from the same ledger reads the report uses).
public struct TimelineMark: Sendable {
    public enum Lane: String, Sendable, CaseIterable {
        case releases, backups, verify, smoke, notes

        var title: String {
            switch self {
            case .releases: "Releases"
            case .backups: "Backups"
            case .verify: "Verify"
            case .smoke: "Smoke"
            case .notes: "Notes"
            }
        }
    }

    /// The colour of a mark; a cluster of marks takes its worst member's.
    public enum Outcome: String, Sendable, Comparable, CaseIterable {
        case idle, note, ok, warning, failed

        var rank: Int { Self.allCases.firstIndex(of: self)! }
        public static func < (lhs: Outcome, rhs: Outcome) -> Bool { lhs.rank < rhs.rank }
    }

    public enum Shape: String, Sendable {
        /// Deploy, rollback, backup, check, note.
        case up, down, square, dot, diamond
    }

    /// What the mark stands for; its hover text is written from it only when drawn.
    public enum Source: Sendable {
        case release(ReleaseEvent)
        case backup(HandoffReport.Activity.BackupRun)
        case check(HandoffReport.Activity.CheckRun, noun: String)
        case note(HandoffReport.Activity.NoteMark)
    }

    public var lane: Lane
    public var at: Date
    public var shape: Shape
    public var outcome: Outcome
    /// Short text drawn next to the mark when there is room (a release's version).
    public var label: String?
    public var source: Source

    /// The symbol in text renderings: the shape, and a cross where the shape's colour would say "failed".
    public var glyph: Character {
        switch (shape, outcome) {
        case (.up, .ok): "▲"
        case (.down, .ok): "▼"
        case (.up, .idle), (.down, .idle): "△"
        case (.up, _), (.down, _): "✕"
        case (.square, .failed): "□"
        case (.square, .idle): "▫"
        case (.square, _): "■"
        case (.dot, .failed): "✕"
        case (.dot, _): "●"
        case (.diamond, .idle): "◇"
        case (.diamond, _): "◆"
        }
    }
}

/// A deploy or rollback as the lanes need it, from the report's deploys or the ledger's rows.
public struct ReleaseEvent: Sendable, Equatable {
    public var kind: ReleaseAction
    public var version: String
    public var previousVersion: String?
    public var status: DeploymentStatus
    public var at: Date
    public var by: String?
    public var seconds: Double?
    public var reason: String?

    public init(_ deploy: HandoffReport.Deploy) {
        self.init(kind: deploy.kind, version: deploy.version, previousVersion: deploy.previousVersion, status: Self.status(deploy.status),
                  at: deploy.at, by: deploy.by, seconds: deploy.durationSeconds.map { Double($0) }, reason: deploy.reason)
    }

    public init(_ record: DeploymentRecord) {
        self.init(kind: record.kind, version: record.version, previousVersion: record.previousVersion, status: record.status,
                  at: record.startedAt, by: record.actor, seconds: record.duration, reason: record.reason)
    }

    init(kind: ReleaseAction, version: String, previousVersion: String?, status: DeploymentStatus, at: Date, by: String?, seconds: Double?, reason: String?) {
        self.kind = kind
        self.version = version
        self.previousVersion = previousVersion
        self.status = status
        self.at = at
        self.by = by
        self.seconds = seconds
        self.reason = reason
    }

    static func status(_ raw: String) -> DeploymentStatus { DeploymentStatus(rawValue: raw) ?? .failed }
    static func status(_ status: DeploymentStatus) -> DeploymentStatus { status }

    var outcome: TimelineMark.Outcome {
        switch status {
        case .succeeded: .ok
        // Restored by itself (or cut short and marked): a warning, as in the verdict.
        case .rolledBack, .interrupted: .warning
        case .failed: .failed
        case .running, .aborted: .idle
        }
    }
}

/// The marks of each lane for a window, oldest first.
public struct TimelineLanes: Sendable {
    public var from: Date
    public var to: Date
    public var timeZone: TimeZone
    public var marks: [TimelineMark.Lane: [TimelineMark]]

    public subscript(lane: TimelineMark.Lane) -> [TimelineMark] { marks[lane] ?? [] }

    public init(report: HandoffReport) {
        let zone = TimeZone(identifier: report.window.timezone) ?? .current
        self.init(from: report.window.from, to: report.window.to, timeZone: zone,
                  releases: report.deploys.map(ReleaseEvent.init), activity: report.activity)
    }

    public init(from: Date, to: Date, timeZone: TimeZone, releases: [ReleaseEvent], activity: HandoffReport.Activity) {
        self.from = from
        self.to = to
        self.timeZone = timeZone
        marks = [
            .releases: releases.sorted { $0.at < $1.at }.map(Self.mark),
            .backups: activity.backups.map(Self.mark),
            .verify: activity.verifications.map { Self.mark($0, lane: .verify, noun: "verify") },
            .smoke: activity.smokeRuns.map { Self.mark($0, lane: .smoke, noun: "smoke run") },
            .notes: activity.notes.map(Self.mark),
        ]
    }

    static func mark(_ release: ReleaseEvent) -> TimelineMark {
        TimelineMark(lane: .releases, at: release.at, shape: release.kind == .rollback ? .down : .up, outcome: release.outcome,
                     label: release.version, source: .release(release))
    }

    static func mark(_ backup: HandoffReport.Activity.BackupRun) -> TimelineMark {
        let outcome: TimelineMark.Outcome = switch backup.status {
        case .succeeded: .ok
        case .failed: .failed
        case .running: .idle
        }
        return TimelineMark(lane: .backups, at: backup.at, shape: .square, outcome: outcome, label: nil, source: .backup(backup))
    }

    static func mark(_ run: HandoffReport.Activity.CheckRun, lane: TimelineMark.Lane, noun: String) -> TimelineMark {
        TimelineMark(lane: lane, at: run.at, shape: .dot, outcome: run.passed ? .ok : .failed, label: nil, source: .check(run, noun: noun))
    }

    static func mark(_ note: HandoffReport.Activity.NoteMark) -> TimelineMark {
        TimelineMark(lane: .notes, at: note.at, shape: .diamond, outcome: note.closedAt == nil ? .note : .idle, label: nil, source: .note(note))
    }

    /// `releases ▲▲✕▼ · backups ■■■□ · verify ● · smoke ●✕ · notes ◆`: the lanes as one line of text
    /// for Markdown and chat. A busy lane shows its newest marks after the count of earlier ones.
    public func summaryLine(maxPerLane: Int = 24) -> String {
        TimelineMark.Lane.allCases.map { lane in
            let marks = self[lane]
            guard !marks.isEmpty else { return "\(lane.rawValue) –" }
            let shown = marks.suffix(maxPerLane)
            let earlier = marks.count - shown.count
            return "\(lane.rawValue) " + (earlier > 0 ? "(+\(earlier)) " : "") + String(shown.map(\.glyph))
        }.joined(separator: " · ")
    }
}

extension TimelineMark {
    /// Everything about the mark, for its hover title.
    func detail(_ clock: MarkClock) -> String {
        switch source {
        case .release(let release):
            var detail = "\(release.kind.rawValue) \(release.version) (from \(release.previousVersion ?? "nothing")): "
                + release.status.rawValue.replacingOccurrences(of: "_", with: " ")
            detail += "\n\(clock.full(release.at))" + (release.by.map { ", by \($0)" } ?? "")
                + (release.seconds.map { ", took \(TextFormat.duration(seconds: Int($0.rounded())))" } ?? "")
            return detail + (release.reason.map { "\n\($0)" } ?? "")
        case .backup(let backup):
            return "backup \(backup.status.rawValue)" + (backup.bytes.map { ", \(ByteCount.format($0))" } ?? "") + "\n\(clock.full(backup.at))"
                + (backup.file.map { "\n\($0)" } ?? "") + (backup.error.map { "\n\($0)" } ?? "")
        case .check(let run, let noun):
            return "\(noun) \(run.passed ? "passed" : "FAILED"): \(run.detail)" + (run.p95Ms.map { String(format: ", p95 %.0f ms", $0) } ?? "")
                + "\n\(clock.full(run.at))"
        case .note(let note):
            let state = note.closedAt.map { "closed \(clock.full($0))" } ?? "pending"
            return "note #\(note.id) (\(state)): \(note.text)\n\(clock.full(note.at))" + (note.by.map { ", by \($0)" } ?? "")
        }
    }
}

/// Times in the report's timezone, the same way in every title.
struct MarkClock {
    let format: ClockFormat

    init(timeZone: TimeZone) { format = ClockFormat("yyyy-MM-dd HH:mm:ss zzz", timeZone: timeZone) }

    func full(_ date: Date) -> String { format.string(date) }
}
