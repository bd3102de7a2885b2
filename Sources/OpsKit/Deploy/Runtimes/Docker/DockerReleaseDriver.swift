// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Containers named `<app>-<env>-<version>[-<slot>]`, labelled `opsctl.app/env/version[/slot]`, run from `run:`.
public struct DockerReleaseDriver: SlotReleaseDriver {
    public let identity: ReleaseIdentity
    public let run: RunSettings
    /// blue-green: how a slot's port reaches the app.
    public let proxy: ProxySettings?
    public let docker: DockerClient
    /// Where the per-launch env file (run.env, secrets included) is written, mode 600, then removed.
    public let scratchDirectory: String

    public init(config: OpsConfig, environment: EnvironmentConfig, docker: DockerClient) {
        identity = ReleaseIdentity(config: config, environment: environment)
        run = environment.run
        proxy = environment.strategy.needsProxy ? environment.proxy : nil
        self.docker = docker
        scratchDirectory = URL(fileURLWithPath: config.state).deletingLastPathComponent().path
    }

    public var runner: any ProcessRunning { docker.runner }

    public func containerName(_ release: ReleaseRef) -> String? { identity.containerName(release.version, slot: release.slot) }

    func name(_ release: ReleaseRef) -> String { identity.containerName(release.version, slot: release.slot) }

    public func imageReference(_ version: String) -> String { identity.imageReference(version) }

    public var keepsStoppedReleases: Bool { true }

    /// Values docker's env file cannot carry are refused before the live release is stopped.
    public func validate(version: String) async throws(OpsError) {
        if let variable = run.env.first(where: { $0.resolvedValue.contains("\n") }) {
            throw OpsError(.config, code: "config.env_newline", "run.env.\(variable.name): the value has a newline, which docker's --env-file cannot pass",
                           details: ["mount it as a file instead (run.volumes) and point the app at the path"])
        }
    }

    public func releases() async throws(OpsError) -> [DeployedRelease] {
        try await docker.containers(labels: identity.selector).compactMap { state in
            state.version.map { DeployedRelease(version: $0, container: state.name, running: state.running, status: state.status, created: state.created,
                                                slot: state.slot) }
        }
    }

    /// `docker run` for a release: its labels, `run:` settings, and on a slot that slot's port.
    func runArguments(_ target: ReleaseTarget, envFile: String?) -> [String] {
        var arguments = ["run", "--detach", "--name", name(target.ref)]
        for (key, value) in identity.labels(version: target.version, slot: target.slot?.name).sorted(by: { $0.key < $1.key }) {
            arguments += ["--label", "\(key)=\(value)"]
        }
        if let network = run.network { arguments += ["--network", network] }
        for port in run.ports { arguments += ["--publish", port] }
        if let envFile = run.envFile { arguments += ["--env-file", envFile] }
        // Values (secrets among them) go through a private file, never argv: argv shows in `ps` and logs.
        if let envFile { arguments += ["--env-file", envFile] }
        arguments += slotArguments(target.slot)
        for volume in run.volumes { arguments += ["--volume", volume] }
        return arguments + run.args + [imageReference(target.version)]
    }

    /// `--env PORT=3002` (host network) or `--publish 127.0.0.1:3002:3000` (bridge): after the env
    /// files, so the slot wins over a PORT the env file sets.
    func slotArguments(_ slot: ProxySlot?) -> [String] {
        guard let slot, let proxy else { return [] }
        var arguments: [String] = []
        if let containerPort = proxy.containerPort { arguments += ["--publish", "\(slot.address):\(containerPort)"] }
        if let variable = proxy.portEnv { arguments += ["--env", "\(variable)=\(proxy.containerPort ?? slot.port)"] }
        return arguments
    }

    public func startCommands(_ target: ReleaseTarget, fresh: Bool) async throws(OpsError) -> [DriverCommand] {
        let container = name(target.ref)
        if !fresh, let kept = try await docker.inspectContainer(container), kept.labels[ReleaseIdentity.versionLabel] == target.version, kept.slot == target.slot?.name {
            return [DriverCommand(ProcessRequest("docker", ["container", "start", "--", container]), failureCode: "docker.start")]
        }
        let envFile = try privateEnvFile()
        let runRequest = ProcessRequest("docker", runArguments(target, envFile: envFile?.path), timeout: .seconds(120))
        return [DriverCommand(ProcessRequest("docker", ["container", "rm", "--force", "--", container]), failureCode: nil),
                DriverCommand(runRequest, failureCode: "docker.run", privateFile: envFile)]
    }

    func privateEnvFile() throws(OpsError) -> DriverCommand.PrivateFile? {
        guard !run.env.isEmpty else { return nil }
        var text = ""
        for variable in run.env {
            let value = variable.resolvedValue
            guard !value.contains("\n") else {
                throw OpsError(.config, code: "config.env_newline", "run.env.\(variable.name): values passed to docker cannot contain a newline")
            }
            text += "\(variable.name)=\(value)\n"
        }
        let path = "\(scratchDirectory)/.opsctl-env-\(UUID().uuidString.prefix(12).lowercased())"
        return .init(path: path, contents: text, summary: "run.env, \(run.env.count) variable(s)")
    }

    public func stopCommands(_ release: ReleaseRef) -> [DriverCommand] {
        let seconds = max(0, run.stopTimeout.milliseconds / 1000)
        return [DriverCommand(ProcessRequest("docker", ["container", "stop", "--time", String(seconds), "--", name(release)],
                                             timeout: .seconds(seconds + 30)), failureCode: "docker.stop")]
    }

    public func fatalState(_ release: ReleaseRef) async -> String? {
        let container = name(release)
        guard let state = try? await docker.inspectContainer(container) else { return "container \(container) is gone" }
        if state.restartCount > 0 { return "container \(container) restarted \(state.restartCount) time(s) (exit code \(state.exitCode))" }
        if !state.running, ["exited", "dead"].contains(state.status) { return "container \(container) exited with code \(state.exitCode)" }
        return nil
    }

    public func logs(_ release: ReleaseRef, lines: Int) async -> String {
        await docker.logs(name(release), lines: lines)
    }

    public func prune(keep: Int, protecting: Set<ReleaseRef>) async throws(OpsError) -> [String] {
        let stopped = try await releases().filter { !$0.running }.sorted { $0.created > $1.created }
        // Protected releases always stay and count toward `keep`; the newest others fill the rest.
        var room = keep - stopped.filter { protecting.contains($0.ref) }.count
        var removed: [String] = []
        for release in stopped where !protecting.contains(release.ref) {
            if room > 0 { room -= 1; continue }
            try await docker.remove(release.container)
            removed.append(release.container)
        }
        return removed
    }
}
