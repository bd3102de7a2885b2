// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Mustache

/// Markdown and HTML from mustache templates (templates/handoff/, embedded in the binary;
/// `handoff.template` overrides the Markdown one). Templates stay logic-less: the wording of
/// each line is prepared here, the layout is theirs.
public enum HandoffRenderer {
    public enum Format: String, Sendable, CaseIterable { case markdown, json, html }

    public static func render(_ report: HandoffReport, format: Format, templateOverride: String?) throws(OpsError) -> String {
        switch format {
        case .json:
            return ReportEncoder.json(report: report)
        case .markdown, .html:
            let source: String
            if format == .markdown, let templateOverride {
                do { source = try String(contentsOfFile: templateOverride, encoding: .utf8) } catch {
                    throw OpsError(.config, code: "handoff.template", "\(templateOverride): cannot read the handoff template: \(error.localizedDescription)")
                }
            } else {
                source = (format == .markdown ? EmbeddedTemplate.handoffHandoffMdMustache : .handoffHandoffHtmlMustache).contents
            }
            let template: MustacheTemplate
            do { template = try MustacheTemplate(string: source) } catch {
                throw OpsError(.config, code: "handoff.template", "\(templateOverride ?? "the built-in handoff template"): \(error)")
            }
            return template.render(view(report).merging(glance(report, format: format)) { $1 })
        }
    }

    static let clock = ClockFormat("yyyy-MM-dd HH:mm zzz")

    static func time(_ date: Date) -> String { clock.string(date) }

    /// The template's data: plain strings, arrays and flags (mustache has no logic of its own).
    static func view(_ report: HandoffReport) -> [String: Any] {
        var view: [String: Any] = [
            "app": report.app, "env": report.env, "verdict": report.verdict.rawValue,
            "window_from": time(report.window.from), "window_to": time(report.window.to), "timezone": report.window.timezone,
            "generated_at": time(report.generatedAt), "by": report.by, "opsctl_version": report.opsctlVersion,
            "live_version": report.liveVersion ?? "nothing deployed",
            "findings": report.findings.map { ["level": $0.level.rawValue, "rule": $0.rule, "detail": $0.detail] },
            "has_findings": !report.findings.isEmpty,
            "deploys": report.deploys.map { deploy -> [String: Any] in
                var line: [String: Any] = ["at": time(deploy.at), "kind": deploy.kind.rawValue, "version": deploy.version, "from": deploy.previousVersion ?? "nothing",
                                           "status": deploy.status.rawValue, "by": deploy.by ?? "?",
                                           "took": deploy.durationMs.map(TextFormat.duration(milliseconds:)) ?? "-"]
                if let reason = deploy.reason { line["reason"] = reason }
                if let slot = deploy.slot { line["slot"] = slot }
                if let steps = deploy.canary, !steps.isEmpty { line["canary"] = CanaryStepReport.summary(steps) }
                return line
            },
            "verify": checks(report.verifications, noun: "verification"),
            "smoke": checks(report.smoke, noun: "smoke run"),
            "disks": report.disks.map { ["path": $0.path, "used": String(format: "%.1f", $0.usedPercent), "free": ByteCount.format($0.freeBytes)] },
            "has_disks": !report.disks.isEmpty,
            "facts": report.facts.map { ["name": $0.name, "value": $0.value ?? "could not be read: \($0.error ?? "?")"] },
            "has_facts": !report.facts.isEmpty,
            "notes": report.notes.map { ["id": String($0.id), "text": $0.text, "by": $0.by ?? "?", "at": time($0.at)] },
            "source_errors": report.sourceErrors.map { ["source": $0.source, "error": $0.error] },
            "has_source_errors": !report.sourceErrors.isEmpty,
        ]
        if let first = report.findings.first { view["decided_by"] = "\(first.rule) (\(first.detail))" }
        if let proxy = report.proxy { view["slots"] = proxy.entries(now: report.generatedAt, env: report.env).map { "\($0.label): \($0.text)" } }
        if let swarm = report.swarm { view["swarm"] = swarm.handoffLines }
        if let health = report.health {
            view["health"] = ["line": health.ok ? "\(health.url) answers: HTTP \(health.status ?? 0) in \(health.ms ?? 0) ms"
                                                : "\(health.url) FAILS: \(health.reason ?? "no answer")"]
        }
        if let backups = report.backups {
            let last = backups.lastSuccessAt.map { "\(backups.lastSuccessFile ?? "?") at \(time($0)), \(backups.ageHours.map { String($0) } ?? "?") h old (limit \(backups.maxAgeHours) h)" }
            view["backups"] = [
                "last": last ?? "none recorded",
                "trend": backups.trend.map { "\($0): " + backups.recentBytes.map(ByteCount.format).joined(separator: " → ") } ?? (backups.recentBytes.first.map(ByteCount.format) ?? "-"),
                "verified": backups.lastSuccessAt == nil ? "-" : backups.lastVerified ? "yes (the newest good backup passed verify)" : "NO: run opsctl verify \(report.env) --latest",
                "in_window": "\(backups.inWindow) run(s), \(backups.failedInWindow) failed",
            ]
        }
        if let offsite = report.offsite { view["offsite"] = offsiteLines(offsite) }
        if let replica = report.replica { view["replica"] = replica.problem.map { "\($0); " + replica.summary } ?? replica.summary }
        if let database = report.database {
            view["database"] = database.ok ? "ok (\(database.path))" : "FAILED: \(database.quickCheck) (\(database.path))"
            view["database_lines"] = databaseLines(database)
        }
        if let logs = report.logs {
            view["logs"] = ["summary": "\(logs.errors) line(s) matching /\(logs.pattern)/ in \(logs.container)",
                            "top": logs.top.map { ["count": String($0.count), "text": $0.text] }] as [String: Any]
        }
        if let incidents = report.incidents, !(incidents.open.isEmpty && incidents.closedInWindow.isEmpty) {
            view["incidents"] = incidentLines(incidents)
            view["has_incidents"] = true
        }
        if let changes = report.sinceLastHandoff {
            view["changes"] = ["previous handoff \(time(changes.previousAt)) was \(changes.previousVerdict)",
                               "\(changes.deploys) deploy(s)/rollback(s), \(changes.backups) good backup(s) since",
                               "\(changes.notesAdded) note(s) added, \(changes.notesClosed) closed since"]
        }
        return view
    }

