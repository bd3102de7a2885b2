// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Yams

/// How a user is kept on one release during a step.
public enum CanarySticky: String, Sendable, Codable, CaseIterable {
    /// Every request is its own draw: the steps are shares of requests.
    case none
    /// A cookie names the user; a cookie holder stays on one release for the whole step, and the
    /// steps are shares of users.
    case cookie
}

/// `canary:`: the shares of live traffic the new release gets in turn, how long each is
/// watched, and the limits that withdraw it (docs/reference/canary.md).
public struct CanarySettings: Sendable, Encodable, Equatable {
    /// Percent of live traffic, strictly increasing, each 1–99; 100 follows the last one.
    public var steps: [Int] = [10, 50]
    /// How long each step is watched.
    public var pause: OpsDuration = .seconds(60)
    /// The largest share of the new release's requests (0–1) that may answer 5xx within a step.
    public var maxErrorRate: Double = 0.01
    /// The new release's p99 latency limit within a step, when set.
    public var maxP99Ms: Int?
    /// Below this many requests to the new release a step is extended, up to `maxExtension`.
    public var minRequests: Int = 20
    /// `cookie`: shares of users, each kept on one release for the step.
    public var sticky: CanarySticky = .none
    /// The cookie that names a user with `sticky: cookie`.
    public var cookie: String = "opsctl_release"
    /// Percentage points the new release's 5xx share may exceed the old release's in the same step.
    public var maxErrorRateIncrease: Double?
    /// How many times the old release's p99 in the same step the new release's p99 may be.
    public var maxP99Increase: Double?

    public init() {}

    /// How long a step may run when it saw fewer than `minRequests` requests: 3 × pause.
    public var maxExtension: OpsDuration { OpsDuration(milliseconds: pause.milliseconds * 3) }

    /// `1%`, `0.5%`: the rate as written.
    public var maxErrorRateText: String { CanarySettings.percent(maxErrorRate) }

    static func percent(_ rate: Double) -> String {
        let value = rate * 100
        return (value == value.rounded() ? String(Int(value)) : String(format: "%g", value)) + "%"
    }
}

extension ConfigSchema {
    static let canaryKeys = ["steps", "pause", "max_error_rate", "max_p99_ms", "min_requests", "sticky", "cookie",
                             "max_error_rate_increase", "max_p99_increase"]

    /// The `canary:` section; defaults for `strategy: canary` without one; nil otherwise.
    func canarySection(of map: MappingReader, strategy: DeployStrategy) throws(OpsError) -> CanarySettings? {
        if let canary = try map.mapping("canary", allowedKeys: Self.canaryKeys) { return try canarySettings(canary) }
        return strategy == .canary ? CanarySettings() : nil
    }

    func canarySettings(_ map: MappingReader) throws(OpsError) -> CanarySettings {
        var settings = CanarySettings()
        if let items = try map.sequence("steps") {
            settings.steps = try canarySteps(items, map: map)
        }
        settings.pause = try map.duration("pause") ?? settings.pause
        guard settings.pause.milliseconds > 0 else {
            throw reader.error(at: map.value("pause"), path: map.keyPath("pause"), "must be greater than 0")
        }
        if let node = map.value("max_error_rate") {
            settings.maxErrorRate = try percentage(node, path: map.keyPath("max_error_rate"), map: map)
        }
        settings.maxP99Ms = try map.int("max_p99_ms", range: 1...3_600_000)
        settings.minRequests = try map.int("min_requests", range: 1...1_000_000) ?? settings.minRequests
        settings.sticky = try map.choice("sticky", CanarySticky.self) ?? settings.sticky
        if let name = try map.string("cookie") {
            // nginx reads it as $cookie_<name>: a variable name's letters only.
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw reader.error(at: map.value("cookie"), path: map.keyPath("cookie"),
                                   "\"\(name)\" is not a cookie name nginx can read ($cookie_<name>): letters, digits and _ only")
            }
            settings.cookie = name
        }
        settings.maxErrorRateIncrease = try number(map, "max_error_rate_increase", range: 0...100,
                                                   what: "percentage points over the old release's 5xx share, e.g. 0.5")
        settings.maxP99Increase = try number(map, "max_p99_increase", range: 1...1000,
                                             what: "a ratio to the old release's p99, e.g. 1.5 (1 or more)")
        return settings
    }

    /// A plain number (`0.5`, `1.5`) within `range`; `what` says what it means in the message.
    func number(_ map: MappingReader, _ key: String, range: ClosedRange<Double>, what: String) throws(OpsError) -> Double? {
        guard let node = map.value(key) else { return nil }
        let text = try map.scalarString(node, path: map.keyPath(key)).trimmingCharacters(in: .whitespaces)
        guard let value = Double(text), value.isFinite, range.contains(value) else {
            let bounds = "\(String(format: "%g", range.lowerBound))–\(String(format: "%g", range.upperBound))"
            throw reader.error(at: node, path: map.keyPath(key), "\"\(text)\" is not a number in \(bounds): \(what)")
        }
        return value
    }

    /// Whole percentages (`10` or `10%`), each 1–99, each larger than the one before.
    func canarySteps(_ items: [(node: Node, path: String)], map: MappingReader) throws(OpsError) -> [Int] {
        guard !items.isEmpty else {
            throw reader.error(at: map.value("steps"), path: map.keyPath("steps"), "needs at least one step, e.g. [10, 50]")
        }
        var steps: [Int] = []
        for (node, path) in items {
            let text = try map.scalarString(node, path: path)
            let digits = text.hasSuffix("%") ? String(text.dropLast()) : text
            guard let share = Int(digits.trimmingCharacters(in: .whitespaces)) else {
                throw reader.error(at: node, path: path, "\"\(text)\" is not a whole percentage of traffic, e.g. 10")
            }
            guard (1...99).contains(share) else {
                throw reader.error(at: node, path: path, "\(share) is outside 1–99: a step is a share of live traffic; 100 % always follows the last step")
            }
            if let previous = steps.last, share <= previous {
                throw reader.error(at: node, path: path, "steps must increase: \(share) comes after \(previous)")
            }
            steps.append(share)
        }
        return steps
    }

    /// `1%`, `0.5%`: a percentage, returned as a fraction. A bare number is refused: `1` could mean 1 % or 100 %.
    func percentage(_ node: Node, path: String, map: MappingReader) throws(OpsError) -> Double {
        let text = try map.scalarString(node, path: path).trimmingCharacters(in: .whitespaces)
        guard text.hasSuffix("%") else {
            throw reader.error(at: node, path: path, "\"\(text)\" needs a percent sign, e.g. 1% or 0.5%")
        }
        guard let value = Double(text.dropLast().trimmingCharacters(in: .whitespaces)), value.isFinite, (0...100).contains(value) else {
            throw reader.error(at: node, path: path, "\"\(text)\" is not a percentage between 0% and 100%")
        }
        return value / 100
    }
}
