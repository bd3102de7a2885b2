// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl incident open|note|bundle|close|list|show`: an incident is a window on the ledger,
/// with its own notes, diagnostic bundles and the commands people ran while it was open.
public struct IncidentService: Sendable {
    public let config: OpsConfig
    public let environment: EnvironmentConfig
    public let context: OpsContext
    /// Secret commands that failed: the notice is not sent when the webhook is one of them, and
    /// the bundle withholds what could carry a secret it cannot scrub.
    public var unresolvedSecrets: [OpsError] = []

    public init(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext) {
        self.config = config
        self.environment = environment
        self.context = context
    }

    var env: String { environment.name }

    func ledger() throws(OpsError) -> Ledger { try context.ledger(config.state) }

    /// Records the incident, then sends the notice while the bundle is collected.
    public func open(title: String, severity: IncidentSeverity) async throws(OpsError) -> IncidentOpenReport {
        let title = try clean(title, what: "title")
        let ledger = try ledger()
        let now = context.now()
        let id = try ledger.openIncident(env: env, title: title, severity: severity, by: context.actor, at: now) { () throws(OpsError) in
            try IncidentFiles.syncMarker(state: config.state, env: env, open: try ledger.openIncidents(env: env))
        }
        let incident = IncidentRecord(id: id, env: env, title: title, severity: severity, openedAt: now, openedBy: context.actor)
        writeMetrics(ledger)
        context.logger.notice("incident #\(id) opened on \(env); collecting the diagnostic bundle")
        async let notice = notify(IncidentNotice.opened(incident, app: config.app))
        async let bundle = takeBundle(incident)
        var report = IncidentOpenReport(id: id, env: env, title: title, severity: severity, openedAt: now)
        switch await bundle {
        case .success(let summary): report.bundle = summary
        case .failure(let error): report.bundleError = error.message
        }
        report.notice = await notice
        try record(notice: report.notice, of: "open", incident: id, ledger: ledger)
        return report
    }

    /// A timeline entry on the newest open incident.
    public func note(_ text: String) throws(OpsError) -> IncidentNoteReport {
        let text = try clean(text, what: "note")
        let ledger = try ledger()
        let incident = try newestOpen(ledger)
        let now = context.now()
        try ledger.addIncidentEvent(IncidentEventDraft(kind: .note, at: now, actor: context.actor, text: text), to: [incident.id])
        return IncidentNoteReport(id: incident.id, env: env, note: text, at: now)
    }

    /// Another bundle for the newest open incident (after a restart, say).
    public func bundle() async throws(OpsError) -> IncidentBundleReport {
        let incident = try newestOpen(try ledger())
        let summary = try await takeBundle(incident).get()
        return IncidentBundleReport(id: incident.id, env: env, bundle: summary)
    }

    /// Closes incident `id` (default: the newest open one) and sends the notice.
    public func close(id: Int64?, summary: String) async throws(OpsError) -> IncidentCloseReport {
        let summary = try clean(summary, what: "summary")
        let ledger = try ledger()
        var incident: IncidentRecord
        if let id { incident = try openIncident(id, ledger) } else { incident = try newestOpen(ledger) }
        let now = context.now()
        let closed = try ledger.closeIncident(id: incident.id, env: env, summary: summary, by: context.actor, at: now) { open throws(OpsError) in
            try IncidentFiles.syncMarker(state: config.state, env: env, open: open)
        }
        // Another run closed it between the lookup and the update.
        guard closed else { throw Self.notOpen(incident) }
        incident.closedAt = now
        incident.closedBy = context.actor
        incident.summary = summary
        writeMetrics(ledger)
        let postmortem = try Self.postmortem(ledger, incident, app: config.app, redactor: config.redactor, now: now)
        let notice = await notify(IncidentNotice.closed(incident, app: config.app, mitigation: postmortem.timeToMitigate))
        try record(notice: notice, of: "close", incident: incident.id, ledger: ledger)
        return IncidentCloseReport(id: incident.id, env: env, title: incident.title, severity: incident.severity, openedAt: incident.openedAt,
                                   closedAt: now, durationSeconds: incident.durationSeconds(now: now), timeToMitigate: postmortem.timeToMitigate,
                                   summary: summary, notice: notice)
    }

