// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `driver: compose`: the team's own compose files, driven by typed argv. A release is the
/// service's container with the image tag set through `compose.tag_variable`. Compose replaces
/// the container on `up`, so nothing is kept: a rollback runs the previous tag again.
public struct ComposeReleaseDriver: ReleaseDriver {
    /// `docker compose` (the v2 plugin) or `docker-compose` (v1).
    public let command: [String]
    public let settings: ComposeSettings
    public let project: ComposeProject
    public let identity: ReleaseIdentity
    public let stopTimeout: OpsDuration
    public let docker: DockerClient
    public let runner: any ProcessRunning

    public init(command: [String], settings: ComposeSettings, config: OpsConfig, environment: EnvironmentConfig, context: OpsContext) {
        self.command = command
        self.settings = settings
        project = ComposeProject(config: config, settings: settings)
        identity = ReleaseIdentity(config: config, environment: environment)
        stopTimeout = environment.run.stopTimeout
        docker = context.docker
        runner = context.runner
    }

    /// Prefers the v2 plugin, falls back to v1; exit 69 when neither answers.
    public static func detect(runner: any ProcessRunning) async throws(OpsError) -> [String] {
        if let v2 = try? await runner.run(ProcessRequest("docker", ["compose", "version"], timeout: .seconds(20))), v2.succeeded { return ["docker", "compose"] }
        if let v1 = try? await runner.run(ProcessRequest("docker-compose", ["version"], timeout: .seconds(20))), v1.succeeded { return ["docker-compose"] }
        throw OpsError(.unavailable, code: "compose.missing", "neither `docker compose` (v2 plugin) nor `docker-compose` (v1) is installed",
                       details: ["apt-get install docker-compose (v1), or the docker-compose-plugin package (v2)"])
    }

    func request(_ arguments: [String], version: String?, timeout: Duration = .seconds(300)) -> ProcessRequest {
        var base = Array(command.dropFirst())
        for file in project.files { base += ["--file", file] }
        base += ["--project-name", project.name]
        return ProcessRequest(command[0], base + arguments, workingDirectory: project.workingDirectory,
                              environment: version.map { [settings.tagVariable: $0] } ?? [:], timeout: timeout)
    }

    public var keepsStoppedReleases: Bool { false }

    /// `compose config` with the tag set: a broken file is refused (exit 78, compose's own
    /// message) before the live release is touched.
    public func validate(version: String) async throws(OpsError) {
        let result = try await runner.run(request(["config", "--quiet"], version: version, timeout: .seconds(60)))
        guard result.succeeded else {
            let message = result.standardErrorTail.split(separator: "\n").suffix(8).map(String.init)
            throw OpsError(.config, code: "compose.invalid", "the compose files do not load (\(project.files.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", "))): "
                           + (message.last ?? result.failureSummary), details: message)
        }
        let services = try await runner.run(request(["config", "--services"], version: version, timeout: .seconds(60)))
        guard services.standardOutput.split(separator: "\n").contains(Substring(settings.service)) else {
            throw OpsError(.config, code: "compose.no_service", "the compose files define no service \"\(settings.service)\" (compose.service)",
                           details: ["services: " + services.standardOutput.split(separator: "\n").joined(separator: ", ")])
        }
    }

    public func releases() async throws(OpsError) -> [DeployedRelease] {
        try await docker.containers(labels: identity.selector).map { state in
            DeployedRelease(version: state.version ?? "?", container: state.name, running: state.running, status: state.status, created: state.created)
        }
    }

    public func containerName(_ release: ReleaseRef) -> String? { nil }

    public func startCommands(_ target: ReleaseTarget, fresh: Bool) async throws(OpsError) -> [DriverCommand] {
        // The same tag again (--force, or a restore of what was stopped) still needs a new container.
        let running = try await releases().first
        let arguments = ["up", "--detach", "--no-deps"] + (running?.version == target.version ? ["--force-recreate"] : []) + [settings.service]
        return [DriverCommand(request(arguments, version: target.version), failureCode: "compose.up")]
    }

    public func stopCommands(_ release: ReleaseRef) -> [DriverCommand] {
        [DriverCommand(request(["stop", "--timeout", String(stopTimeout.milliseconds / 1000), settings.service], version: release.version),
                       failureCode: "compose.stop")]
    }

    public func fatalState(_ release: ReleaseRef) async -> String? {
        guard let state = try? await docker.containers(labels: identity.selector).first else { return "the \(settings.service) service has no container" }
        if state.restartCount > 0 { return "container \(state.name) restarted \(state.restartCount) time(s) (exit code \(state.exitCode))" }
        if !state.running, ["exited", "dead"].contains(state.status) { return "container \(state.name) exited with code \(state.exitCode)" }
        return nil
    }

    public func logs(_ release: ReleaseRef, lines: Int) async -> String {
        guard let state = try? await docker.containers(labels: identity.selector).first else { return "" }
        return await docker.logs(state.name, lines: lines)
    }

    public func prune(keep: Int, protecting: Set<ReleaseRef>) async throws(OpsError) -> [String] { [] }
}
