// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The end-of-shift report (docs/reference.md, "handoff"): what happened in the window and how things
/// stand now, with a verdict and the rule that decided it. Every section can fail on its own;
/// a failed source is listed, never fatal.
public struct HandoffReport: Report {
    public enum Level: String, Sendable, Codable, Comparable {
        case healthy = "Healthy", warning = "Warning", critical = "Critical"
        var rank: Int { self == .healthy ? 0 : self == .warning ? 1 : 2 }
        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rank < rhs.rank }
    }

    /// One verdict rule that fired.
    public struct Finding: Sendable, Codable, Equatable {
        public var level: Level
        public var rule: String
        public var detail: String
    }

    public struct Window: Sendable, Codable, Equatable {
        public var from: Date
        public var to: Date
        public var timezone: String
    }

    public struct Health: Sendable, Codable, Equatable {
        public var url: String
        public var ok: Bool
        public var status: Int?
        public var ms: Int?
        public var reason: String?
    }

    public struct Deploy: Sendable, Codable, Equatable {
        public var id: Int64
        public var kind: ReleaseAction
        public var version: String
        public var previousVersion: String?
        public var status: DeploymentStatus
        public var by: String?
        public var at: Date
        public var durationSeconds: Int?
        /// Sub-second deploys (a kept container restarting) need milliseconds to say anything.
        public var durationMs: Int?
        public var reason: String?
        /// blue-green: the slot the release ran on.
        public var slot: String? = nil
        /// canary: each step watched, its figures and verdict.
        public var canary: [CanaryStepReport]? = nil
    }

    public struct Backups: Sendable, Codable, Equatable {
        public var lastSuccessAt: Date?
        public var lastSuccessFile: String?
        public var ageHours: Double?
        public var maxAgeHours: Double
        /// Sizes of the newest good backups, oldest first (the trend).
        public var recentBytes: [Int64]
        public var trend: String?
        /// Did a verification pass on the newest good backup?
        public var lastVerified: Bool
        public var inWindow: Int
        public var failedInWindow: Int
    }

    /// The off-site tier: the newest copy there and how the runs went.
    public struct Offsite: Sendable, Codable, Equatable {
        public var url: String
        public var newestFile: String?
        /// When the newest off-site backup was taken (its age is what a disaster would lose).
        public var newestAt: Date?
        public var ageHours: Double?
        public var maxAgeHours: Double
        public var lastRunAt: Date?
        public var lastRunStatus: OffsiteRunStatus?
        public var lastRunError: String?
        public var runsInWindow: Int
        public var failedInWindow: Int
    }

    public struct Checks: Sendable, Codable, Equatable {
        public var runs: Int
        public var failed: Int
        public var lastAt: Date?
        public var lastStatus: String?
        public var lastReason: String?
    }

    public struct Logs: Sendable, Codable, Equatable {
        public struct Line: Sendable, Codable, Equatable {
            public var count: Int
            public var text: String
        }
        public var container: String
        public var pattern: String
        public var errors: Int
        public var top: [Line]
    }

    public struct Database: Sendable, Codable, Equatable {
        public var path: String
        public var ok: Bool
        public var quickCheck: String
        /// The WAL, checkpoint and freelist against `database.maintenance`.
        public var maintenance: DatabaseGlance? = nil
        /// `opsctl db` runs in the window, newest first.
        public var maintenanceRuns: [DatabaseMaintenanceRecord]? = nil
    }

    public struct Disk: Sendable, Codable, Equatable {
        public var path: String
        public var usedPercent: Double
        public var freeBytes: Int64
        public var totalBytes: Int64
    }

    public struct Fact: Sendable, Codable, Equatable {
        public var name: String
        public var value: String?
        public var error: String?
    }

    public struct Note: Sendable, Codable, Equatable {
        public var id: Int64
        public var text: String
        public var by: String?
        public var at: Date
    }

    public struct Changes: Sendable, Codable, Equatable {
        public var previousAt: Date
        public var previousVerdict: String
        public var deploys: Int
        public var backups: Int
        public var notesAdded: Int
        public var notesClosed: Int
    }

    /// Incidents open now, and those closed in the window.
    public struct Incidents: Sendable, Codable, Equatable {
        public struct Item: Sendable, Codable, Equatable {
            public var id: Int64
            public var title: String
            public var severity: IncidentSeverity
            public var openedAt: Date
            public var openedBy: String?
            public var closedAt: Date?
            /// Opened to closed, or to the report's time while open.
            public var durationSeconds: Int
            public var summary: String?
        }
        public var open: [Item]
        public var closedInWindow: [Item]
    }

    public struct SourceError: Sendable, Codable, Equatable {
        public var source: String
        public var error: String
    }

    public var app: String
    public var env: String
    public var window: Window
    public var generatedAt: Date
    public var by: String
    public var opsctlVersion: String
    public var verdict: Level
    /// Every rule that fired, worst first; the first one decided the verdict.
    public var findings: [Finding]
    public var liveVersion: String?
    /// blue-green: the live slot and the release on standby.
    public var proxy: ProxyView?
    /// swarm: the service, its tasks and the nodes.
    public var swarm: SwarmView?
    public var health: Health?
    public var deploys: [Deploy]
    public var backups: Backups?
    public var offsite: Offsite? = nil
    /// `backup.replica`: is `opsctl replicate` keeping up, and the window `restore --at` reaches.
    public var replica: ReplicaHealth? = nil
    public var verifications: Checks
    public var smoke: Checks
    public var logs: Logs?
    public var database: Database?
    public var disks: [Disk]
    public var facts: [Fact]
    public var notes: [Note]
    public var sinceLastHandoff: Changes?
    /// nil when the ledger could not be read.
    public var incidents: Incidents? = nil
    public var sourceErrors: [SourceError]
    /// Set when `--post` could not deliver the report (exit 69; the report itself is complete).
    public var postError: String?
    /// Where `--output` wrote the rendered report.
    public var writtenTo: String?
    /// The rendered Markdown/HTML (not part of the JSON document).
    public var rendered: String = ""
    /// The JSON document, encoded while the archive was (not part of the document itself).
    public var encodedJSON: String?
    /// Every run in the window with its time, and the recent trends: what the picture draws.
    public var activity = Activity()

    enum CodingKeys: String, CodingKey {
        case app, env, window, generatedAt, by, opsctlVersion, verdict, findings, liveVersion, proxy, swarm, health, deploys, backups, offsite,
             verifications, smoke, logs, database, disks, facts, notes, sinceLastHandoff, incidents, sourceErrors, postError, writtenTo, activity
    }

    public var exitCode: Int32 { postError == nil ? 0 : OpsError.Kind.unavailable.exitCode }

    /// The text form is the rendered report (Markdown by default), unless it went to a file.
    public func renderText() -> String {
        if let writtenTo { return "handoff for \(env) (\(verdict.rawValue)) written to \(writtenTo)" + (postError.map { "\nPOST FAILED: \($0)" } ?? "") }
        return rendered + (postError.map { "\nPOST FAILED: \($0)" } ?? "")
    }
}
