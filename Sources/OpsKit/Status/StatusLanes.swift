// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl status` on a terminal: the last 24 h of the handoff's lanes, one line each, a column
/// per half hour. Each column shows its worst mark. Read from the same ledger queries as the
/// handoff's timeline; only for people at a terminal, never in `--json`.
public struct StatusLanes: Sendable {
    public static let window: TimeInterval = 24 * 3600
    public static let columns = 48
    static let nameWidth = 10

    public var lanes: TimelineLanes
    public var colour: Bool

    public init(lanes: TimelineLanes, colour: Bool) {
        self.lanes = lanes
        self.colour = colour
    }

    public static func load(config: OpsConfig, env: String, now: Date, colour: Bool, context: OpsContext) throws(OpsError) -> StatusLanes {
        let ledger = try context.ledger(config.state)
        let from = now.addingTimeInterval(-window)
        let activity = try HandoffReport.Activity.load(ledger, env: env, from: from, to: now, redactor: config.redactor)
        let releases = try ledger.deployments(env: env, from: from, to: now).map(ReleaseEvent.init)
        return StatusLanes(lanes: TimelineLanes(from: from, to: now, timeZone: .current, releases: releases, activity: activity), colour: colour)
    }

    func column(_ date: Date) -> Int {
        let span = lanes.to.timeIntervalSince(lanes.from)
        let fraction = span > 0 ? date.timeIntervalSince(lanes.from) / span : 0
        return min(Self.columns - 1, max(0, Int(fraction * Double(Self.columns))))
    }

    public func render() -> String {
        ([header()] + TimelineMark.Lane.allCases.map(row)).joined(separator: "\n")
    }

    /// `last 24 h  18:00       00:00 …  now`, each local time over its column.
    func header() -> String {
        let width = Self.nameWidth + Self.columns
        var line = Array("last 24 h".padding(toLength: width, withPad: " ", startingAt: 0))
        for tick in TimeAxis.ticks(from: lanes.from, to: lanes.to, timeZone: lanes.timeZone, most: 5, dayFormat: "EEE") {
            let start = Self.nameWidth + column(tick.at)
            let span = (start - 1)..<(start + tick.label.count)
            guard span.upperBound <= width, line[span].allSatisfy({ $0 == " " }) else { continue }
            for (offset, character) in tick.label.enumerated() { line[start + offset] = character }
        }
        return String(line) + "  now"
    }

    func row(_ lane: TimelineMark.Lane) -> String {
        var cells: [TimelineMark?] = Array(repeating: nil, count: Self.columns)
        let marks = lanes[lane]
        for mark in marks {
            let index = column(mark.at)
            if cells[index].map({ mark.outcome >= $0.outcome }) ?? true { cells[index] = mark }
        }
        let strip = paint(cells.map { cell in (cell.map(\.glyph) ?? "·", cell?.outcome ?? .idle) })
        let notOK = marks.filter { $0.outcome >= .warning }.count
        let tally = marks.isEmpty ? "none" : "\(marks.count)" + (notOK > 0 ? ", \(notOK) not ok" : "")
        return lane.rawValue.padding(toLength: Self.nameWidth, withPad: " ", startingAt: 0) + strip + "  " + tally
    }

    /// One colour sequence per run of equal outcomes, so a line stays short in a log or a scrollback.
    func paint(_ cells: [(glyph: Character, outcome: TimelineMark.Outcome)]) -> String {
        guard colour else { return String(cells.map(\.glyph)) }
        var text = "", index = 0
        while index < cells.count {
            let outcome = cells[index].outcome
            var run = ""
            while index < cells.count, cells[index].outcome == outcome { run.append(cells[index].glyph); index += 1 }
            text += "\u{1B}[\(Self.ansi(outcome))m\(run)\u{1B}[0m"
        }
        return text
    }

    static func ansi(_ outcome: TimelineMark.Outcome) -> String {
        switch outcome {
        case .ok: "32"
        case .warning: "33"
        case .failed: "31"
        case .note: "34"
        case .idle: "90"
        }
    }
}

/// What `opsctl status` prints on a terminal: the status, then the lanes. Its JSON is the
/// status alone (the command only builds this without `--json` anyway).
public struct TerminalStatusReport: Report {
    public var status: StatusReport
    public var lanes: StatusLanes

    public init(status: StatusReport, lanes: StatusLanes) {
        self.status = status
        self.lanes = lanes
    }

    public var exitCode: Int32 { status.exitCode }
    public func encode(to encoder: any Encoder) throws { try status.encode(to: encoder) }
    public func renderText() -> String { status.renderText() + "\n\n" + lanes.render() }
}
