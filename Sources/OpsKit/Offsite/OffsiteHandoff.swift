// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The off-site facts of a handoff (from the ledger) and the rules they feed.
extension HandoffService {
    func offsiteFacts(_ ledger: Ledger, settings: OffsiteSettings, from: Date, to: Date) throws(OpsError) -> HandoffReport.Offsite {
        let newest = try ledger.newestOffsiteCopy(env: environment.name)
        let runs = try ledger.offsiteRuns(env: environment.name, from: from, to: to)
        let age = newest.map { context.now().timeIntervalSince($0.backupTime) / 3600 }
        return .init(url: settings.url, newestFile: newest?.file, newestAt: newest?.backupTime, ageHours: age.map { ($0 * 10).rounded() / 10 },
                     maxAgeHours: Double(environment.handoff.thresholds.offsiteMaxAge.milliseconds) / 3_600_000,
                     lastRunAt: runs.last?.at, lastRunStatus: runs.last?.status, lastRunError: runs.last?.error.map(config.redactor.scrub),
                     runsInWindow: runs.total, failedInWindow: runs.failed)
    }

    /// Warning: the newest off-site copy is older than handoff.thresholds.offsite_max_age (or
    /// there is none), or an off-site run failed in the window.
    static func offsiteFindings(_ offsite: HandoffReport.Offsite?) -> [HandoffReport.Finding] {
        guard let offsite else { return [] }
        var findings: [HandoffReport.Finding] = []
        if let age = offsite.ageHours {
            if age > offsite.maxAgeHours {
                findings.append(.init(level: .warning, rule: "offsite.stale",
                                      detail: "the newest off-site copy (\(offsite.newestFile ?? "?")) is \(age) h old (limit \(offsite.maxAgeHours) h)"))
            }
        } else {
            findings.append(.init(level: .warning, rule: "offsite.stale", detail: "no off-site copy recorded in \(offsite.url)"))
        }
        if offsite.failedInWindow > 0 {
            findings.append(.init(level: .warning, rule: "offsite.failed",
                                  detail: "\(offsite.failedInWindow) off-site run(s) failed in the window" + (offsite.lastRunError.map { "; last: \($0)" } ?? "")))
        }
        return findings
    }
}

extension HandoffRenderer {
    static func offsiteLines(_ offsite: HandoffReport.Offsite) -> [String: String] {
        let newest = offsite.newestAt.map { "\(offsite.newestFile ?? "?") in \(offsite.url), taken \(time($0)), \(offsite.ageHours.map { String($0) } ?? "?") h old (limit \(offsite.maxAgeHours) h)" }
        let last = offsite.lastRunAt.map { "; last \(time($0)): \(offsite.lastRunStatus?.rawValue ?? "?")" + (offsite.lastRunError.map { " (\($0))" } ?? "") } ?? "; never run"
        return ["newest": newest ?? "no copy recorded in \(offsite.url)",
                "runs": "\(offsite.runsInWindow) in the window, \(offsite.failedInWindow) failed" + last]
    }
}
