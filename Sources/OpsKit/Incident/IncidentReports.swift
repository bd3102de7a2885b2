// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Whether the webhook notice of an open or a close went out.
public struct NoticeOutcome: Sendable, Codable, Equatable {
    public var posted: Bool
    /// Why not (never the webhook's URL: it is a secret).
    public var error: String?
    /// When the post ended (or was given up).
    public var at: Date

    var line: String { posted ? "posted to handoff.webhook" : "NOT posted to handoff.webhook: \(error ?? "?")" }
}

/// `opsctl incident open`.
public struct IncidentOpenReport: Report {
    public var id: Int64
    public var env: String
    public var title: String
    public var severity: IncidentSeverity
    public var openedAt: Date
    public var bundle: BundleSummary?
    /// The bundle could not be written at all (the incident is open regardless).
    public var bundleError: String?
    /// nil: no `handoff.webhook` configured.
    public var notice: NoticeOutcome?

    public var exitCode: Int32 { bundleError == nil ? 0 : OpsError.Kind.io.exitCode }

    public func renderText() -> String {
        var lines = ["incident #\(id) opened on \(env) (\(severity.rawValue)): \(title)"]
        if let bundle { lines += bundle.lines } else { lines.append("bundle: NOT written: \(bundleError ?? "?")") }
        lines.append("notice: " + (notice?.line ?? "no handoff.webhook configured"))
        lines.append("next: opsctl incident note \(env) \"what you see or do\"; opsctl incident close \(env) --summary \"…\"")
        return lines.joined(separator: "\n")
    }
}

/// `opsctl incident note`.
public struct IncidentNoteReport: Report {
    public var id: Int64
    public var env: String
    public var note: String
    public var at: Date

    public func renderText() -> String { "noted on incident #\(id) (\(env)) at \(TextFormat.timestamp(at))" }
}

/// `opsctl incident bundle`.
public struct IncidentBundleReport: Report {
    public var id: Int64
    public var env: String
    public var bundle: BundleSummary

    public func renderText() -> String { (["another bundle for incident #\(id) (\(env))"] + bundle.lines).joined(separator: "\n") }
}

/// `opsctl incident close`.
public struct IncidentCloseReport: Report {
    public var id: Int64
    public var env: String
    public var title: String
    public var severity: IncidentSeverity
    public var openedAt: Date
    public var closedAt: Date
    public var durationSeconds: Int
    public var timeToMitigate: Postmortem.Mitigation?
    public var summary: String
    public var notice: NoticeOutcome?

    public func renderText() -> String {
        [
            "incident #\(id) closed on \(env) after \(TextFormat.duration(seconds: durationSeconds)): \(title)",
            "time to mitigate: " + (timeToMitigate.map { "\(TextFormat.duration(seconds: $0.seconds)) (\($0.what))" } ?? "not mitigated by a deploy or rollback"),
            "notice: " + (notice?.line ?? "no handoff.webhook configured"),
            "postmortem draft: opsctl incident show \(env) \(id)",
        ].joined(separator: "\n")
    }
}

/// `opsctl incident list`.
public struct IncidentListReport: Report {
    public struct Item: Sendable, Codable, Equatable {
        public var incident: IncidentRecord
        public var open: Bool
        public var durationSeconds: Int
    }

    public var env: String
    public var incidents: [Item]

    public func renderText() -> String {
        guard !incidents.isEmpty else { return "no incidents recorded for \(env)" }
        let rows = incidents.map { item in
            ["#\(item.incident.id)", item.incident.severity.rawValue, item.open ? "OPEN" : "closed", TextFormat.timestamp(item.incident.openedAt),
             TextFormat.duration(seconds: item.durationSeconds) + (item.open ? " so far" : ""), item.incident.title]
        }
        return TextFormat.table(["id", "severity", "state", "opened", "lasted", "title"], rows)
    }
}

extension BundleSummary {
    /// The file, then one line per part.
    var lines: [String] {
        ["bundle: \(file) (\(ByteCount.format(Int64(bytes))))"] + parts.map { part in
            let outcome = part.outcome.rawValue.replacingOccurrences(of: "_", with: " ")
            let what = [part.summary, part.error].compactMap { $0 }.joined(separator: ": ")
            return "  " + part.name.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0) + outcome.padding(toLength: 15, withPad: " ", startingAt: 0) + what
        }
    }
}