    public func list() throws(OpsError) -> IncidentListReport {
        let now = context.now()
        return IncidentListReport(env: env, incidents: try ledger().incidents(env: env).map {
            .init(incident: $0, open: $0.isOpen, durationSeconds: $0.durationSeconds(now: now))
        })
    }

    /// The postmortem draft of incident `id`.
    public func show(id: Int64) throws(OpsError) -> Postmortem {
        let ledger = try ledger()
        guard let incident = try ledger.incident(id: id), incident.env == env else { throw Self.unknown(id, env: env) }
        return try Self.postmortem(ledger, incident, app: config.app, redactor: config.redactor, now: context.now())
    }

    static func postmortem(_ ledger: Ledger, _ incident: IncidentRecord, app: String, redactor: Redactor, now: Date) throws(OpsError) -> Postmortem {
        let end = incident.closedAt ?? now
        let events = try ledger.incidentEvents(incident: incident.id)
        let ledgerEvents = try IncidentTimeline.ledgerEvents(ledger, env: incident.env, from: incident.openedAt, to: end, redactor: redactor)
        let mitigation = IncidentTimeline.mitigation(ledgerEvents).map { event in
            let at = event.finishedAt ?? event.entry.at
            return Postmortem.Mitigation(at: at, what: event.entry.text, by: event.entry.actor, seconds: max(0, Int(at.timeIntervalSince(incident.openedAt).rounded())))
        }
        let bundles = events.filter { $0.kind == .bundle }.compactMap { event in
            event.detail.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }?["file"] as? String
        }
        var postmortem = Postmortem(app: app, incident: incident, open: incident.isOpen, durationSeconds: incident.durationSeconds(now: now),
                                    timeToMitigate: mitigation, timeline: IncidentTimeline.merge(incident, events: events, ledger: ledgerEvents),
                                    bundles: bundles, generatedAt: now)
        postmortem.rendered = redactor.scrub(postmortem.markdown())
        return postmortem
    }

    // MARK: - steps

    func takeBundle(_ incident: IncidentRecord) async -> Result<BundleSummary, OpsError> {
        var bundle = DiagnosticBundle(config: config, environment: environment, context: context, incident: incident)
        bundle.unresolvedSecrets = unresolvedSecrets
        do {
            let summary = try await bundle.write()
            try ledger().addIncidentEvent(IncidentEventDraft(kind: .bundle, at: summary.takenAt, actor: context.actor,
                                                             text: "diagnostic bundle \(summary.file) (\(summary.line))",
                                                             detail: ReportEncoder.json(summary)), to: [incident.id])
            return .success(summary)
        } catch {
            return .failure(error)
        }
    }

    /// Posts `text` to `handoff.webhook`; nil when there is none. Bounded: two tries of 5 s.
    func notify(_ text: String) async -> NoticeOutcome? {
        guard let webhook = environment.handoff.webhook else { return nil }
        guard let url = webhook.valueIfResolved else {
            return NoticeOutcome(posted: false, error: "the webhook's secret command failed", at: context.now())
        }
        let failure = await WebhookPoster.post(text: config.redactor.scrub(text), to: url, attempts: 2, timeout: .seconds(5))
        if let failure { context.logger.error("incident notice not posted: \(failure)") }
        return NoticeOutcome(posted: failure == nil, error: failure.map(config.redactor.scrub), at: context.now())
    }

    func record(notice: NoticeOutcome?, of what: String, incident id: Int64, ledger: Ledger) throws(OpsError) {
        guard let notice else { return }
        try ledger.addIncidentEvent(IncidentEventDraft(kind: .notice, at: notice.at, actor: context.actor, text: "\(what) notice \(notice.line)"),
                                    to: [id])
    }

    func writeMetrics(_ ledger: Ledger) {
        guard let directory = environment.metrics?.textfileDir else { return }
        do {
            try MetricsFile.update(directory: directory, env: env, samples: IncidentMetrics.samples(env: env, open: try ledger.openIncidents(env: env)))
        } catch {
            context.logger.warning("could not write metrics: \(error.message)")
        }
    }

    /// Trimmed, not empty, and scrubbed of every secret the config knows.
    func clean(_ text: String, what: String) throws(OpsError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw OpsError(.usage, code: "incident.empty", "the incident's \(what) is empty") }
        return config.redactor.scrub(trimmed)
    }

    func newestOpen(_ ledger: Ledger) throws(OpsError) -> IncidentRecord {
        guard let incident = try ledger.openIncidents(env: env).first else {
            throw OpsError(.noSuchIncident, code: "incident.none_open", "no incident is open in \(env)",
                           details: ["open one: opsctl incident open \(env) \"what is wrong\""])
        }
        return incident
    }

    func openIncident(_ id: Int64, _ ledger: Ledger) throws(OpsError) -> IncidentRecord {
        guard let incident = try ledger.incident(id: id), incident.env == env else { throw Self.unknown(id, env: env) }
        guard incident.isOpen else { throw Self.notOpen(incident) }
        return incident
    }

    static func unknown(_ id: Int64, env: String) -> OpsError {
        OpsError(.noSuchIncident, code: "incident.unknown", "no incident #\(id) in \(env)", details: ["list them: opsctl incident list \(env)"])
    }

    static func notOpen(_ incident: IncidentRecord) -> OpsError {
        OpsError(.noSuchIncident, code: "incident.not_open",
                 "incident #\(incident.id) in \(incident.env) is not open" + (incident.closedAt.map { " (closed \(TextFormat.timestamp($0)))" } ?? ""))
    }
}