    /// Open ones first (with how long so far), then those closed in the window with their durations.
    static func incidentLines(_ incidents: HandoffReport.Incidents) -> [String] {
        incidents.open.map { "OPEN #\($0.id) (\($0.severity.rawValue)) \($0.title): open \(TextFormat.duration(seconds: $0.durationSeconds)) so far, since \(time($0.openedAt))" }
            + incidents.closedInWindow.map { item in
                "closed #\(item.id) (\(item.severity.rawValue)) \(item.title): lasted \(TextFormat.duration(seconds: item.durationSeconds))"
                    + (item.closedAt.map { ", closed \(time($0))" } ?? "") + (item.summary.map { ": \($0)" } ?? "")
            }
    }

    /// The database against its thresholds, each warning, and the maintenance runs in the window.
    static func databaseLines(_ database: HandoffReport.Database) -> [String] {
        var lines: [String] = []
        if let glance = database.maintenance {
            lines.append("database: \(glance.summary)")
            lines += glance.warnings.map { "database \($0.id.rawValue): \($0.verdict.rawValue.uppercased()) \($0.summary)" + ($0.fix.map { "; fix: \($0)" } ?? "") }
        }
        for run in database.maintenanceRuns ?? [] {
            lines.append("database \(run.operation.rawValue) (\(run.method.rawValue)) at \(time(run.finishedAt)): \(run.status.rawValue)"
                         + ((run.error ?? run.summary).map { ", \($0)" } ?? ""))
        }
        return lines
    }

    static func checks(_ checks: HandoffReport.Checks, noun: String) -> String {
        let last = checks.lastAt.map { "; last \(time($0)): \(checks.lastStatus ?? "?")" + (checks.lastReason.map { " (\($0))" } ?? "") } ?? "; never run"
        return "\(checks.runs) \(noun)(s) in the window, \(checks.failed) failed" + last
    }
}
