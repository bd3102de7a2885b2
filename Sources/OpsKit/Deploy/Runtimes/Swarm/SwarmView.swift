// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One task as status, the handoff and a deploy report show it: where it runs and what.
public struct SwarmTaskView: Sendable, Codable, Equatable {
    public struct Node: Sendable, Codable, Equatable {
        public var id: String
        public var hostname: String?
        public var address: String?
    }

    public var id: String
    public var name: String
    public var node: Node?
    public var desiredState: SwarmTaskState
    public var currentState: SwarmTaskState
    public var version: String?
    public var error: String?
    /// When it reached its current state.
    public var since: Date?

    init(_ task: SwarmTask, in snapshot: SwarmSnapshot) {
        id = task.id
        name = task.name(service: snapshot.name)
        node = task.nodeID.map { id in
            let known = snapshot.nodes.first { $0.id == id }
            return Node(id: String(id.prefix(12)), hostname: known?.hostname, address: known?.address)
        }
        desiredState = task.desiredState
        currentState = task.state
        version = task.version
        error = task.state.endedBadly ? task.stateText : task.error.flatMap { $0.isEmpty ? nil : $0 }
        since = task.updatedAt
    }
}

/// What Swarm did during a deploy or rollback.
public struct SwarmDeployReport: Sendable, Codable, Equatable {
    public var service: String
    /// The first deploy created the service.
    public var created: Bool
    /// `UpdateStatus` when opsctl stopped waiting: completed, rollback_completed, paused, …
    public var updateState: SwarmUpdateState?
    public var updateMessage: String?
    /// Tasks of the release that ended by themselves (crashed, unhealthy, rejected).
    public var failingTasks: [SwarmTaskView] = []
    /// What Swarm runs at the end, task by task.
    public var tasks: [SwarmTaskView] = []
    /// Nodes not ready or not active at the end: `node3 (10.0.0.4) is down`.
    public var nodeProblems: [String] = []
}

/// The swarm side of `opsctl status` and the handoff: the service, every task it means to run
/// with its node, the nodes (`docker node ls`), and drift between them and the ledger.
public struct SwarmView: Sendable, Encodable {
    public var service: String
    public var exists: Bool
    public var mode: SwarmSettings.Mode?
    public var replicas: Int?
    /// The release the service spec asks for.
    public var version: String?
    public var updateState: SwarmUpdateState?
    public var updateMessage: String?
    public var tasks: [SwarmTaskView]
    public var nodes: [SwarmNode]
    /// The manager could not be asked.
    public var error: String?

    /// The environment's service, through the manager DOCKER_HOST names.
    public static func load(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext) async -> SwarmView {
        let name = (environment.swarm ?? SwarmSettings()).serviceName(app: config.app, env: environment.name)
        return await load(client: SwarmClient(docker: context.docker), service: name)
    }

    static func load(client: SwarmClient, service name: String) async -> SwarmView {
        var view = SwarmView(service: name, exists: false, tasks: [], nodes: [])
        do {
            view.nodes = try await client.nodes()
            guard let service = try await client.service(name) else { return view }
            let snapshot = SwarmSnapshot(service: service, tasks: try await client.tasks(service: name), nodes: view.nodes)
            view.exists = true
            view.mode = service.isGlobal ? .global : .replicated
            view.replicas = service.replicas
            view.version = service.version
            view.updateState = service.updateStatus?.state
            view.updateMessage = service.updateStatus?.message
            // What runs or is meant to, plus what is still on its way out.
            view.tasks = snapshot.tasks.filter { !$0.desiredState.isFinished || !$0.state.isFinished }.map { SwarmTaskView($0, in: snapshot) }
                .sorted { ($0.name, $0.desiredState.rawValue) < ($1.name, $1.desiredState.rawValue) }
        } catch {
            view.error = error.message
        }
        return view
    }

    /// The release every running task runs, when they agree and are as many as asked for.
    public var runningVersion: String? {
        let running = tasks.filter { $0.desiredState == .running && $0.currentState == .running }
        let versions = Set(running.compactMap(\.version))
        guard versions.count == 1, replicas.map({ $0 == running.count }) ?? true else { return nil }
        return versions.first
    }

    /// Nodes a warning is due for: down, drained, paused.
    public var nodeProblems: [String] { nodes.compactMap(\.problem) }

