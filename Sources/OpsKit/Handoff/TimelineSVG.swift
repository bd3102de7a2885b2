// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The window as an inline SVG: one lane per kind of event, a time axis in the report's
/// timezone, a marker at "now", and a `<title>` on every mark for hover. No scripts, no
/// external references: the page works from a mail attachment and prints.
///
/// Marks closer than `spacing` px on a lane are drawn as one cluster (count, worst colour,
/// every member in its title), so 10,000 events stay a few hundred elements.
public struct TimelineSVG {
    static let width = 960.0
    static let plotLeft = 100.0
    static let plotRight = 940.0
    static let top = 26.0
    static let laneHeight = 34.0
    static let axisHeight = 30.0
    /// Marks are 12 px wide; closer than this they would touch.
    static let spacing = 12.0
    /// A cluster never spans more than this, so a busy day still shows where in it things happened.
    static let clusterSpan = 48.0
    /// Lines of members listed in a cluster's title.
    static let clusterTitleLines = 12

    let lanes: TimelineLanes
    let now: Date
    let clock: MarkClock

    public init(lanes: TimelineLanes, now: Date) {
        self.lanes = lanes
        self.now = now
        clock = MarkClock(timeZone: lanes.timeZone)
    }

    public static func render(_ report: HandoffReport) -> String {
        TimelineSVG(lanes: TimelineLanes(report: report), now: report.generatedAt).render()
    }

    static var height: Double { top + Double(TimelineMark.Lane.allCases.count) * laneHeight + axisHeight }
    static var bottom: Double { top + Double(TimelineMark.Lane.allCases.count) * laneHeight }

    /// The x of a time: linear over the plot, clamped to it.
    func x(_ date: Date) -> Double {
        let span = lanes.to.timeIntervalSince(lanes.from)
        let fraction = span > 0 ? date.timeIntervalSince(lanes.from) / span : 0
        return Self.plotLeft + min(1, max(0, fraction)) * (Self.plotRight - Self.plotLeft)
    }

