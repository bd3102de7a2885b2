// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The `docker service create` and `docker service update` argv for a release: everything
/// opsctl.yml says the service is, so an update also carries config changes (env, secrets,
/// mounts, constraints, published ports, health check, update policy), not only the image.
struct SwarmServiceSpec: Sendable {
    /// What Swarm does when a task fails during an update: roll back by itself, or stop and
    /// leave the failed release in place (`rollback: manual`, `--no-rollback`).
    enum FailureAction: String, Sendable { case rollback, pause }

    let name: String
    let settings: SwarmSettings
    let run: RunSettings
    let identity: ReleaseIdentity
    let environment: SwarmEnvironment

    func image(_ version: String) -> String { identity.imageReference(version) }

    /// The service's own labels (selector) and its containers' (selector plus the release).
    var serviceLabels: [String: String] { identity.selector }
    func containerLabels(_ version: String) -> [String: String] { identity.labels(version: version) }

    func createArguments(version: String, failureAction: FailureAction) -> [String] {
        var arguments = ["service", "create", "--detach", "--name", name]
        arguments += labelArguments("--label", serviceLabels) + labelArguments("--container-label", containerLabels(version))
        switch settings.mode {
        case .replicated: arguments += ["--mode", "replicated", "--replicas", String(settings.replicas)]
        case .global: arguments += ["--mode", "global"]
        }
        if let network = run.network { arguments += ["--network", network] }
        arguments += environment.specEnv.flatMap { ["--env", $0] }
        arguments += environment.secrets.flatMap { ["--secret", "source=\($0.name),target=\($0.key)"] }
        arguments += desiredMounts.flatMap { ["--mount", Self.mountText($0)] }
        arguments += settings.constraints.flatMap { ["--constraint", $0] }
        arguments += settings.publish.flatMap { ["--publish", $0.text] }
        return arguments + policyArguments(failureAction) + [image(version)]
    }

    /// `ownSecrets`: the Docker secrets opsctl made for this environment; a secret attached by
    /// hand stays attached.
    /// `allAtOnce`: every task in one batch, for going back with a node down (one batch at a
    /// time would wait forever on a task that has nowhere to run).
    func updateArguments(version: String, current: SwarmService, ownSecrets: Set<String>, failureAction: FailureAction, allAtOnce: Bool = false) -> [String] {
        var arguments = ["service", "update", "--detach", "--image", image(version)]
        arguments += labelArguments("--label-add", serviceLabels) + labelArguments("--container-label-add", containerLabels(version))
        if settings.mode == .replicated { arguments += ["--replicas", String(settings.replicas)] }
        arguments += envChanges(current) + secretChanges(current, own: ownSecrets) + mountChanges(current) + constraintChanges(current) + publishChanges(current)
        arguments += healthCheckReset(current) + policyArguments(failureAction, allAtOnce: allAtOnce)
        // The same release again (--force, or a service that never converged): new tasks anyway.
        if current.version == version { arguments.append("--force") }
        return arguments + [name]
    }

    /// Health check, stop grace, and how updates and rollbacks roll: the same on create and update.
    func policyArguments(_ failureAction: FailureAction, allAtOnce: Bool = false) -> [String] {
        var arguments: [String] = []
        if let command = settings.healthCmd {
            arguments += ["--health-cmd", command, "--health-interval", Self.go(settings.healthInterval), "--health-timeout", Self.go(settings.healthTimeout),
                          "--health-retries", String(settings.healthRetries), "--health-start-period", Self.go(settings.healthStartPeriod)]
        }
        arguments += ["--stop-grace-period", Self.go(run.stopTimeout)]
        let parallelism = allAtOnce ? "0" : String(settings.updateParallelism), order = settings.updateOrder.rawValue, monitor = Self.go(settings.monitor)
        arguments += ["--update-parallelism", parallelism, "--update-delay", Self.go(settings.updateDelay), "--update-order", order,
                      "--update-monitor", monitor, "--update-failure-action", failureAction.rawValue, "--update-max-failure-ratio", "0"]
        // Going back is urgent: no delay between batches; a rollback that fails too stops (exit 4).
        arguments += ["--rollback-parallelism", parallelism, "--rollback-delay", "0s", "--rollback-order", order,
                      "--rollback-monitor", monitor, "--rollback-failure-action", "pause", "--rollback-max-failure-ratio", "0"]
        // Without a registry the manager must not look the tag up (it would fail or wait).
        if !run.pull { arguments.append("--no-resolve-image") }
        return arguments
    }

