// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `driver: swarm`: one Docker Swarm service, created on the first deploy and updated after
/// that, through the manager `DOCKER_HOST` (or the docker context) points at. Swarm rolls each
/// release across the nodes; a release is the service's image tag (and the container label
/// `opsctl.version`). Nothing is kept stopped: going back is `docker service rollback` (to the
/// previous spec) or an update to an older tag.
public struct SwarmReleaseDriver: ReleaseDriver {
    public let client: SwarmClient
    public let settings: SwarmSettings
    public let run: RunSettings
    public let identity: ReleaseIdentity
    public let serviceName: String
    let environment: SwarmEnvironment
    let defaultFailureAction: SwarmServiceSpec.FailureAction

    public init(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext) {
        let settings = environment.swarm ?? SwarmSettings()
        client = SwarmClient(docker: context.docker)
        self.settings = settings
        run = environment.run
        identity = ReleaseIdentity(config: config, environment: environment)
        serviceName = settings.serviceName(app: config.app, env: environment.name)
        self.environment = SwarmEnvironment.make(config: config, environment: environment, context: context, service: serviceName)
        defaultFailureAction = environment.rollback == .auto ? .rollback : .pause
    }

    public var runner: any ProcessRunning { client.runner }

    var spec: SwarmServiceSpec {
        SwarmServiceSpec(name: serviceName, settings: settings, run: run, identity: identity, environment: environment)
    }

    public var keepsStoppedReleases: Bool { false }

    /// The image lives on the nodes (or in a registry they pull from), not on this engine.
    public var needsLocalImage: Bool { false }

    public func containerName(_ release: ReleaseRef) -> String? { serviceName }

    /// `DOCKER_HOST` must reach a swarm manager, and an existing service must be in the mode
    /// opsctl.yml says (Swarm cannot change a service's mode).
    public func validate(version: String) async throws(OpsError) {
        let membership = try await client.membership()
        guard membership.state == .active, membership.isManager else {
            let what = membership.state == .active ? "a swarm worker, not a manager" : "not in a swarm (\(membership.stateName))"
            throw OpsError(.unavailable, code: "swarm.not_manager", "the Docker engine opsctl talks to is \(what): driver swarm deploys through a manager",
                           details: ["point DOCKER_HOST (or `docker context use`) at a manager node; `docker node ls` works there"] + (membership.error.map { ["swarm error: \($0)"] } ?? []))
        }
        if let current = try await client.service(serviceName), current.isGlobal != (settings.mode == .global) {
            throw OpsError(.config, code: "swarm.mode_mismatch",
                           "service \(serviceName) runs in \(current.isGlobal ? "global" : "replicated") mode but swarm.mode is \(settings.mode.rawValue): Swarm cannot change a service's mode",
                           details: ["set swarm.mode back, or remove the service (docker service rm \(serviceName)) for opsctl to create it anew"])
        }
    }

    /// The service as one release: the version its spec asks for, running when Swarm runs it
    /// (every task it means to run runs that version).
    public func releases() async throws(OpsError) -> [DeployedRelease] {
        guard let service = try await client.service(serviceName) else { return [] }
        let snapshot = SwarmSnapshot(service: service, tasks: try await client.tasks(service: serviceName), nodes: [])
        let version = service.version ?? "?"
        let running = snapshot.current.filter { $0.state == .running }.count
        let converged = snapshot.converged(on: version)
        let formatter = ISO8601DateFormatter()
        return [DeployedRelease(version: version, container: serviceName, running: converged,
                                status: "\(running)/\(service.replicas.map(String.init) ?? String(snapshot.current.count)) task(s) running",
                                created: service.updatedAt.map(formatter.string(from:)) ?? "")]
    }

    // MARK: - commands

    /// The secrets Swarm does not have yet, then `service create` or `service update`.
    func deployCommands(_ target: ReleaseTarget, failureAction: SwarmServiceSpec.FailureAction, allAtOnce: Bool = false) async throws(OpsError) -> [DriverCommand] {
        let existing = Set(try await client.secrets(labels: identity.selector).map(\.name))
        var commands = environment.createCommands(existing: existing, labels: identity.selector)
        let arguments: [String]
        if let current = try await client.service(serviceName) {
            arguments = spec.updateArguments(version: target.version, current: current, ownSecrets: existing, failureAction: failureAction, allAtOnce: allAtOnce)
        } else {
            arguments = spec.createArguments(version: target.version, failureAction: failureAction)
        }
        commands.append(DriverCommand(ProcessRequest("docker", arguments, timeout: .seconds(120)), failureCode: "swarm.update"))
        return commands
    }