    public func render() -> String {
        var svg = SVGText()
        svg.line(#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 \#(n(Self.width)) \#(n(Self.height))" "#
                 + #"width="\#(n(Self.width))" height="\#(n(Self.height))" role="img" aria-label="\#(escape(summary))">"#)
        svg.line("<title>\(escape(summary))</title>")
        svg.line(#"<rect class="plot" x="\#(n(Self.plotLeft))" y="\#(n(Self.top))" width="\#(n(Self.plotRight - Self.plotLeft))" height="\#(n(Self.bottom - Self.top))"/>"#)
        axis(&svg)
        nowMarker(&svg)
        for (index, lane) in TimelineMark.Lane.allCases.enumerated() {
            self.lane(lane, middle: Self.top + (Double(index) + 0.5) * Self.laneHeight, &svg)
        }
        svg.line("</svg>")
        return svg.text
    }

    var summary: String {
        let counts = TimelineMark.Lane.allCases.map { "\(lanes[$0].count) \($0.rawValue)" }.joined(separator: ", ")
        return "Timeline \(clock.full(lanes.from)) to \(clock.full(lanes.to)): \(counts)"
    }

    func axis(_ svg: inout SVGText) {
        svg.line(#"<g class="axis">"#)
        for tick in TimeAxis.ticks(from: lanes.from, to: lanes.to, timeZone: lanes.timeZone) {
            let x = n(x(tick.at))
            svg.line(#"<line class="grid" x1="\#(x)" y1="\#(n(Self.top))" x2="\#(x)" y2="\#(n(Self.bottom + 4))"/>"#
                     + #"<text class="tick" x="\#(x)" y="\#(n(Self.bottom + 16))" text-anchor="middle">\#(escape(tick.label))</text>"#)
        }
        svg.line(#"<text class="zone" x="8" y="\#(n(Self.top - 11))">\#(escape(lanes.timeZone.identifier))</text>"#)
        svg.line("</g>")
    }

    func nowMarker(_ svg: inout SVGText) {
        // A window that ends "now" was cut a moment before the report was stamped.
        guard now >= lanes.from, now <= lanes.to.addingTimeInterval(60) else { return }
        let x = n(x(now))
        svg.line(#"<g class="now"><title>now: \#(escape(clock.full(now)))</title>"#
                 + #"<line x1="\#(x)" y1="\#(n(Self.top - 8))" x2="\#(x)" y2="\#(n(Self.bottom))"/>"#
                 + #"<text x="\#(x)" y="\#(n(Self.top - 11))" text-anchor="middle">now</text></g>"#)
    }

    func lane(_ lane: TimelineMark.Lane, middle: Double, _ svg: inout SVGText) {
        let marks = lanes[lane]
        svg.line(#"<g class="lane \#(lane.rawValue)">"#)
        svg.line(#"<text class="lane-name" x="8" y="\#(n(middle + 4))">\#(lane.title)</text>"#
                 + (marks.isEmpty ? "" : #"<text class="lane-count" x="\#(n(Self.plotLeft - 8))" y="\#(n(middle + 4))" text-anchor="end">\#(marks.count)</text>"#))
        svg.line(#"<line class="lane-line" x1="\#(n(Self.plotLeft))" y1="\#(n(middle))" x2="\#(n(Self.plotRight))" y2="\#(n(middle))"/>"#)
        if marks.isEmpty {
            svg.line(#"<text class="empty" x="\#(n(Self.plotLeft + 6))" y="\#(n(middle + 4))">none in the window</text>"#)
        }
        // Releases carry their version above the mark, so the mark sits a little lower.
        let y = lane == .releases ? middle + 4 : middle
        var labels = LabelRow()
        for group in clusters(marks) {
            if group.count == 1 {
                single(group[0], y: y, &svg, &labels)
            } else {
                cluster(group, y: y, &svg)
            }
        }
        svg.line("</g>")
    }

    /// Consecutive marks closer than `spacing` px join one cluster, up to `clusterSpan` px wide.
    func clusters(_ marks: [TimelineMark]) -> [[TimelineMark]] {
        var groups: [[TimelineMark]] = []
        var first = 0.0, last = 0.0
        for mark in marks {
            let position = x(mark.at)
            if !groups.isEmpty, position - last < Self.spacing, position - first < Self.clusterSpan {
                groups[groups.count - 1].append(mark)
            } else {
                groups.append([mark])
                first = position
            }
            last = position
        }
        return groups
    }

    func single(_ mark: TimelineMark, y: Double, _ svg: inout SVGText, _ labels: inout LabelRow) {
        let x = x(mark.at)
        svg.line(#"<g class="mark \#(mark.lane.rawValue) \#(mark.outcome.rawValue)" transform="translate(\#(n(x)) \#(n(y)))">"#
                 + "<title>\(escape(mark.detail(clock)))</title>\(Self.shape(mark))</g>")
        if mark.lane == .releases, let label = mark.label, labels.fits(label, at: x) {
            svg.line(#"<text class="label" x="\#(n(x))" y="\#(n(y - 10))" text-anchor="middle">\#(escape(label))</text>"#)
        }
    }

    static func shape(_ mark: TimelineMark) -> String {
        // A cross on failures too, so the picture does not rely on colour alone.
        let cross = mark.outcome >= .warning ? #"<path class="cross" d="M-3 -3L3 3M3 -3L-3 3"/>"# : ""
        switch mark.shape {
        case .up: return #"<path d="M0 -7L7 5H-7Z"/>"# + (mark.outcome >= .warning ? #"<path class="cross" d="M-2.5 -1L2.5 4M2.5 -1L-2.5 4"/>"# : "")
        case .down: return #"<path d="M0 7L7 -5H-7Z"/>"# + (mark.outcome >= .warning ? #"<path class="cross" d="M-2.5 -4L2.5 1M2.5 -4L-2.5 1"/>"# : "")
        case .square: return #"<rect x="-5" y="-5" width="10" height="10"/>"# + cross
        case .dot: return #"<circle r="5.5"/>"# + cross
        case .diamond: return #"<path d="M0 -6.5L6.5 0L0 6.5L-6.5 0Z"/>"#
        }
    }

    func cluster(_ group: [TimelineMark], y: Double, _ svg: inout SVGText) {
        let worst = group.map(\.outcome).max()!
        let left = x(group.first!.at), right = x(group.last!.at)
        let count = String(group.count)
        let width = max(right - left + 12, Double(count.count) * 6.5 + 8)
        let middle = (left + right) / 2
        var title = ["\(group.count) \(group.first!.lane.rawValue) from \(clock.full(group.first!.at)) to \(clock.full(group.last!.at))"]
        let failing = group.filter { $0.outcome >= .warning }.count
        if failing > 0 { title[0] += ", \(failing) not ok" }
        title += group.prefix(Self.clusterTitleLines).map { "\($0.glyph) \($0.detail(clock).replacingOccurrences(of: "\n", with: " · "))" }
        if group.count > Self.clusterTitleLines { title.append("… and \(group.count - Self.clusterTitleLines) more") }
        svg.line(#"<g class="cluster \#(group.first!.lane.rawValue) \#(worst.rawValue)" transform="translate(\#(n(middle)) \#(n(y)))">"#
                 + "<title>\(escape(title.joined(separator: "\n")))</title>"
                 + #"<rect x="\#(n(-width / 2))" y="-7" width="\#(n(width))" height="14" rx="7"/>"#
                 + #"<text y="3.5" text-anchor="middle">\#(count)</text></g>"#)
    }
}

/// Left-to-right text labels that must not overlap: the next one is drawn only past the last.
struct LabelRow {
    var end = -Double.infinity

    mutating func fits(_ text: String, at x: Double) -> Bool {
        let half = Double(text.count) * 3.1
        guard x - half >= end + 4, x + half <= TimelineSVG.width else { return false }
        end = x + half
        return true
    }
}

/// An SVG document being written, one element per line (diffable golden files).
struct SVGText {
    var text = ""
    mutating func line(_ element: String) { text += element + "\n" }

    /// Coordinates with one decimal, the same on every machine.
    static func number(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
    }
}

private func n(_ value: Double) -> String { SVGText.number(value) }
private func escape(_ text: String) -> String { XMLText.escape(text) }
