// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What one release answered within a step, as nginx logged it.
struct ReleaseSample: Sendable, Equatable {
    var requests = 0
    /// 5xx answers, plus attempts nginx gave up on and passed to the next server.
    var errors = 0
    /// `$request_time` of the requests it answered, in ms.
    var latencies: [Double] = []
    /// Failing requests by path (only when the log line carries the path).
    var failingPaths: [String: Int] = [:]

    /// Nearest-rank p99 of the answered requests; nil before the first.
    var p99Ms: Double? { Self.percentile(latencies, 0.99) }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count, rank) - 1)]
    }

    var figures: CanaryFigures {
        CanaryFigures(requests: requests, errors: errors, p99Ms: p99Ms.map { ($0 * 10).rounded() / 10 })
    }

    mutating func answered(_ line: AccessLogLine) {
        requests += 1
        latencies.append(line.requestMs)
        if line.status >= 500 { failed(path: line.path) }
    }

    /// nginx tried this server and moved on (an error, a timeout, or a status listed in proxy_next_upstream).
    mutating func gaveUp(path: String?) {
        requests += 1
        failed(path: path)
    }

    private mutating func failed(path: String?) {
        errors += 1
        if let path { failingPaths[path, default: 0] += 1 }
    }

    func topFailingPaths(_ count: Int = 5) -> [PathCount] {
        failingPaths.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(count).map { PathCount(path: $0.key, count: $0.value) }
    }
}

/// The access log lines of one step, attributed to the old or the new release by `$upstream_addr`.
/// The last address of a line answered it (its status and time count there); every earlier one
/// is an attempt nginx gave up on, a failure of that server's release. Lines for other
/// upstreams (another app logging to the same file) and `-` (nginx answered itself) count nowhere.
struct CanaryTally: Sendable {
    let oldAddresses: Set<String>
    let newAddress: String
    var old = ReleaseSample()
    var new = ReleaseSample()
    /// Lines that are not in the opsctl_canary format.
    var unparsed = 0
    var lines = 0

    init(old: Set<String>, new: String) {
        oldAddresses = old
        newAddress = new
    }

    mutating func add<S: StringProtocol>(_ text: S) {
        lines += 1
        guard let line = AccessLogLine(parsing: text) else {
            unparsed += 1
            return
        }
        for (index, address) in line.upstreams.enumerated() {
            let answered = index == line.upstreams.count - 1
            if address == newAddress {
                if answered { new.answered(line) } else { new.gaveUp(path: line.path) }
            } else if oldAddresses.contains(address) {
                if answered { old.answered(line) } else { old.gaveUp(path: line.path) }
            }
        }
    }
}

/// The limits of `canary:`, applied to the new release's sample.
///
/// While a step runs, a limit counts as crossed only when the verdict at `min_requests` is
/// already certain: with fewer requests than that, the figures are judged as if the missing
/// ones had all succeeded quickly. So a bad release is withdrawn at its first failures when even
/// a perfect rest could not save it, and never on one unlucky request among too few.
struct CanaryJudge: Sendable {
    let settings: CanarySettings

    /// Why the new release fails, or nil. `final`: the step is over and judged on what it saw.
    func breach(_ sample: ReleaseSample, final: Bool) -> String? {
        let seen = sample.requests
        let counted = final ? seen : max(seen, settings.minRequests)
        guard counted > 0 else { return nil }
        let early = seen < settings.minRequests && !final
        func decided(_ what: String) -> String { early ? " (decided after \(seen) of min_requests \(settings.minRequests): no \(what) can bring it under)" : "" }
        if Double(sample.errors) > settings.maxErrorRate * Double(counted) + 1e-9 {
            return "5xx \(sample.errors) of \(seen) request(s) (\(Self.percent(sample.errors, of: seen))) > max_error_rate \(settings.maxErrorRateText)" + decided("later success")
        }
        if let limit = settings.maxP99Ms {
            let slow = sample.latencies.filter { $0 > Double(limit) }.count
            // p99 over n requests is the ceil(0.99 n)-th fastest: it exceeds the limit once more
            // than n - ceil(0.99 n) requests do.
            let allowed = counted - Int((0.99 * Double(counted)).rounded(.up))
            if slow > allowed {
                return "p99 \(Int((sample.p99Ms ?? 0).rounded())) ms > max_p99_ms \(limit) (\(slow) of \(seen) request(s) slower)" + decided("later fast answer")
            }
        }
        return nil
    }

    /// nginx's `$request_time` counts whole milliseconds: below this difference a p99 ratio is
    /// noise (1 ms against 3 ms is "3x").
    static let p99FloorMs = 10.0

    /// Why the new release is worse than the old one in the same step by more than
    /// `max_error_rate_increase` or `max_p99_increase` allow, or nil. Judged on the whole step
    /// once it would pass, when the old release answered at least `min_requests` (a baseline).
    func regression(old: ReleaseSample, new: ReleaseSample) -> String? {
        let comparison = CanaryComparison(old: old.figures, new: new.figures, settings: settings)
        guard comparison.applied else { return nil }
        if let allowed = settings.maxErrorRateIncrease, let increase = comparison.errorRateIncreasePoints, increase > allowed + 1e-9 {
            return "5xx \(Self.percent(new.errors, of: new.requests)) (\(new.errors) of \(new.requests)) against \(Self.percent(old.errors, of: old.requests)) "
                + "(\(old.errors) of \(old.requests)) on the old release: +\(Self.points(increase)) points > max_error_rate_increase \(Self.points(allowed))"
        }
        if let allowed = settings.maxP99Increase, let oldP99 = old.p99Ms, let newP99 = new.p99Ms,
           newP99 > oldP99 * allowed, newP99 - oldP99 > Self.p99FloorMs {
            return "p99 \(Int(newP99.rounded())) ms against \(Int(oldP99.rounded())) ms on the old release: "
                + String(format: "%.2fx", newP99 / max(oldP99, 0.001)) + " > max_p99_increase \(String(format: "%g", allowed))"
        }
        return nil
    }

    static func points(_ value: Double) -> String { String(format: "%.2f", value) }

    static func percent(_ part: Int, of whole: Int) -> String {
        whole == 0 ? "-" : String(format: "%.1f%%", Double(part) * 100 / Double(whole))
    }
}