/// The gauges of open incidents, one per severity (0 included, so alerts and dashboards see a
/// series end instead of vanish).
enum IncidentMetrics {
    static func samples(env: String, open: [IncidentRecord]) -> [MetricSample] {
        IncidentSeverity.allCases.map { severity in
            MetricSample("opsctl_incidents_open", "Incidents open now, by severity.", labels: [("env", env), ("severity", severity.rawValue)],
                         Double(open.filter { $0.severity == severity }.count))
        }
    }
}

/// The webhook's messages (Slack-compatible text).
enum IncidentNotice {
    static func opened(_ incident: IncidentRecord, app: String) -> String {
        """
        *Incident #\(incident.id) opened* on \(app) / \(incident.env) (\(incident.severity.rawValue)): \(incident.title)
        opened by \(incident.openedBy ?? "?") at \(TextFormat.timestamp(incident.openedAt)); diagnostics are being collected
        follow it: opsctl incident show \(incident.env) \(incident.id)
        """
    }

    static func closed(_ incident: IncidentRecord, app: String, mitigation: Postmortem.Mitigation?) -> String {
        let duration = TextFormat.duration(seconds: incident.durationSeconds(now: incident.closedAt ?? incident.openedAt))
        let mitigated = mitigation.map { "time to mitigate: \(TextFormat.duration(seconds: $0.seconds)) (\($0.what))" }
            ?? "time to mitigate: no deploy or rollback succeeded while it was open"
        return """
            *Incident #\(incident.id) closed* on \(app) / \(incident.env) after \(duration) (\(incident.severity.rawValue)): \(incident.title)
            summary: \(incident.summary ?? "")
            \(mitigated)
            closed by \(incident.closedBy ?? "?"); postmortem draft: opsctl incident show \(incident.env) \(incident.id)
            """
    }
}
