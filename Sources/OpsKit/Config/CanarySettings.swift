// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Yams

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
    static let canaryKeys = ["steps", "pause", "max_error_rate", "max_p99_ms", "min_requests"]

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
        return settings
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

    /// Canary needs the proxy's access log; a `canary:` section elsewhere is kept but unused.
    func checkCanary(_ environment: EnvironmentConfig, _ map: MappingReader) throws(OpsError) {
        guard environment.strategy == .canary, let proxy = environment.proxy else { return }
        guard proxy.accessLog != nil else {
            let proxyMap = map.value("proxy")
            throw reader.error(at: proxyMap, path: map.keyPath("proxy.access_log"),
                               "strategy canary judges the new release from nginx's access log: set proxy.access_log to the file written with log_format opsctl_canary '$upstream_addr $status $request_time'")
        }
    }
}
