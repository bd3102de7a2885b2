// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The bundle's parts that ask the container runtime: logs, `docker stats`, `docker inspect`.
extension DiagnosticBundle {
    /// The logs' window: the last hour.
    static let logWindow: TimeInterval = 3600
    /// At most this many lines per container: a chatty app's hour must not exhaust memory.
    static let logLineCap = 100_000

    /// Where a log comes from: a container, or a Swarm task on whichever node runs it.
    enum LogSource: Sendable, Equatable {
        case container(String)
        case swarmTask(id: String, name: String)

        var fileName: String {
            switch self {
            case .container(let name): "logs/\(Self.safe(name)).log"
            case .swarmTask(let id, let name): "logs/\(Self.safe(name))-\(id.prefix(12)).log"
            }
        }

        /// A file name from a container or task name: nothing that could leave the folder.
        static func safe(_ name: String) -> String {
            String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" }.prefix(60))
        }
    }

    func logs(_ part: PartContext) async throws(OpsError) -> PartOutput {
        if let failure = unresolvedSecrets.first {
            throw OpsError(.unavailable, code: "incident.logs_withheld",
                           "withheld: a secret command failed, so the app's lines could not be scrubbed (\(failure.message))")
        }
        let mode = try await DeployMode.resolve(config: config, environment: environment, context: part.context)
        let sources = try await logSources(mode, part)
        guard !sources.isEmpty else { return PartOutput(summary: "no container of \(environment.name) to read") }
        let since = part.takenAt.addingTimeInterval(-Self.logWindow)
        // By index, each child's outcome as plain values.
        let fetched = await withTaskGroup(of: (Int, LogFetch).self) { group in
            for (index, source) in sources.enumerated() {
                group.addTask { (index, await self.fetchLogs(source, since: since, part)) }
            }
            var all: [Int: LogFetch] = [:]
            for await (index, fetch) in group { all[index] = fetch }
            return all
        }
        var output = PartOutput()
        var problems: [String] = []
        for (index, source) in sources.enumerated() {
            let fetch = fetched[index] ?? LogFetch(text: nil, failure: "\(source.fileName): not read")
            if let text = fetch.text { output.files.append(BundleFile(path: source.fileName, text: text)) }
            if let failure = fetch.failure { problems.append(failure) }
        }
        let lines = output.files.reduce(0) { $0 + $1.text.split(separator: "\n").count }
        output.summary = "the last hour of \(output.files.count) of \(sources.count) \(mode.isSwarm ? "task" : "container")(s), \(lines) line(s)"
        output.problem = problems.isEmpty ? nil : problems.joined(separator: "; ")
        return output
    }

    /// What runs, by the environment's mode: every task (current, and those that ended within the
    /// hour) under swarm, both slots under blue/green and canary, else the running release and
    /// the one the ledger says is live (which may have died).
    func logSources(_ mode: DeployMode, _ part: PartContext) async throws(OpsError) -> [LogSource] {
        switch mode {
        case .swarm(let driver):
            let since = part.takenAt.addingTimeInterval(-Self.logWindow)
            let tasks = try await driver.client.tasks(service: driver.serviceName)
                .filter { !$0.desiredState.isFinished || ($0.updatedAt ?? .distantPast) >= since }
            return tasks.prefix(20).map { .swarmTask(id: $0.id, name: $0.name(service: driver.serviceName)) }
        case .blueGreen(let driver, _), .canary(let driver, _, _):
            return Self.slotContainers(try await driver.releases()).map(LogSource.container)
        case .stopStart(let driver):
            return try await driver.releases().filter { $0.running || $0.version == part.liveVersion }.map { .container($0.container) }
        }
    }

