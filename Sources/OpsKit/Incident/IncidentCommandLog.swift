// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging

/// Every opsctl command run on an environment while an incident is open there goes on that
/// incident's timeline: its line (secrets scrubbed), who ran it, when, and how it exited.
public enum IncidentCommandLog {
    public struct Run: Sendable {
        public var arguments: [String]
        public var actor: String
        public var startedAt: Date
        public var finishedAt: Date
        public var exitCode: Int32
        public var errorCode: String?

        public init(arguments: [String], actor: String, startedAt: Date, finishedAt: Date, exitCode: Int32, errorCode: String?) {
            self.arguments = arguments
            self.actor = actor
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.exitCode = exitCode
            self.errorCode = errorCode
        }
    }

    /// With no incident open this is one `access(2)` on the marker: no ledger is opened. A
    /// failure to record is logged and never changes the command's own outcome.
    public static func record(_ run: Run, env: String, config: OpsConfig, logger: Logger) {
        guard IncidentFiles.mayHaveOpenIncident(state: config.state, env: env) else { return }
        do {
            let ledger = try Ledger(path: config.state)
            let open = try ledger.openIncidents(env: env)
            guard !open.isEmpty else { return }
            let line = config.redactor.scrub(ProcessRequest("opsctl", run.arguments).displayCommand)
            try ledger.addIncidentEvent(IncidentEventDraft(kind: .command, at: run.startedAt, finishedAt: run.finishedAt, actor: run.actor, text: line,
                                                           exitCode: run.exitCode, errorCode: run.errorCode, pid: Int(getpid())),
                                        to: open.map(\.id))
        } catch {
            logger.warning("could not record this command on the open incident's timeline: \(error.message)")
        }
    }
}
