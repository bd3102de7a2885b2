// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Typed docker CLI calls. Output is requested as JSON (`--format '{{json .}}'`) and decoded,
/// never scraped from the human tables.
public struct DockerClient: Sendable {
    public let runner: any ProcessRunning
    public var timeout: Duration = .seconds(30)

    public init(runner: any ProcessRunning) { self.runner = runner }

    func run(_ arguments: [String], timeout: Duration? = nil) async throws(OpsError) -> ProcessResult {
        let result = try await runner.run(ProcessRequest("docker", arguments, timeout: timeout ?? self.timeout))
        if !result.succeeded, Self.isDaemonDown(result) {
            throw OpsError(.unavailable, code: "docker.unavailable", "the Docker daemon is not reachable: \(result.failureSummary)",
                           details: ["start it (systemctl start docker, or scripts/setup.sh here), or check DOCKER_HOST"])
        }
        return result
    }

    static func isDaemonDown(_ result: ProcessResult) -> Bool {
        if result.termination == .timedOut { return true }
        let text = result.standardErrorTail
        return text.contains("Cannot connect to the Docker daemon") || text.contains("Is the docker daemon running")
            || text.contains("error during connect") || text.contains("connect: no such file or directory")
    }

    func decode<T: Decodable>(_ type: T.Type, from result: ProcessResult) throws(OpsError) -> T {
        guard result.succeeded else {
            throw OpsError(.unavailable, code: "docker.failed", "\(result.request.displayCommand): \(result.failureSummary)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(result.standardOutput.utf8))
        } catch {
            throw OpsError(.software, code: "docker.output", "\(result.request.displayCommand): unexpected output: \(error)")
        }
    }

    public struct Version: Sendable, Codable, Equatable {
        public var client: String
        public var server: String
        public var apiVersion: String
    }

    /// Client and daemon versions; throws `docker.unavailable` (exit 69) when the daemon is down.
    public func version() async throws(OpsError) -> Version {
        struct Raw: Decodable {
            struct Part: Decodable { var Version: String; var ApiVersion: String? }
            var Client: Part?
            var Server: Part?
        }
        let raw = try decode(Raw.self, from: try await run(["version", "--format", "{{json .}}"]))
        guard let server = raw.Server else {
            throw OpsError(.unavailable, code: "docker.unavailable", "the Docker daemon did not answer `docker version`")
        }
        return Version(client: raw.Client?.Version ?? "?", server: server.Version, apiVersion: server.ApiVersion ?? "?")
    }

    public struct Info: Sendable, Codable, Equatable {
        public var serverVersion: String
        public var containersRunning: Int
        public var swarmState: String
    }

    public func info() async throws(OpsError) -> Info {
        struct Raw: Decodable {
            struct Swarm: Decodable { var LocalNodeState: String? }
            var ServerVersion: String?
            var ContainersRunning: Int?
            var Swarm: Swarm?
        }
        let raw = try decode(Raw.self, from: try await run(["info", "--format", "{{json .}}"]))
        guard let version = raw.ServerVersion, !version.isEmpty else {
            throw OpsError(.unavailable, code: "docker.unavailable", "the Docker daemon did not answer `docker info`")
        }
        return Info(serverVersion: version, containersRunning: raw.ContainersRunning ?? 0, swarmState: raw.Swarm?.LocalNodeState ?? "inactive")
    }

    /// What `docker inspect` says about one container.
    public struct ContainerState: Sendable, Codable, Equatable {
        public var id: String
        public var name: String
        public var image: String
        public var status: String           // created | running | restarting | exited | paused | dead
        public var running: Bool
        public var exitCode: Int
        public var restartCount: Int
        public var startedAt: String
        public var finishedAt: String
        public var created: String
        public var labels: [String: String]

        /// The blue/green slot it runs on, if any.
        public var slot: String? { labels[ReleaseIdentity.slotLabel] }

        /// The release: opsctl's label, else the image tag (containers compose started).
        public var version: String? {
            if let label = labels[ReleaseIdentity.versionLabel] { return label }
            guard let colon = image.lastIndex(of: ":"), !image[colon...].contains("/") else { return nil }
            return String(image[image.index(after: colon)...])
        }
    }

    struct RawContainer: Decodable {
        struct RawState: Decodable {
            var Status: String
            var Running: Bool
            var ExitCode: Int
            var StartedAt: String
            var FinishedAt: String
        }
        struct RawConfig: Decodable { var Image: String; var Labels: [String: String]? }
        var id: String
        var name: String
        var created: String
        var restartCount: Int
        var rawState: RawState
        var rawConfig: RawConfig

        enum CodingKeys: String, CodingKey {
            case id = "Id", name = "Name", created = "Created", restartCount = "RestartCount", rawState = "State", rawConfig = "Config"
        }

        var state: ContainerState {
            ContainerState(id: String(id.prefix(12)), name: name.hasPrefix("/") ? String(name.dropFirst()) : name, image: rawConfig.Image,
                           status: rawState.Status, running: rawState.Running, exitCode: rawState.ExitCode, restartCount: restartCount,
                           startedAt: rawState.StartedAt, finishedAt: rawState.FinishedAt, created: created, labels: rawConfig.Labels ?? [:])
        }
    }

    /// The container's state, or nil when no such container exists.
    public func inspectContainer(_ name: String) async throws(OpsError) -> ContainerState? {
        let result = try await run(["container", "inspect", "--format", "{{json .}}", "--", name])
        if !result.succeeded, result.standardErrorTail.lowercased().contains("no such") { return nil }
        return try decode(RawContainer.self, from: result).state
    }

    /// Containers (running or not) carrying every given label, newest first.
    public func containers(labels: [String: String]) async throws(OpsError) -> [ContainerState] {
        var arguments = ["ps", "--all", "--quiet", "--no-trunc"]
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { arguments += ["--filter", "label=\(key)=\(value)"] }
        let listed = try await run(arguments)
        guard listed.succeeded else { throw OpsError(.unavailable, code: "docker.failed", listed.failureSummary) }
        let ids = listed.standardOutput.split(separator: "\n").map(String.init)
        guard !ids.isEmpty else { return [] }
        let inspected = try await run(["container", "inspect", "--"] + ids)
        return try decode([RawContainer].self, from: inspected).map(\.state)
    }

    /// Whether `image:tag` exists locally.
    public func imageExists(_ reference: String) async throws(OpsError) -> Bool {
        try await run(["image", "inspect", "--format", "{{.Id}}", "--", reference]).succeeded
    }

    /// Runs a docker command that must succeed; `code` names the step in the error.
    @discardableResult
    public func checked(_ arguments: [String], code: String, timeout: Duration? = nil) async throws(OpsError) -> ProcessResult {
        let result = try await run(arguments, timeout: timeout)
        guard result.succeeded else {
            throw OpsError(.unavailable, code: code, "\(result.request.displayCommand): \(result.failureSummary)",
                           details: result.standardErrorTail.split(separator: "\n").suffix(5).map(String.init))
        }
        return result
    }

    /// SIGTERM, then SIGKILL after `grace`; the container is kept (stopped) for a rollback.
    public func stop(_ name: String, grace: OpsDuration) async throws(OpsError) {
        let seconds = max(0, grace.milliseconds / 1000)
        try await checked(["container", "stop", "--time", String(seconds), "--", name], code: "docker.stop",
                          timeout: .seconds(seconds + 30))
    }

    public func start(_ name: String) async throws(OpsError) {
        try await checked(["container", "start", "--", name], code: "docker.start")
    }

    /// Removes a container (running or not); a missing one is fine.
    public func remove(_ name: String) async throws(OpsError) {
        let result = try await run(["container", "rm", "--force", "--", name])
        if !result.succeeded, !result.standardErrorTail.lowercased().contains("no such") {
            throw OpsError(.unavailable, code: "docker.rm", "\(result.request.displayCommand): \(result.failureSummary)")
        }
    }

    /// Everything a container wrote (stdout and stderr) between two times.
    public func logs(_ name: String, since: Date, until: Date) async throws(OpsError) -> String {
        // Fractional seconds: `--until` at whole seconds would drop the lines of the current second.
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var request = ProcessRequest("docker", ["container", "logs", "--since", formatter.string(from: since), "--until", formatter.string(from: until.addingTimeInterval(0.001)),
                                                "--", name], timeout: .seconds(60))
        request.keepsFullStandardError = true
        let result = try await runner.run(request)
        if !result.succeeded, Self.isDaemonDown(result) {
            throw OpsError(.unavailable, code: "docker.unavailable", "the Docker daemon is not reachable: \(result.failureSummary)")
        }
        guard result.succeeded else { throw OpsError(.unavailable, code: "docker.logs", "\(request.displayCommand): \(result.failureSummary)") }
        return result.standardOutput + "\n" + result.standardErrorTail
    }

    /// The last `lines` of a container's output (stdout and stderr, as `docker logs` gives them).
    public func logs(_ name: String, lines: Int = 30) async -> String {
        guard let result = try? await run(["container", "logs", "--tail", String(lines), "--", name]) else { return "" }
        let combined = [result.standardOutput, result.standardErrorTail].filter { !$0.isEmpty }.joined(separator: "\n")
        return combined.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
