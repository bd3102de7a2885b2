// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One release's figures within a step.
public struct CanaryFigures: Sendable, Codable, Equatable {
    public var requests: Int
    /// 5xx answers (and attempts nginx gave up on).
    public var errors: Int
    /// Nearest-rank p99 of `$request_time`, ms; nil without an answered request.
    public var p99Ms: Double?

    public init(requests: Int = 0, errors: Int = 0, p99Ms: Double? = nil) {
        self.requests = requests
        self.errors = errors
        self.p99Ms = p99Ms
    }

    public var errorRate: Double? { requests == 0 ? nil : Double(errors) / Double(requests) }
}

/// The new release against the old one in the same step: what the relative limits
/// (`max_error_rate_increase`, `max_p99_increase`) look at, both sides shown.
public struct CanaryComparison: Sendable, Codable, Equatable {
    /// 5xx share of each release's requests, in percent.
    public var errorRateOld: Double?
    public var errorRateNew: Double?
    /// New minus old, in percentage points.
    public var errorRateIncreasePoints: Double?
    /// New p99 over old p99.
    public var p99Ratio: Double?
    /// Whether the relative limits could judge the step: the old release answered at least
    /// `min_requests` (a baseline) and a relative limit is set.
    public var applied: Bool
    public var note: String?

    public init(old: CanaryFigures, new: CanaryFigures, settings: CanarySettings) {
        errorRateOld = old.errorRate.map { $0 * 100 }
        errorRateNew = new.errorRate.map { $0 * 100 }
        if let before = errorRateOld, let after = errorRateNew { errorRateIncreasePoints = after - before }
        if let before = old.p99Ms, let after = new.p99Ms, before > 0 { p99Ratio = after / before }
        let limited = settings.maxErrorRateIncrease != nil || settings.maxP99Increase != nil
        applied = limited && old.requests >= settings.minRequests && new.requests > 0
        if limited, !applied {
            note = "relative limits not applied: the old release answered \(old.requests) request(s) in this step (fewer than min_requests \(settings.minRequests))"
        }
    }
}

public struct PathCount: Sendable, Codable, Equatable {
    public var path: String
    public var count: Int
}

public enum CanaryStepVerdict: String, Sendable, Codable {
    /// Still being watched (progress lines only).
    case watching
    case passed
    /// A limit was crossed: the new release was withdrawn.
    case failed
    /// SIGINT/SIGTERM during the step: withdrawn as if it had failed.
    case interrupted
}

/// One step: a share of live traffic to the new release, watched for `canary.pause`.
public struct CanaryStepReport: Sendable, Codable, Equatable {
    /// 1-based.
    public var step: Int
    /// Percent of live traffic the upstream file gave the new release.
    public var share: Int
    public var startedAt: Date
    public var watchedMs: Int = 0
    public var old = CanaryFigures()
    public var new = CanaryFigures()
    public var verdict: CanaryStepVerdict = .watching
    public var reason: String?
    /// The step ran past `pause` because it had seen fewer than `min_requests`.
    public var extended = false
    /// Lines in the access log that were not in the opsctl_canary format.
    public var unparsedLines = 0
    /// The new release's failing requests by path, most first (when the log carries paths).
    public var failingPaths: [PathCount] = []
    /// Old against new: the 5xx shares and the p99 ratio the relative limits judge.
    public var comparison: CanaryComparison?

    public init(step: Int, share: Int, startedAt: Date) {
        self.step = step
        self.share = share
        self.startedAt = startedAt
    }

    /// For the handoff: `10% passed (requests old/new 412/45, 5xx 0/0, p99 12/14 ms); 50% failed (…): why`.
    public static func summary(_ steps: [CanaryStepReport]) -> String {
        steps.map { step in
            func ms(_ value: Double?) -> String { value.map { String(Int($0.rounded())) } ?? "-" }
            return "\(step.share)% \(step.verdict.rawValue) (requests old/new \(step.old.requests)/\(step.new.requests), 5xx \(step.old.errors)/\(step.new.errors), "
                + "p99 \(ms(step.old.p99Ms))/\(ms(step.new.p99Ms)) ms)" + (step.verdict == .passed ? "" : step.reason.map { ": \($0)" } ?? "")
        }.joined(separator: "; ")
    }

    /// `step 1/2  10%  req 412/45  5xx 0/0  p99 12/14 ms  passed`: old before new, as on the terminal.
    public func line(of total: Int) -> String {
        func ms(_ value: Double?) -> String { value.map { String(Int($0.rounded())) } ?? "-" }
        func rate(_ figures: CanaryFigures) -> String { figures.errorRate.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }
        var text = "step \(step)/\(total) \(String(share).leftPadded(2))%  requests old/new \(old.requests)/\(new.requests)"
            + "  5xx \(old.errors)/\(new.errors) (\(rate(old))/\(rate(new)))  p99 \(ms(old.p99Ms))/\(ms(new.p99Ms)) ms  \(verdict.rawValue)"
        if extended { text += " (extended: fewer than min_requests)" }
        if let reason, verdict != .passed || extended { text += ": \(reason)" }
        return text
    }
}

/// How a canary deploy went, step by step (`DeployReport.canary`).
public struct CanaryReport: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        /// Failed before the first step (start, health, smoke, a refused switch): nobody saw it.
        case notStarted = "not_started"
        /// Every step passed: the new release takes all traffic.
        case promoted
        /// A step failed (or a signal came): weight 0 for the new release, the old one takes everything.
        case withdrawn
    }

    public var accessLog: String
    public var plannedSteps: [Int]
    public var pause: OpsDuration
    public var maxErrorRate: String
    public var maxP99Ms: Int?
    public var minRequests: Int
    /// Percentage points over the old release's 5xx share, and the ratio to its p99, when set.
    public var maxErrorRateIncrease: Double?
    public var maxP99Increase: Double?
    /// `none` (shares of requests) or `cookie` (shares of users, each kept on one release).
    public var sticky: CanarySticky
    public var cookie: String?
    public var steps: [CanaryStepReport] = []
    public var outcome: Outcome = .notStarted
    /// When the old release took every request again (the reload that withdrew the new one).
    public var withdrawnAt: Date?
    /// The new release's failing paths over every step, most first.
    public var topFailingPaths: [PathCount] = []
    /// Log rotations followed while watching.
    public var rotations = 0

    init(settings: CanarySettings, accessLog: String) {
        self.accessLog = accessLog
        plannedSteps = settings.steps
        pause = settings.pause
        maxErrorRate = settings.maxErrorRateText
        maxP99Ms = settings.maxP99Ms
        minRequests = settings.minRequests
        maxErrorRateIncrease = settings.maxErrorRateIncrease
        maxP99Increase = settings.maxP99Increase
        sticky = settings.sticky
        cookie = settings.sticky == .cookie ? settings.cookie : nil
    }

    /// The lines under the deploy's steps.
    public func lines() -> [String] {
        var lines = steps.map { "  " + $0.line(of: plannedSteps.count) }
        if !topFailingPaths.isEmpty {
            lines.append("  top failing paths of the new release: " + topFailingPaths.map { "\($0.path) (\($0.count))" }.joined(separator: ", "))
        }
        return lines
    }

    public var summary: String { CanaryStepReport.summary(steps) }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

/// Called with a canary step while it is watched and once more when it ends (its verdict set);
/// the second argument is the number of planned steps.
public typealias CanaryProgress = @Sendable (CanaryStepReport, Int) -> Void