    /// Per slot the release that runs there, else the newest one kept there; releases from
    /// before the slots only when they run.
    static func slotContainers(_ releases: [DeployedRelease]) -> [String] {
        let bySlot = Dictionary(grouping: releases.filter { $0.slot != nil }, by: { $0.slot! })
        let slotted = bySlot.keys.sorted().compactMap { slot in
            bySlot[slot]!.first(where: \.running)?.container ?? bySlot[slot]!.max { $0.created < $1.created }?.container
        }
        return slotted + releases.filter { $0.slot == nil && $0.running }.map(\.container)
    }

    /// One source's log, or why it could not be read.
    struct LogFetch: Sendable {
        var text: String?
        var failure: String?
    }

    func fetchLogs(_ source: LogSource, since: Date, _ part: PartContext) async -> LogFetch {
        do throws(OpsError) {
            return LogFetch(text: try await readLogs(source, since: since, part))
        } catch {
            return LogFetch(failure: error.message)
        }
    }

    func readLogs(_ source: LogSource, since: Date, _ part: PartContext) async throws(OpsError) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let window = ["--timestamps", "--since", formatter.string(from: since), "--tail", String(Self.logLineCap)]
        switch source {
        case .container(let name):
            var request = ProcessRequest("docker", ["container", "logs"] + window + ["--", name], timeout: .seconds(60))
            request.keepsFullStandardError = true
            let result = try await part.context.runner.run(request)
            guard result.succeeded else { throw Self.dockerFailure(result, code: "docker.logs") }
            return Self.interleave(result.standardOutput, result.standardErrorTail)
        case .swarmTask(let id, _):
            let left = max(part.timeLeft, .seconds(1))
            let result = try await part.context.runner.run(SwarmClient.boundedLogs(["--no-task-ids"] + window + ["--", id], timeout: left))
            // coreutils' timeout stopped it: what the node sent until then is kept.
            guard result.succeeded || result.termination == .exited(SwarmClient.timedOut) else { throw Self.dockerFailure(result, code: "swarm.logs") }
            return Self.interleave(result.standardOutput, result.termination == .exited(SwarmClient.timedOut) ? "" : result.standardErrorTail)
        }
    }

    /// docker hands stdout and stderr back apart; with `--timestamps` first on every line they
    /// merge back into the order the app wrote them.
    static func interleave(_ stdout: String, _ stderr: String) -> String {
        let lines = (stdout.split(separator: "\n") + stderr.split(separator: "\n")).enumerated()
        let ordered = lines.sorted { (timestampKey($0.element), $0.offset) < (timestampKey($1.element), $1.offset) }
        return ordered.map(\.element).joined(separator: "\n") + (ordered.isEmpty ? "" : "\n")
    }

    /// The line's leading RFC 3339 timestamp with its fraction padded to nanoseconds, so that
    /// text order is time order.
    static func timestampKey(_ line: Substring) -> String {
        let stamp = line.prefix { $0 != " " }
        guard let dot = stamp.firstIndex(of: "."), let zone = stamp[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) else {
            return String(stamp)
        }
        let fraction = stamp[stamp.index(after: dot)..<zone]
        return String(stamp[..<dot]) + "." + fraction + String(repeating: "0", count: max(0, 9 - fraction.count)) + stamp[zone...]
    }

    static func dockerFailure(_ result: ProcessResult, code: String) -> OpsError {
        let down = DockerClient.isDaemonDown(result) && result.termination != .timedOut
        return OpsError(.unavailable, code: down ? "docker.unavailable" : code,
                        (down ? "the Docker daemon is not reachable: " : "\(result.request.displayCommand): ") + result.failureSummary)
    }

    func stats(_ part: PartContext) async throws(OpsError) -> PartOutput {
        let result = try await part.context.runner.run(ProcessRequest("docker", ["stats", "--no-stream"], timeout: .seconds(60)))
        guard result.succeeded else { throw Self.dockerFailure(result, code: "docker.failed") }
        let rows = max(0, result.standardOutput.split(separator: "\n").count - 1)
        return PartOutput(files: [BundleFile(path: "docker-stats.txt", text: result.standardOutput)], summary: "`docker stats --no-stream`: \(rows) running container(s)")
    }

    /// Every container of the environment (and the Swarm service's spec), with the values of
    /// secret variables replaced.
    func inspect(_ part: PartContext) async throws(OpsError) -> PartOutput {
        let runner = part.context.runner
        var listing = ["ps", "--all", "--quiet", "--no-trunc"]
        for (key, value) in ReleaseIdentity(config: config, environment: environment).selector.sorted(by: { $0.key < $1.key }) {
            listing += ["--filter", "label=\(key)=\(value)"]
        }
        let listed = try await runner.run(ProcessRequest("docker", listing))
        guard listed.succeeded else { throw Self.dockerFailure(listed, code: "docker.failed") }
        let ids = listed.standardOutput.split(separator: "\n").map(String.init)
        let redaction = InspectRedaction(environment: environment, redactor: config.redactor)
        var output = PartOutput(summary: "\(ids.count) container(s)")
        if !ids.isEmpty {
            let inspected = try await runner.run(ProcessRequest("docker", ["container", "inspect", "--"] + ids))
            guard inspected.succeeded else { throw Self.dockerFailure(inspected, code: "docker.failed") }
            output.files.append(BundleFile(path: "docker-inspect.json", text: try redaction.redact(inspected.standardOutput)))
        }
        if environment.driver == .swarm {
            let service = (environment.swarm ?? SwarmSettings()).serviceName(app: config.app, env: environment.name)
            let inspected = try await runner.run(ProcessRequest("docker", ["service", "inspect", "--", service]))
            if inspected.succeeded {
                output.files.append(BundleFile(path: "docker-service-inspect.json", text: try redaction.redact(inspected.standardOutput)))
                output.summary = "service \(service) and \(ids.count) container(s) on this node"
            } else {
                output.problem = "service \(service): \(inspected.failureSummary)"
            }
        }
        return output
    }
}