    /// Where the service and the ledger disagree, or the tasks with each other.
    public func drift(ledgerLive: String?) -> String? {
        guard error == nil else { return nil }
        guard exists else { return ledgerLive.map { "the ledger says \($0) is live, but there is no service \(service)" } }
        var problems: [String] = []
        if let ledgerLive, ledgerLive != version { problems.append("the ledger says \(ledgerLive) is live, but service \(service) asks for \(version ?? "?")") }
        let running = tasks.filter { $0.desiredState == .running && $0.currentState == .running }
        let versions = Set(running.compactMap(\.version))
        if versions.count > 1 { problems.append("mixed versions: " + running.map { "\($0.name) runs \($0.version ?? "?")" }.joined(separator: ", ")) }
        if let replicas, running.count != replicas { problems.append("\(running.count) of \(replicas) task(s) running") }
        if mode == .global, running.isEmpty { problems.append("no task running") }
        if let updateState, updateState != .completed, updateState != .rollbackCompleted {
            problems.append("last update \(updateState.rawValue)" + (updateMessage.map { ": \($0)" } ?? ""))
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    /// Status lines: the service, a task table, the nodes.
    public func lines(now: Date) -> [String] {
        if let error { return ["swarm:           UNKNOWN: \(error)"] }
        var lines: [String] = []
        let shape = mode == .global ? "global" : "replicated \(replicas ?? 0)"
        lines.append("service:         " + (exists ? "\(service) (\(shape)), asks for \(version ?? "?")" + (updateState.map { ", last update \($0.rawValue)" } ?? "") : "\(service) does not exist yet"))
        if !tasks.isEmpty {
            let rows = tasks.map { task in
                [task.name, task.node.map { "\($0.hostname ?? "?") (\($0.id))" } ?? "-", task.node?.address ?? "-", task.desiredState.rawValue,
                 task.currentState.rawValue + (task.since.map { " " + TextFormat.age(of: $0, now: now) } ?? ""), task.version ?? "?", task.error ?? ""]
            }
            lines += TextFormat.table(["TASK", "NODE", "ADDRESS", "DESIRED", "CURRENT", "VERSION", "ERROR"], rows).split(separator: "\n").map { "  " + $0 }
        }
        let nodeText = nodes.map { node in
            "\(node.hostname) \(node.address ?? "?") \(node.state.rawValue)/\(node.availability.rawValue)" + (node.role == .manager ? (node.leader ? " (leader)" : " (manager)") : "")
        }
        lines.append("nodes:           " + (nodeText.isEmpty ? "none" : nodeText.joined(separator: ", ")))
        return lines
    }
}

extension SwarmView {
    /// The handoff's lines: the service, each task where it runs, the nodes.
    var handoffLines: [String] {
        if let error { return ["swarm: could not be asked: \(error)"] }
        guard exists else { return ["swarm service \(service): does not exist"] }
        let running = tasks.filter { $0.desiredState == .running && $0.currentState == .running }
        var lines = ["swarm service \(service): \(running.count)/\(replicas.map(String.init) ?? String(tasks.filter { $0.desiredState == .running }.count)) task(s) running, spec asks for \(version ?? "?")"
                     + (updateState.map { ", last update \($0.rawValue)" } ?? "")]
        lines.append("tasks: " + tasks.map { task in
            let nodeDown = nodes.contains { $0.id.hasPrefix(task.node?.id ?? "-") && $0.state != .ready }
            let notes = [task.desiredState == .running ? nil : "desired \(task.desiredState.rawValue)", nodeDown ? "node down" : nil].compactMap { $0 }
            return "\(task.name) on \(task.node?.hostname ?? "no node")\(task.node?.address.map { " (\($0))" } ?? ""): \(task.currentState.rawValue) \(task.version ?? "?")"
                + (notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))")
        }.joined(separator: "; "))
        lines.append("nodes: " + nodes.map { "\($0.hostname) \($0.state.rawValue)/\($0.availability.rawValue)" }.joined(separator: ", "))
        return lines
    }
}

/// The app's error lines in a swarm service's logs (every task, every node) over the window.
extension HandoffService {
    func swarmLogErrors(since: Date, until: Date) async throws(OpsError) -> (logs: HandoffReport.Logs?, incomplete: String?) {
        let service = (environment.swarm ?? SwarmSettings()).serviceName(app: config.app, env: environment.name)
        let client = SwarmClient(docker: context.docker)
        guard try await client.service(service) != nil else { return (nil, nil) }
        let (text, incomplete) = try await client.logs(service: service, since: since)
        // `--timestamps` puts the time first; `docker service logs` has no --until.
        let inWindow = text.split(separator: "\n").filter { line in
            guard let stamp = line.split(separator: " ", maxSplits: 1).first, let date = SwarmTime.parse(String(stamp)) else { return true }
            return date <= until
        }
        return (Self.summarise(logs: inWindow.joined(separator: "\n"), pattern: settings.logPattern, container: "service \(service)", redactor: config.redactor), incomplete)
    }
}
