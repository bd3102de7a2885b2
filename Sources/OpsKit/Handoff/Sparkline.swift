// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A small line of recent values (backup sizes, smoke p95) where a sudden step is what the eye
/// should catch: a point that moves by `jump` or more from the one before (and by at least
/// `floor`, so 4 ms → 6 ms is not news) is drawn red, and says so in its title.
public struct Sparkline {
    public struct Point: Sendable, Equatable {
        public var at: Date
        public var value: Double
        public var text: String
    }

    static let width = 240.0
    static let height = 36.0
    static let pad = 5.0
    /// A change of at least 20% between two runs in a row.
    static let jump = 0.2

    var caption: String
    var points: [Point]
    var timeZone: TimeZone
    /// The smallest absolute change that counts as a jump.
    var floor: Double = 0

    /// The points that moved by `jump` or more, with the signed change (0.5 = +50%).
    var jumps: [Int: Double] {
        var found: [Int: Double] = [:]
        for index in points.indices.dropFirst() where points[index - 1].value > 0 {
            let change = (points[index].value - points[index - 1].value) / points[index - 1].value
            if abs(change) >= Self.jump, abs(points[index].value - points[index - 1].value) >= floor { found[index] = change }
        }
        return found
    }

    func y(_ value: Double, low: Double, high: Double) -> Double {
        guard high > low else { return Self.height / 2 }
        return Self.height - Self.pad - (value - low) / (high - low) * (Self.height - 2 * Self.pad)
    }

    func x(_ index: Int) -> Double {
        points.count < 2 ? Self.width / 2 : Self.pad + Double(index) / Double(points.count - 1) * (Self.width - 2 * Self.pad)
    }

    public func svg() -> String {
        let values = points.map(\.value)
        let low = values.min() ?? 0, high = values.max() ?? 0
        let jumps = self.jumps
        let clock = MarkClock(timeZone: timeZone)
        var svg = SVGText()
        svg.line(#"<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" viewBox="0 0 \#(n(Self.width)) \#(n(Self.height))" "#
                 + #"width="\#(n(Self.width))" height="\#(n(Self.height))" role="img" aria-label="\#(escape(caption))">"#)
        svg.line("<title>\(escape(caption))</title>")
        let line = points.indices.map { "\(n(x($0))),\(n(y(points[$0].value, low: low, high: high)))" }.joined(separator: " ")
        svg.line(#"<polyline points="\#(line)"/>"#)
        for (index, point) in points.enumerated() {
            var title = "\(point.text), \(clock.full(point.at))"
            if let change = jumps[index] { title += String(format: " (%@%.0f%% from the run before)", change >= 0 ? "+" : "", change * 100) }
            let kind = jumps[index] != nil ? "jump" : index == points.count - 1 ? "last" : "point"
            svg.line(#"<circle class="\#(kind)" cx="\#(n(x(index)))" cy="\#(n(y(point.value, low: low, high: high)))" r="\#(kind == "point" ? "2" : "3.5")">"#
                     + "<title>\(escape(title))</title></circle>")
        }
        svg.line("</svg>")
        return svg.text
    }

    /// The same values as block characters, for Markdown.
    public func blocks() -> String {
        let values = points.map(\.value)
        guard let low = values.min(), let high = values.max() else { return "" }
        let levels = Array("▁▂▃▄▅▆▇█")
        return String(values.map { value in
            high > low ? levels[Int(((value - low) / (high - low) * Double(levels.count - 1)).rounded())] : levels[3]
        })
    }
}

extension Sparkline {
    /// Latency moves by a few ms all the time; a jump worth a look is at least this big.
    static let smokeFloorMs = 50.0

    static func backupSizes(_ report: HandoffReport, timeZone: TimeZone) -> Sparkline? {
        let sizes = report.activity.backupSizes
        guard !sizes.isEmpty else { return nil }
        return Sparkline(caption: "Size of the last \(sizes.count) good backup(s)",
                         points: sizes.map { .init(at: $0.at, value: $0.value, text: ByteCount.format(Int64($0.value))) }, timeZone: timeZone)
    }

    static func smokeP95(_ report: HandoffReport, timeZone: TimeZone) -> Sparkline? {
        let runs = report.activity.smokeP95Ms
        guard !runs.isEmpty else { return nil }
        return Sparkline(caption: "Smoke p95 latency of the last \(runs.count) run(s)",
                         points: runs.map { .init(at: $0.at, value: $0.value, text: String(format: "%.0f ms", $0.value)) }, timeZone: timeZone, floor: smokeFloorMs)
    }
}

private func n(_ value: Double) -> String { SVGText.number(value) }
private func escape(_ text: String) -> String { XMLText.escape(text) }
