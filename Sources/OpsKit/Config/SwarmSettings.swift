// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `swarm:` of a `driver: swarm` environment: the service opsctl creates and updates, and how
/// Swarm rolls a release across the nodes (docs/reference/swarm.md).
public struct SwarmSettings: Sendable, Encodable {
    public enum Mode: String, Sendable, Codable, CaseIterable { case replicated, global }
    public enum UpdateOrder: String, Sendable, Codable, CaseIterable { case startFirst = "start-first", stopFirst = "stop-first" }

    /// The service name; nil: `<app>-<env>`.
    public var service: String?
    public var mode: Mode = .replicated
    public var replicas: Int = 1
    /// Tasks updated at once; 0: all at once (Swarm's meaning).
    public var updateParallelism: Int = 1
    public var updateDelay: OpsDuration = .seconds(5)
    public var updateOrder: UpdateOrder = .stopFirst
    /// Swarm's `--update-monitor`: how long after each task's update a failure still counts.
    public var monitor: OpsDuration = .seconds(5)
    /// The container HEALTHCHECK Swarm watches (run by `/bin/sh -c` inside the container).
    public var healthCmd: String?
    public var healthInterval: OpsDuration = .seconds(2)
    /// Generous: a check that fails answers at once, while a healthy task on a busy host can wait
    /// seconds for its exec to start, and a timed-out check counts as a failure.
    public var healthTimeout: OpsDuration = .seconds(10)
    public var healthRetries: Int = 3
    public var healthStartPeriod: OpsDuration = .seconds(0)
    public var constraints: [String] = []
    public var publish: [SwarmPublish] = []
    /// How long opsctl waits for Swarm to finish an update, a rollback or a new service; nil: `convergeBudget`.
    public var timeout: OpsDuration?

    public init() {}

    public func serviceName(app: String, env: String) -> String { service ?? "\(app)-\(env)" }

    /// The wait bound when `swarm.timeout` is not set: per batch of `update_parallelism` tasks,
    /// the old task's stop grace, the new one's health checks, the monitor and the delay, plus
    /// room for scheduling and container start; at least a minute.
    public func convergeBudget(tasks: Int, stopTimeout: OpsDuration) -> OpsDuration {
        if let timeout { return timeout }
        let batches = updateParallelism == 0 ? 1 : (max(1, tasks) + updateParallelism - 1) / updateParallelism
        let health = healthCmd == nil ? 0 : healthStartPeriod.milliseconds + healthInterval.milliseconds * Int64(healthRetries + 1) + healthTimeout.milliseconds
        let perBatch = stopTimeout.milliseconds + health + monitor.milliseconds + updateDelay.milliseconds + 15_000
        return OpsDuration(milliseconds: max(60_000, Int64(batches) * perBatch + 30_000))
    }
}

/// One `swarm.publish` entry: the long form `mode=host,target=3000,published=3000[,protocol=udp]`
/// or the short `3000:3000[/udp]` (ingress mode), as `docker service create --publish` takes them.
public struct SwarmPublish: Sendable, Hashable, Encodable, CustomStringConvertible {
    public enum Mode: String, Sendable, Codable, CaseIterable { case ingress, host }
    public var mode: Mode = .ingress
    public var target: Int
    public var published: Int?
    public var proto: String = "tcp"
    /// As written: what the CLI gets.
    public var text: String

    public init?(parsing text: String) {
        self.text = text
        if text.contains("=") {
            guard let parsed = Self.longForm(text) else { return nil }
            self = parsed
        } else {
            let (ports, proto) = Self.splitProtocol(text)
            let parts = ports.split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let target = Self.port(parts.last!) else { return nil }
            self.target = target
            published = parts.count == 2 ? Self.port(parts[0]) : nil
            if parts.count == 2, published == nil { return nil }
            guard let proto else { return nil }
            self.proto = proto
        }
    }

    static func longForm(_ text: String) -> SwarmPublish? {
        var fields: [String: String] = [:]
        for field in text.split(separator: ",") {
            let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, ["mode", "target", "published", "protocol"].contains(pair[0]), fields[pair[0]] == nil else { return nil }
            fields[pair[0]] = pair[1]
        }
        guard let target = fields["target"].flatMap(port) else { return nil }
        var publish = SwarmPublish(target: target, text: text)
        if let mode = fields["mode"] { guard let value = Mode(rawValue: mode) else { return nil }; publish.mode = value }
        if let published = fields["published"] { guard let value = port(published) else { return nil }; publish.published = value }
        if let proto = fields["protocol"] { guard ["tcp", "udp", "sctp"].contains(proto) else { return nil }; publish.proto = proto }
        return publish
    }

    private init(target: Int, text: String) {
        self.target = target
        self.text = text
    }

    static func splitProtocol(_ text: String) -> (String, String?) {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return (text, "tcp") }
        return (parts[0], ["tcp", "udp", "sctp"].contains(parts[1]) ? parts[1] : nil)
    }

    static func port<S: StringProtocol>(_ text: S) -> Int? {
        guard let value = Int(text), (1...65_535).contains(value) else { return nil }
        return value
    }

    public var description: String { text }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