    public func startCommands(_ target: ReleaseTarget, fresh: Bool) async throws(OpsError) -> [DriverCommand] {
        try await deployCommands(target, failureAction: defaultFailureAction)
    }

    /// No tasks: scaled to 0 (replicated), removed (global, which cannot scale).
    public func stopCommands(_ release: ReleaseRef) -> [DriverCommand] {
        let arguments = settings.mode == .replicated ? ["service", "scale", "--detach", "\(serviceName)=0"] : ["service", "rm", serviceName]
        return [DriverCommand(ProcessRequest("docker", arguments, timeout: .seconds(60)), failureCode: "swarm.stop")]
    }

    /// What `stopCommands` does to the service, for a reason that says so.
    var stopped: String { settings.mode == .replicated ? "scaled to 0" : "removed" }

    func rollbackCommand() -> DriverCommand {
        DriverCommand(ProcessRequest("docker", ["service", "rollback", "--detach", serviceName], timeout: .seconds(60)), failureCode: "swarm.rollback")
    }

    // MARK: - while checking

    /// A task of the release that ended by itself since the spec last changed: it crashed or
    /// failed Swarm's health check after the update finished.
    public func fatalState(_ release: ReleaseRef) async -> String? {
        guard let service = try? await client.service(serviceName), let tasks = try? await client.tasks(service: serviceName) else { return nil }
        var snapshot = SwarmSnapshot(service: service, tasks: tasks, nodes: [])
        let failures = snapshot.failures(of: release.version, since: service.updatedAt)
        guard !failures.isEmpty else { return nil }
        snapshot.nodes = (try? await client.nodes()) ?? []
        return "task(s) of \(release.version) ended: \(snapshot.explain(failures))"
    }

    /// The last lines of the release's tasks that ended by themselves (else its running ones).
    public func logs(_ release: ReleaseRef, lines: Int) async -> String {
        guard let service = try? await client.service(serviceName), let tasks = try? await client.tasks(service: serviceName) else { return "" }
        let snapshot = SwarmSnapshot(service: service, tasks: tasks, nodes: (try? await client.nodes()) ?? [])
        let failing = snapshot.failures(of: release.version, since: nil)
        let chosen = failing.isEmpty ? snapshot.current.filter { $0.version == release.version } : failing
        return await logs(of: chosen.prefix(3).map { SwarmTaskView($0, in: snapshot) }, lines: lines)
    }

    /// Each task's last lines under a header naming the task, its node and what happened to it.
    func logs(of tasks: [SwarmTaskView], lines: Int) async -> String {
        var sections: [String] = []
        for task in tasks {
            let node = task.node.map { " on \($0.hostname ?? $0.id)" + ($0.address.map { " (\($0))" } ?? "") } ?? ""
            let text = await client.logs(task.id, lines: lines)
            sections.append("== \(task.name)\(node): \(task.error ?? task.currentState.rawValue)" + (text.isEmpty ? "" : "\n" + text))
        }
        return sections.joined(separator: "\n")
    }

    // MARK: - secrets

    /// Secret versions of this environment no service uses any more, in its spec or in the
    /// previous spec a `docker service rollback` returns to.
    public func prune(keep: Int, protecting: Set<ReleaseRef>) async throws(OpsError) -> [String] {
        let ours = try await client.secrets(labels: identity.selector)
        guard !ours.isEmpty else { return [] }
        let inUse = Set(try await client.services().flatMap { $0.secrets.map(\.name) + ($0.previous?.secrets.map(\.name) ?? []) })
        var removed: [String] = []
        for secret in ours where !inUse.contains(secret.name) {
            // Refused while a task still holds it: it goes on a later run.
            if (try? await client.docker.run(["secret", "rm", "--", secret.name]))?.succeeded == true { removed.append(secret.name) }
        }
        return removed
    }
}