    // MARK: - what changes on update

    /// `health_cmd` left out after it was set: back to the image's own HEALTHCHECK, as on a new
    /// service. An empty command and zero timings clear the spec's check (`--no-healthcheck`
    /// would switch the image's off too).
    func healthCheckReset(_ current: SwarmService) -> [String] {
        guard settings.healthCmd == nil, current.healthCheck != nil else { return [] }
        return ["--health-cmd", "", "--health-interval", "0s", "--health-timeout", "0s", "--health-retries", "0", "--health-start-period", "0s"]
    }

    func envChanges(_ current: SwarmService) -> [String] {
        let desired = environment.specEnv
        let desiredKeys = Set(desired.map(Self.envKey))
        let removed = current.env.map(Self.envKey).filter { !desiredKeys.contains($0) }
        return removed.flatMap { ["--env-rm", $0] } + desired.filter { !current.env.contains($0) }.flatMap { ["--env-add", $0] }
    }

    func secretChanges(_ current: SwarmService, own: Set<String>) -> [String] {
        let desired = environment.secrets.map(\.reference)
        let removed = current.secrets.filter { !desired.contains($0) && own.contains($0.name) }.map(\.name)
        let added = desired.filter { !current.secrets.contains($0) }
        return removed.flatMap { ["--secret-rm", $0] } + added.flatMap { ["--secret-add", "source=\($0.name),target=\($0.target)"] }
    }

    func mountChanges(_ current: SwarmService) -> [String] {
        let desired = desiredMounts
        let removed = current.mounts.filter { !desired.contains($0) }.map(\.target)
        let added = desired.filter { !current.mounts.contains($0) }
        return removed.flatMap { ["--mount-rm", $0] } + added.flatMap { ["--mount-add", Self.mountText($0)] }
    }

    func constraintChanges(_ current: SwarmService) -> [String] {
        let removed = current.constraints.filter { !settings.constraints.contains($0) }
        let added = settings.constraints.filter { !current.constraints.contains($0) }
        return removed.flatMap { ["--constraint-rm", $0] } + added.flatMap { ["--constraint-add", $0] }
    }

    /// Published ports are replaced as a whole when they differ (a port without `published`
    /// matches whatever port Swarm chose for it).
    func publishChanges(_ current: SwarmService) -> [String] {
        let matches = { (publish: SwarmPublish, port: SwarmPort) in
            publish.target == port.target && publish.proto == port.proto && publish.mode.rawValue == port.mode && (publish.published == nil || publish.published == port.published)
        }
        let same = current.ports.count == settings.publish.count
            && settings.publish.allSatisfy { publish in current.ports.contains { matches(publish, $0) } }
        guard !same else { return [] }
        return current.ports.flatMap { ["--publish-rm", "\($0.target)/\($0.proto)"] } + settings.publish.flatMap { ["--publish-add", $0.text] }
    }

    // MARK: - helpers

    /// `run.volumes` entries (`/srv/data:/app/data[:ro]`) as mounts: an absolute or relative
    /// path is a bind mount, a bare name a named volume.
    var desiredMounts: [SwarmMount] {
        run.volumes.compactMap { volume in
            let parts = volume.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2 else { return nil }
            let source = parts[0]
            let bind = source.hasPrefix("/") || source.hasPrefix(".")
            return SwarmMount(type: bind ? "bind" : "volume", source: source, target: parts[1], readOnly: parts.count > 2 && parts[2].split(separator: ",").contains("ro"))
        }
    }

    static func mountText(_ mount: SwarmMount) -> String {
        "type=\(mount.type),source=\(mount.source),target=\(mount.target)" + (mount.readOnly ? ",readonly" : "")
    }

    func labelArguments(_ flag: String, _ labels: [String: String]) -> [String] {
        labels.sorted { $0.key < $1.key }.flatMap { [flag, "\($0.key)=\($0.value)"] }
    }

    static func envKey(_ entry: String) -> String { entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry }

    /// Go's duration syntax, which the docker CLI parses: milliseconds are always exact.
    static func go(_ duration: OpsDuration) -> String { "\(duration.milliseconds)ms" }
}
