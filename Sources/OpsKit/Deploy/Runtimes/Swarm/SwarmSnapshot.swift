// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One look at a service: what Swarm says about it, its tasks, and the nodes they run on.
struct SwarmSnapshot: Sendable {
    var service: SwarmService?
    var tasks: [SwarmTask]
    var nodes: [SwarmNode]

    var name: String { service?.name ?? "the service" }

    /// The tasks Swarm means to run now (desired running, or ready for a restart).
    var current: [SwarmTask] { tasks.filter { !$0.desiredState.isFinished } }

    func node(of task: SwarmTask) -> SwarmNode? { nodes.first { $0.id == task.nodeID } }

    /// Nodes down or disconnected: their tasks are not really known. `unknown` is not down:
    /// every node reads so for a moment after a manager elects a new leader.
    var downNodeIDs: Set<String> { Set(nodes.filter { [.down, .disconnected].contains($0.state) }.map(\.id)) }

    /// Nodes that run, or are given, a task of this service (a task on a lost node keeps its
    /// last state, while Swarm asks it to shut down).
    var nodesInUse: Set<String> { Set(tasks.filter { !$0.desiredState.isFinished || !$0.state.isFinished }.compactMap(\.nodeID)) }

    /// `web.2 on node2 (10.1.2.3)`, or `web.2 (not placed)`.
    func describe(_ task: SwarmTask) -> String {
        let where_ = node(of: task).map { " on \($0.hostname)" + ($0.address.map { " (\($0))" } ?? "") } ?? (task.nodeID.map { " on node \($0.prefix(12))" } ?? " (not placed)")
        return task.name(service: name) + where_
    }

    /// Made from the service's task template as it is now. A redeploy of the same release
    /// (`--force`) keeps the version label, and its UpdateStatus stays empty until Swarm's
    /// updater starts: only the force counter, which each task copies when it is made, tells
    /// the old tasks from the new ones.
    func isFresh(_ task: SwarmTask) -> Bool {
        guard let wanted = service?.forceUpdate, let made = task.forceUpdate else { return true }
        return made == wanted
    }

    /// Running `version`, made from the current task template.
    func runs(_ task: SwarmTask, _ version: String) -> Bool { task.state == .running && task.version == version && isFresh(task) }

    /// Every task Swarm means to run runs `version`, as many as the service asks for.
    func converged(on version: String) -> Bool {
        let current = self.current
        guard current.allSatisfy({ runs($0, version) }) else { return false }
        if let replicas = service?.replicas { return current.count == replicas }
        return !current.isEmpty
    }

    /// With a node down, as far as it goes: every task on a ready node runs `version`, nothing
    /// there is still on its way out, and each task left over waits for a node: assigned to one
    /// that is down, or not placed with the reason Swarm gave (no suitable node).
    func convergedExceptDownNodes(on version: String) -> Bool {
        let down = downNodeIDs
        guard !down.isEmpty else { return false }
        let onReadyNode = { (task: SwarmTask) in task.nodeID.map { !down.contains($0) } ?? false }
        guard !tasks.contains(where: { onReadyNode($0) && $0.desiredState.isFinished && !$0.state.isFinished }) else { return false }
        let placed = current.filter(onReadyNode)
        let waiting = current.filter { !onReadyNode($0) }
        guard waiting.allSatisfy({ $0.nodeID != nil || !($0.error ?? "").isEmpty }) else { return false }
        return !placed.isEmpty && placed.allSatisfy { runs($0, version) }
    }

    /// Tasks of `version` created since `since` that ended by themselves (crashed, failed their
    /// health check, were rejected: a missing image).
    func failures(of version: String, since: Date?) -> [SwarmTask] {
        tasks.filter { task in
            task.version == version && task.state.endedBadly && (since.map { (task.createdAt ?? .distantPast) >= $0 } ?? true)
        }
    }

    /// Tasks Swarm means to run that do not run `version` (yet).
    func notOn(_ version: String) -> [SwarmTask] {
        current.filter { !runs($0, version) }
    }

    /// `2/3 task(s) run 1.0.1; web.1 pending (no suitable node …)`.
    func progress(toward version: String) -> String {
        let running = current.filter { runs($0, version) }.count
        let wanted = service?.replicas.map(String.init) ?? String(current.count)
        let others = notOn(version).prefix(3).map { "\(describe($0)): \($0.version ?? "?") \($0.stateText)" }
        return "\(running)/\(wanted) task(s) run \(version)" + (others.isEmpty ? "" : "; " + others.joined(separator: "; "))
    }

