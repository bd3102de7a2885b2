// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Typed docker CLI calls for Swarm objects, against the manager `DOCKER_HOST` (or the docker
/// context) names. Everything is read as JSON (`docker … inspect`), never from the tables.
public struct SwarmClient: Sendable {
    public let docker: DockerClient

    public init(docker: DockerClient) { self.docker = docker }

    public var runner: any ProcessRunning { docker.runner }

    /// Whether the engine is in a swarm, and a manager there.
    public func membership() async throws(OpsError) -> SwarmMembership {
        struct Raw: Decodable { var LocalNodeState: String?; var ControlAvailable: Bool?; var NodeID: String?; var Error: String? }
        let raw = try docker.decode(Raw.self, from: try await docker.run(["info", "--format", "{{json .Swarm}}"]))
        return SwarmMembership(state: raw.LocalNodeState.map { SwarmMembership.State(rawValue: $0) ?? .unknown } ?? .inactive, stateName: raw.LocalNodeState ?? "inactive", isManager: raw.ControlAvailable ?? false,
                               nodeID: raw.NodeID.flatMap { $0.isEmpty ? nil : $0 }, error: raw.Error.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// The service, or nil when there is none of that name.
    public func service(_ name: String) async throws(OpsError) -> SwarmService? {
        let result = try await docker.run(["service", "inspect", "--", name])
        if !result.succeeded, result.standardErrorTail.lowercased().contains("no such service") { return nil }
        return try docker.decode([RawService].self, from: result).first?.service
    }

    /// Every service of the swarm (to know which secrets are still in use).
    public func services() async throws(OpsError) -> [SwarmService] {
        let ids = try await list(["service", "ls", "--quiet"])
        guard !ids.isEmpty else { return [] }
        return try await inspectAllowingGone(["service", "inspect", "--"] + ids, RawService.self).map(\.service)
    }

    /// The service's tasks, current and the history Swarm keeps, newest first.
    public func tasks(service: String) async throws(OpsError) -> [SwarmTask] {
        let ids = try await list(["service", "ps", "--quiet", "--no-trunc", "--", service])
        guard !ids.isEmpty else { return [] }
        let tasks = try await inspectAllowingGone(["inspect", "--type", "task", "--"] + ids, RawTask.self).map(\.task)
        return tasks.sorted { ($0.createdAt ?? .distantPast) > ($1.createdAt ?? .distantPast) }
    }

    public func nodes() async throws(OpsError) -> [SwarmNode] {
        let ids = try await list(["node", "ls", "--quiet"])
        guard !ids.isEmpty else { return [] }
        return try await inspectAllowingGone(["node", "inspect", "--"] + ids, RawNode.self).map(\.node).sorted { $0.hostname < $1.hostname }
    }

    /// Secrets carrying every given label.
    public func secrets(labels: [String: String]) async throws(OpsError) -> [SwarmSecret] {
        var arguments = ["secret", "ls", "--quiet"]
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { arguments += ["--filter", "label=\(key)=\(value)"] }
        let ids = try await list(arguments)
        guard !ids.isEmpty else { return [] }
        return try await inspectAllowingGone(["secret", "inspect", "--"] + ids, RawSecret.self).map(\.secret)
    }

    /// The last `lines` a task (or a whole service) wrote. A node that is down never answers, so
    /// the call is bounded; what arrived until then is kept.
    public func logs(_ target: String, lines: Int, timeout: Duration = .seconds(8)) async -> String {
        let request = Self.boundedLogs(["--no-task-ids", "--tail", String(lines), "--", target], timeout: timeout)
        guard let result = try? await runner.run(request) else { return "" }
        let combined = [result.standardOutput, result.standardErrorTail].filter { !$0.isEmpty }.joined(separator: "\n")
        return combined.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// Everything the service wrote since `since`, each line with its timestamp first; with a
    /// node down, what the other nodes gave and why the rest is missing.
    public func logs(service: String, since: Date, timeout: Duration = .seconds(60)) async throws(OpsError) -> (text: String, incomplete: String?) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let request = Self.boundedLogs(["--timestamps", "--no-task-ids", "--since", formatter.string(from: since), "--", service], timeout: timeout)
        let result = try await runner.run(request)
        let partial = result.standardErrorTail.range(of: "incomplete log stream").map { String(result.standardErrorTail[$0.lowerBound...]) }
            ?? (result.termination == .exited(Self.timedOut) ? "the logs did not end within \(timeout)" : nil)
        guard result.succeeded || (partial != nil && !result.standardOutput.isEmpty) else {
            throw OpsError(.unavailable, code: "swarm.logs", "\(request.displayCommand): \(result.failureSummary)")
        }
        return (result.standardOutput + (partial == nil ? "\n" + result.standardErrorTail : ""), partial)
    }

    // MARK: - plumbing

    /// coreutils' exit status when it stopped the command.
    static let timedOut: Int32 = 124

    /// `docker service logs` bounded by coreutils `timeout` rather than the runner's own bound:
    /// the runner drops what a command it had to kill wrote, while `timeout` stops docker and
    /// what it wrote until then arrives as usual. The runner's bound stays as a backstop, and is
    /// the only bound on a host without coreutils' `timeout` (a slow node's lines are lost there).
    static func boundedLogs(_ arguments: [String], timeout: Duration) -> ProcessRequest {
        let seconds = max(Int(timeout.components.seconds), 1)
        let logs = ["docker", "service", "logs"] + arguments
        let bounded = (try? SubprocessRunner.locate("timeout")) != nil ? ["timeout", "--kill-after=2", String(seconds)] + logs : logs
        var request = ProcessRequest(bounded[0], Array(bounded.dropFirst()), timeout: timeout + .seconds(5))
        request.keepsFullStandardError = true
        return request
    }

    func list(_ arguments: [String]) async throws(OpsError) -> [String] {
        let result = try await docker.run(arguments)
        guard result.succeeded else {
            throw OpsError(.unavailable, code: "swarm.failed", "\(result.request.displayCommand): \(result.failureSummary)")
        }
        return result.standardOutput.split(separator: "\n").map(String.init)
    }

    /// `docker … inspect A B C` prints the objects it found and fails for one that vanished
    /// since the listing (Swarm prunes task history all the time): keep what it printed.
    func inspectAllowingGone<T: Decodable>(_ arguments: [String], _ type: T.Type) async throws(OpsError) -> [T] {
        let result = try await docker.run(arguments)
        if !result.succeeded, result.standardErrorTail.lowercased().contains("not found") || result.standardErrorTail.lowercased().contains("no such"),
           let found = try? JSONDecoder().decode([T].self, from: Data(result.standardOutput.utf8)) {
            return found
        }
        return try docker.decode([T].self, from: result)
    }
}

// MARK: - the JSON docker prints

struct RawService: Decodable {
    struct Spec: Decodable {
        struct TaskTemplate: Decodable {
            struct ContainerSpec: Decodable {
                struct Secret: Decodable { struct File: Decodable { var Name: String? }; var SecretName: String?; var File: File? }
                struct Mount: Decodable { var `Type`: String?; var Source: String?; var Target: String?; var ReadOnly: Bool? }
                struct Healthcheck: Decodable { var Test: [String]? }
                var Image: String?
                var Healthcheck: Healthcheck?
                var Labels: [String: String]?
                var Env: [String]?
                var Secrets: [Secret]?
                var Mounts: [Mount]?
            }
            struct Placement: Decodable { var Constraints: [String]? }
            var ContainerSpec: ContainerSpec?
            var Placement: Placement?
            var ForceUpdate: UInt64?
        }
        struct Mode: Decodable { struct Replicated: Decodable { var Replicas: Int? }; var Replicated: Replicated? }
        struct Endpoint: Decodable {
            struct Port: Decodable { var `Protocol`: String?; var TargetPort: Int?; var PublishedPort: Int?; var PublishMode: String? }
            var Ports: [Port]?
        }
        var Name: String
        var Labels: [String: String]?
        var TaskTemplate: TaskTemplate?
        var Mode: Mode?
        var EndpointSpec: Endpoint?
    }
    struct UpdateStatus: Decodable { var State: SwarmUpdateState?; var StartedAt: String?; var CompletedAt: String?; var Message: String? }
    var ID: String
    var CreatedAt: String?
    var UpdatedAt: String?
    var Spec: Spec
    var PreviousSpec: Spec?
    var UpdateStatus: UpdateStatus?

    var service: SwarmService {
        let container = self.Spec.TaskTemplate?.ContainerSpec
        return SwarmService(
            id: ID, name: self.Spec.Name, createdAt: SwarmTime.parse(CreatedAt), updatedAt: SwarmTime.parse(UpdatedAt),
            image: container?.Image ?? "", labels: self.Spec.Labels ?? [:], containerLabels: container?.Labels ?? [:], env: container?.Env ?? [],
            secrets: Self.secrets(container), previous: previous, mounts: (container?.Mounts ?? []).map {
                SwarmMount(type: $0.Type ?? "bind", source: $0.Source ?? "", target: $0.Target ?? "", readOnly: $0.ReadOnly ?? false)
            },
            constraints: self.Spec.TaskTemplate?.Placement?.Constraints ?? [],
            ports: (self.Spec.EndpointSpec?.Ports ?? []).map {
                SwarmPort(target: $0.TargetPort ?? 0, published: $0.PublishedPort, proto: $0.Protocol ?? "tcp", mode: $0.PublishMode ?? "ingress")
            },
            replicas: self.Spec.Mode?.Replicated.map { $0.Replicas ?? 1 }, forceUpdate: self.Spec.TaskTemplate?.ForceUpdate,
            healthCheck: container?.Healthcheck?.Test.flatMap { $0.isEmpty ? nil : $0 },
            updateStatus: self.UpdateStatus.flatMap { status in
                status.State.map { SwarmUpdateStatus(state: $0, startedAt: SwarmTime.parse(status.StartedAt), completedAt: SwarmTime.parse(status.CompletedAt),
                                                     message: status.Message) }
            })
    }

    var previous: SwarmService.PreviousSpec? {
        guard let spec = PreviousSpec, let container = spec.TaskTemplate?.ContainerSpec, let image = container.Image else { return nil }
        return .init(image: image, version: container.Labels?[SwarmNames.versionLabel] ?? SwarmNames.tag(of: image), secrets: Self.secrets(container))
    }

    static func secrets(_ container: Spec.TaskTemplate.ContainerSpec?) -> [SwarmSecretReference] {
        (container?.Secrets ?? []).compactMap { secret in
            secret.SecretName.map { SwarmSecretReference(name: $0, target: secret.File?.Name ?? $0) }
        }
    }
}

struct RawTask: Decodable {
    struct Spec: Decodable {
        struct ContainerSpec: Decodable { var Image: String?; var Labels: [String: String]? }
        var ContainerSpec: ContainerSpec?
        var ForceUpdate: UInt64?
    }
    struct Status: Decodable {
        struct ContainerStatus: Decodable { var ExitCode: Int? }
        var State: SwarmTaskState?
        var Message: String?
        var Err: String?
        var ContainerStatus: ContainerStatus?
    }
    var ID: String
    var Slot: Int?
    var NodeID: String?
    var CreatedAt: String?
    var UpdatedAt: String?
    var Spec: Spec?
    var Status: Status?
    var DesiredState: SwarmTaskState?

    var task: SwarmTask {
        let image = self.Spec?.ContainerSpec?.Image ?? ""
        return SwarmTask(id: ID, slot: Slot.flatMap { $0 > 0 ? $0 : nil }, nodeID: NodeID.flatMap { $0.isEmpty ? nil : $0 },
                         createdAt: SwarmTime.parse(CreatedAt), updatedAt: SwarmTime.parse(UpdatedAt),
                         state: self.Status?.State ?? .unknown, desiredState: DesiredState ?? .unknown, message: self.Status?.Message, error: self.Status?.Err,
                         exitCode: self.Status?.ContainerStatus?.ExitCode, image: image,
                         version: self.Spec?.ContainerSpec?.Labels?[SwarmNames.versionLabel] ?? SwarmNames.tag(of: image), forceUpdate: self.Spec?.ForceUpdate)
    }
}

struct RawNode: Decodable {
    struct Spec: Decodable { var Role: String?; var Availability: String? }
    struct Description: Decodable { struct Engine: Decodable { var EngineVersion: String? }; var Hostname: String?; var Engine: Engine? }
    struct Status: Decodable { var State: String?; var Addr: String? }
    struct ManagerStatus: Decodable { var Leader: Bool?; var Addr: String? }
    var ID: String
    var Spec: Spec?
    var Description: Description?
    var Status: Status?
    var ManagerStatus: ManagerStatus?

    var node: SwarmNode {
        SwarmNode(id: ID, hostname: self.Description?.Hostname ?? ID, role: self.Spec?.Role.flatMap(SwarmNode.Role.init(rawValue:)) ?? .worker,
                  availability: SwarmNode.Availability(rawValue: self.Spec?.Availability ?? "") ?? .unknown,
                  state: SwarmNode.State(rawValue: self.Status?.State ?? "") ?? .unknown, address: address,
                  leader: self.ManagerStatus?.Leader ?? false, engineVersion: self.Description?.Engine?.EngineVersion)
    }

    /// A manager may report 0.0.0.0 as its node address; its manager address then names it.
    var address: String? {
        if let address = self.Status?.Addr, !address.isEmpty, address != "0.0.0.0" { return address }
        return self.ManagerStatus?.Addr.flatMap { $0.split(separator: ":").first.map(String.init) }
    }
}

struct RawSecret: Decodable {
    struct Spec: Decodable { var Name: String; var Labels: [String: String]? }
    var ID: String
    var CreatedAt: String?
    var Spec: Spec

    var secret: SwarmSecret { SwarmSecret(id: ID, name: self.Spec.Name, labels: self.Spec.Labels ?? [:], createdAt: SwarmTime.parse(CreatedAt)) }
}
