// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What the templates need for the picture: the timeline and trend SVGs (HTML only), the
/// one-line lanes (both), the banner text and a status per section, all from the report model.
extension HandoffRenderer {
    static func glance(_ report: HandoffReport, format: Format) -> [String: Any] {
        let zone = TimeZone(identifier: report.window.timezone) ?? .current
        let lanes = TimelineLanes(report: report)
        let sizes = Sparkline.backupSizes(report, timeZone: zone)
        var view: [String: Any] = [
            "lanes_line": lanes.summaryLine(),
            "banner_text": report.findings.first.map { "\($0.rule): \($0.detail)" } ?? "no rule fired",
            "dot": sectionLevels(report),
        ]
        if let sizes { view["size_spark"] = sizes.blocks() }
        if format == .html {
            view["timeline_svg"] = TimelineSVG(lanes: lanes, now: report.generatedAt).render()
            let trends = [sizes, Sparkline.smokeP95(report, timeZone: zone)].compactMap { $0 }
            view["trends"] = trends.map { ["svg": $0.svg(), "caption": $0.summary] }
            view["has_trends"] = !trends.isEmpty
        }
        return view
    }

    /// Each section's dot: the worst rule of the verdict that speaks about it, Healthy when
    /// none does, `none` when the section has nothing to show, `info` when it only informs.
    static func sectionLevels(_ report: HandoffReport) -> [String: String] {
        func worst(_ prefixes: [String], present: Bool = true) -> String {
            let levels = report.findings.filter { finding in prefixes.contains { finding.rule.hasPrefix($0 + ".") } }.map(\.level)
            return levels.max()?.rawValue ?? (present ? HandoffReport.Level.healthy.rawValue : "none")
        }
        return [
            "why": report.verdict.rawValue,
            "glance": report.verdict.rawValue,
            "health": worst(["health"], present: report.health != nil),
            "incidents": worst(["incident"]),
            "deploys": worst(["deploy"]),
            "backups": worst(["backup", "offsite"], present: report.backups != nil),
            "checks": worst(["verify", "smoke", "database"]),
            "logs": worst(["logs"], present: report.logs != nil),
            "disks": worst(["disk"]),
            "facts": report.facts.isEmpty ? "none" : "info",
            "notes": report.notes.isEmpty ? "none" : "info",
            "changes": report.sinceLastHandoff == nil ? "none" : "info",
            "sources": worst(["source"]),
        ]
    }
}

extension Sparkline {
    /// `1.2 MiB now; 1.1–1.3 MiB over 14 runs; 1 jump`: the caption under the picture.
    var summary: String {
        guard let last = points.last, let low = points.min(by: { $0.value < $1.value }), let high = points.max(by: { $0.value < $1.value }) else {
            return caption
        }
        let jumps = self.jumps.count
        return "\(caption): \(last.text) now" + (points.count > 1 ? " (lowest \(low.text), highest \(high.text))" : "")
            + (jumps > 0 ? "; \(jumps) jump(s) of \(Int(Self.jump * 100))% or more, in red" : "")
    }
}