    /// `web.3 on node3: failed (task: non-zero exit (1))`, one per task, at most `limit`.
    func explain(_ tasks: [SwarmTask], limit: Int = 3) -> String {
        let shown = tasks.prefix(limit).map { "\(describe($0)): \($0.stateText)" }
        return shown.joined(separator: "; ") + (tasks.count > limit ? "; and \(tasks.count - limit) more" : "")
    }

    /// Nodes lost since `before` (ids down then): down in this look and in the previous one
    /// (one look may catch a node in passing), and holding a task of this service (a node
    /// without one changes nothing for this deploy).
    func lost(since before: Set<String>, previous: SwarmSnapshot?) -> [SwarmNode] {
        guard let previous else { return [] }
        let lost = downNodeIDs.intersection(previous.downNodeIDs).subtracting(before).intersection(nodesInUse.union(previous.nodesInUse))
        return nodes.filter { lost.contains($0.id) }
    }
}

/// How a wait for Swarm ended.
enum SwarmWaitOutcome: Sendable {
    /// Swarm finished what was asked (converged; with a node down, as far as it can).
    case done(SwarmSnapshot)
    /// Swarm rolled the update back by itself (`rollback_completed`).
    case rolledBackBySwarm(SwarmSnapshot)
    /// It cannot finish: paused, a task failed, a node was lost, or the time ran out.
    case stuck(String, SwarmSnapshot?)
    /// SIGINT/SIGTERM; with the last look at the service, which says what Swarm was doing.
    case interrupted(String, SwarmSnapshot?)
}

/// The rules that read a snapshot, one per operation; nil: keep waiting.
enum SwarmVerdict {
    /// After `docker service update`. `before` is UpdateStatus.StartedAt from before the
    /// command: a status with that start time is the previous update's, not ours.
    static func update(_ snapshot: SwarmSnapshot, previous: SwarmSnapshot?, version: String, before: Date?, downBefore: Set<String>) -> SwarmWaitOutcome? {
        guard let service = snapshot.service else { return .stuck("the service \(snapshot.name) disappeared", snapshot) }
        if let status = service.updateStatus, status.startedAt != before {
            let message = status.message.map { ": \($0)" } ?? ""
            switch status.state {
            case .completed: return .done(snapshot)
            case .rollbackCompleted: return .rolledBackBySwarm(snapshot)
            case .paused, .rollbackPaused: return .stuck("Swarm paused the update (\(status.state.rawValue)\(message))", snapshot)
            case .updating, .rollbackStarted, .unknown: break
            }
        }
        if let lost = lostNodes(snapshot, previous, downBefore) { return .stuck("\(lost) during the update", snapshot) }
        // No update status of ours (an engine that reports none): the tasks decide.
        if service.updateStatus?.state.inProgress != true, snapshot.converged(on: version) { return .done(snapshot) }
        return nil
    }

    /// After `docker service create`: any task of the release that ends by itself fails it (Swarm
    /// would restart it forever).
    static func create(_ snapshot: SwarmSnapshot, previous: SwarmSnapshot?, version: String, since: Date?, downBefore: Set<String>) -> SwarmWaitOutcome? {
        guard snapshot.service != nil else { return .stuck("the service \(snapshot.name) disappeared", snapshot) }
        let failures = snapshot.failures(of: version, since: since)
        if !failures.isEmpty { return .stuck("task(s) of \(version) ended: \(snapshot.explain(failures))", snapshot) }
        if let lost = lostNodes(snapshot, previous, downBefore) { return .stuck("\(lost) while the service started", snapshot) }
        return snapshot.converged(on: version) ? .done(snapshot) : nil
    }

    /// After `docker service rollback` (or an update back to the previous release): back on
    /// `version`. With a node down not every task can be placed; it is done when every task on
    /// a ready node runs `version` again.
    static func rollback(_ snapshot: SwarmSnapshot, version: String, before: Date?) -> SwarmWaitOutcome? {
        guard let service = snapshot.service else { return .stuck("the service \(snapshot.name) disappeared", snapshot) }
        if let status = service.updateStatus, status.startedAt != before {
            switch status.state {
            case .rollbackCompleted, .completed: return .done(snapshot)
            case .rollbackPaused, .paused: return .stuck("Swarm paused the rollback (\(status.state.rawValue)\(status.message.map { ": \($0)" } ?? ""))", snapshot)
            default: break
            }
        }
        return snapshot.convergedExceptDownNodes(on: version) ? .done(snapshot) : nil
    }