extension DeployMode {
    var isSwarm: Bool {
        if case .swarm = self { return true }
        return false
    }
}

/// `docker inspect`'s JSON with the value of each secret variable in every `Env` list replaced:
/// by name (the config's secret variables, names that look secret) or by value (one the
/// config knows). The whole document is then scrubbed as any other file of the bundle.
struct InspectRedaction {
    var secretNames: Set<String>
    var redactor: Redactor

    init(environment: EnvironmentConfig, redactor: Redactor) {
        secretNames = Set(environment.run.env.filter { $0.secret != nil }.map(\.name))
        self.redactor = redactor
    }

    func redact(_ json: String) throws(OpsError) -> String {
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) } catch {
            // Never written as it came: it could hold the very values this part hides.
            throw OpsError(.software, code: "docker.output", "docker inspect printed something that is not JSON; left out of the bundle")
        }
        let cleaned = walk(parsed, key: nil)
        guard let data = try? JSONSerialization.data(withJSONObject: cleaned, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else {
            throw OpsError(.software, code: "docker.output", "cannot encode docker inspect's document again")
        }
        return redactor.scrub(String(decoding: data, as: UTF8.self)) + "\n"
    }

    func walk(_ value: Any, key: String?) -> Any {
        if let object = value as? [String: Any] {
            return Dictionary(uniqueKeysWithValues: object.map { ($0.key, walk($0.value, key: $0.key)) })
        }
        if let array = value as? [Any] {
            if key == "Env", let entries = array as? [String] { return entries.map(entry) }
            return array.map { walk($0, key: nil) }
        }
        return value
    }

    /// `NAME=value` with the value hidden when it is a secret.
    func entry(_ text: String) -> String {
        guard let equals = text.firstIndex(of: "=") else { return text }
        let name = String(text[..<equals])
        let value = String(text[text.index(after: equals)...])
        let secret = Redactor.isSecretName(name) || secretNames.contains(name) || redactor.scrub(value) != value
        return secret ? "\(name)=\(Secret.marker)" : text
    }
}