extension ConfigSchema {
    static let swarmKeys = ["service", "mode", "replicas", "update_parallelism", "update_delay", "update_order", "monitor", "health_cmd",
                            "health_interval", "health_timeout", "health_retries", "health_start_period", "constraints", "publish", "timeout"]

    /// The `swarm:` section; defaults for `driver: swarm` without one; nil otherwise.
    func swarmSection(of map: MappingReader, driver: DriverKind) throws(OpsError) -> SwarmSettings? {
        let section = try map.mapping("swarm", allowedKeys: Self.swarmKeys)
        guard section != nil || driver == .swarm else { return nil }
        var settings = SwarmSettings()
        if let swarm = section {
            try readService(swarm, into: &settings)
            try readUpdate(swarm, into: &settings)
            try readHealth(swarm, into: &settings)
            try readPlacement(swarm, into: &settings)
        }
        return settings
    }

    func readService(_ swarm: MappingReader, into settings: inout SwarmSettings) throws(OpsError) {
        settings.service = try swarm.string("service")
        if let name = settings.service, !Self.isServiceName(name) {
            throw reader.error(at: swarm.value("service"), path: swarm.keyPath("service"),
                               "\"\(name)\" is not a service name (letters, digits, '-', '_' or '.', starting with a letter or digit, at most 63)")
        }
        settings.mode = try swarm.choice("mode", SwarmSettings.Mode.self) ?? .replicated
        if let replicas = try swarm.int("replicas", range: 0...10_000) {
            guard settings.mode == .replicated else {
                throw reader.error(at: swarm.value("replicas"), path: swarm.keyPath("replicas"), "mode global runs one task on every eligible node: remove replicas")
            }
            settings.replicas = replicas
        }
        settings.timeout = try swarm.duration("timeout")
        if let timeout = settings.timeout, timeout.milliseconds <= 0 {
            throw reader.error(at: swarm.value("timeout"), path: swarm.keyPath("timeout"), "must be greater than 0")
        }
    }

    func readUpdate(_ swarm: MappingReader, into settings: inout SwarmSettings) throws(OpsError) {
        settings.updateParallelism = try swarm.int("update_parallelism", range: 0...1000) ?? settings.updateParallelism
        settings.updateDelay = try swarm.duration("update_delay") ?? settings.updateDelay
        settings.updateOrder = try swarm.choice("update_order", SwarmSettings.UpdateOrder.self) ?? settings.updateOrder
        settings.monitor = try swarm.duration("monitor") ?? settings.monitor
    }

    func readHealth(_ swarm: MappingReader, into settings: inout SwarmSettings) throws(OpsError) {
        settings.healthCmd = try swarm.string("health_cmd")
        if settings.healthCmd?.trimmingCharacters(in: .whitespaces).isEmpty == true {
            throw reader.error(at: swarm.value("health_cmd"), path: swarm.keyPath("health_cmd"), "must not be empty (leave it out for no container health check)")
        }
        settings.healthRetries = try swarm.int("health_retries", range: 1...100) ?? settings.healthRetries
        settings.healthStartPeriod = try swarm.duration("health_start_period") ?? settings.healthStartPeriod
        for (key, keyPath) in [("health_interval", \SwarmSettings.healthInterval), ("health_timeout", \SwarmSettings.healthTimeout)] {
            guard let value = try swarm.duration(key) else { continue }
            // Docker refuses health intervals and timeouts under 1 ms; 0 would mean "the image's".
            guard value.milliseconds >= 1 else { throw reader.error(at: swarm.value(key), path: swarm.keyPath(key), "must be at least 1ms") }
            settings[keyPath: keyPath] = value
        }
    }

    func readPlacement(_ swarm: MappingReader, into settings: inout SwarmSettings) throws(OpsError) {
        settings.constraints = try swarm.stringList("constraints") ?? []
        for (index, constraint) in settings.constraints.enumerated() where !(constraint.contains("==") || constraint.contains("!=")) {
            throw reader.error(at: swarm.value("constraints"), path: "\(swarm.keyPath("constraints"))[\(index)]",
                               "\"\(constraint)\" is not a placement constraint such as node.role==worker or node.labels.zone!=b")
        }
        for (index, text) in (try swarm.stringList("publish") ?? []).enumerated() {
            guard let publish = SwarmPublish(parsing: text) else {
                throw reader.error(at: swarm.value("publish"), path: "\(swarm.keyPath("publish"))[\(index)]",
                                   "\"\(text)\" is not mode=host,target=3000,published=3000 (or 3000:3000)")
            }
            settings.publish.append(publish)
        }
    }

    static func isServiceName(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.first, scalars.count <= 63, first.isASCII, CharacterSet.alphanumerics.contains(first) else { return false }
        return scalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
    }
}