    /// Every task Swarm means to run runs `version` (with a node down: every one that can).
    static func settled(_ snapshot: SwarmSnapshot, version: String) -> SwarmWaitOutcome? {
        guard let service = snapshot.service else { return .stuck("the service \(snapshot.name) disappeared", snapshot) }
        if let status = service.updateStatus, status.state == .rollbackPaused {
            return .stuck("Swarm paused its rollback (\(status.state.rawValue)\(status.message.map { ": \($0)" } ?? ""))", snapshot)
        }
        return snapshot.converged(on: version) || snapshot.convergedExceptDownNodes(on: version) ? .done(snapshot) : nil
    }

    /// Whether a create or update got through although its command failed: the service is
    /// there now, or its spec (image, release, env, secrets, force counter) moved on, or an
    /// update started (a new UpdateStatus, or none where there was one: each update clears it).
    /// A service that appeared with another release is someone else's: never opsctl's to undo.
    static func reachedSwarm(before: SwarmService?, after: SwarmService?, version: String) -> Bool {
        guard let before else { return after?.version == version }
        guard let after else { return true }
        let spec = { (service: SwarmService) in [service.image, service.version ?? "", String(service.forceUpdate ?? 0)] + service.env + service.secrets.map(\.name) }
        return spec(before) != spec(after) || before.updateStatus?.startedAt != after.updateStatus?.startedAt
    }

    static func lostNodes(_ snapshot: SwarmSnapshot, _ previous: SwarmSnapshot?, _ downBefore: Set<String>) -> String? {
        let lost = snapshot.lost(since: downBefore, previous: previous)
        guard let first = lost.first else { return nil }
        return lost.map { $0.hostname + ($0.address.map { " (\($0))" } ?? "") }.joined(separator: ", ") + " went \(first.state.rawValue)"
    }
}

/// Polls the service until a verdict or the budget runs out. Every wait is bounded: a task
/// whose image is missing on a node, or a node that is gone, would otherwise keep Swarm (and
/// opsctl) busy forever.
struct SwarmWatch: Sendable {
    let client: SwarmClient
    let service: String
    let interruption: Interruption?
    var pollInterval: Duration = .milliseconds(400)

    /// The three reads run side by side: each poll costs one docker round trip, not three.
    func snapshot() async throws(OpsError) -> SwarmSnapshot {
        let (client, name) = (self.client, self.service)
        async let tasks = Self.capture { () async throws(OpsError) in try await client.tasks(service: name) }
        async let nodes = Self.capture { () async throws(OpsError) in try await client.nodes() }
        let service = try await client.service(name)
        let listed = await tasks
        // No service: `docker service ps` fails too, and there is nothing to list.
        return SwarmSnapshot(service: service, tasks: service == nil ? [] : try listed.get(), nodes: try await nodes.get())
    }

    /// A few tries a poll apart: a manager that is electing a leader answers again soon.
    func snapshot(attempts: Int) async -> SwarmSnapshot? {
        for attempt in 1...max(attempts, 1) {
            if let snapshot = try? await snapshot() { return snapshot }
            if attempt < attempts { try? await Task.sleep(for: pollInterval * 2) }
        }
        return nil
    }

    static func capture<T: Sendable>(_ body: @Sendable () async throws(OpsError) -> T) async -> Result<T, OpsError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// `verdict` gets each look and the one before it.
    func wait(budget: OpsDuration, version: String, honourInterruption: Bool,
              _ verdict: @Sendable (SwarmSnapshot, SwarmSnapshot?) -> SwarmWaitOutcome?) async -> SwarmWaitOutcome {
        let deadline = ContinuousClock.now + budget.swiftDuration
        var last: SwarmSnapshot?
        var lastError: String?
        while ContinuousClock.now < deadline {
            if honourInterruption, let reason = interruption?.reason { return .interrupted(reason, last) }
            do {
                let snapshot = try await self.snapshot()
                let previous = last
                (last, lastError) = (snapshot, nil)
                if let outcome = verdict(snapshot, previous) { return outcome }
            } catch {
                lastError = error.message   // the manager may be busy electing a leader: try again until the deadline
            }
            try? await Task.sleep(for: pollInterval)
        }
        let state = lastError.map { "the manager does not answer: \($0)" } ?? last.map { $0.progress(toward: version) } ?? "no answer"
        return .stuck("Swarm did not finish within \(budget): \(state)", last)
    }
}
