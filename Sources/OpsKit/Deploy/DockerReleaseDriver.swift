import Foundation

/// One release as the runtime sees it.
public struct DeployedRelease: Sendable, Codable, Equatable {
    public var version: String
    public var container: String
    public var running: Bool
    public var status: String
    public var created: String
}

/// How a deploy changes what runs on one runtime (plain docker containers, a compose service).
public protocol ReleaseDriver: Sendable {
    /// Every release of this app and environment the runtime knows, running or kept.
    func releases() async throws(OpsError) -> [DeployedRelease]
    /// Whether a stopped release stays around for an instant rollback (compose replaces it).
    var keepsStoppedReleases: Bool { get }
    /// Checks the runtime's own config for `version` before anything changes (a compose file).
    func validate(version: String) async throws(OpsError)
    /// The exact commands `launch(version:fresh:)` would run, for `--dry-run`.
    func launchPlan(version: String) -> [ProcessRequest]
    /// The exact commands `stop(version:)` would run, for `--dry-run`.
    func stopPlan(version: String) -> [ProcessRequest]
    /// Starts `version`: a fresh container (`fresh`), else the kept one when there is one.
    func launch(version: String, fresh: Bool) async throws(OpsError)
    /// Stops a release, keeping it for an instant rollback.
    func stop(version: String) async throws(OpsError)
    /// Why the release can no longer become healthy (it exited or restarts), or nil.
    func fatalState(version: String) async -> String?
    /// Its last output lines.
    func logs(version: String, lines: Int) async -> String
    /// Removes kept releases beyond `keep`, newest kept first, never those in `protecting`.
    func prune(keep: Int, protecting: Set<String>) async throws(OpsError) -> [String]
}

/// Containers named `<app>-<env>-<version>`, labelled `opsctl.app/env/version`, run from `run:`.
public struct DockerReleaseDriver: ReleaseDriver {
    public let identity: ReleaseIdentity
    public let run: RunSettings
    public let docker: DockerClient
    /// Where the per-launch env file (run.env, secrets included) is written, mode 600, then removed.
    public let scratchDirectory: String

    public init(config: OpsConfig, environment: EnvironmentConfig, docker: DockerClient) {
        identity = ReleaseIdentity(config: config, environment: environment)
        run = environment.run
        self.docker = docker
        scratchDirectory = URL(fileURLWithPath: config.state).deletingLastPathComponent().path
    }

    public func containerName(_ version: String) -> String { identity.containerName(version) }

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
            state.version.map { DeployedRelease(version: $0, container: state.name, running: state.running, status: state.status, created: state.created) }
        }
    }

    func runArguments(_ version: String, generatedEnvFile: String?) -> [String] {
        var arguments = ["run", "--detach", "--name", containerName(version)]
        for (key, value) in identity.labels(version: version).sorted(by: { $0.key < $1.key }) { arguments += ["--label", "\(key)=\(value)"] }
        if let network = run.network { arguments += ["--network", network] }
        for port in run.ports { arguments += ["--publish", port] }
        if let envFile = run.envFile { arguments += ["--env-file", envFile] }
        // Values (secrets among them) go through a private file, never argv: argv shows in `ps` and logs.
        if let generatedEnvFile { arguments += ["--env-file", generatedEnvFile] }
        for volume in run.volumes { arguments += ["--volume", volume] }
        return arguments + run.args + [imageReference(version)]
    }

    public func launchPlan(version: String) -> [ProcessRequest] {
        let envFile = run.env.isEmpty ? nil : "\(scratchDirectory)/.opsctl-env-XXXXXX (run.env: \(run.env.count) variable(s), mode 600, removed after start)"
        return [ProcessRequest("docker", ["container", "rm", "--force", "--", containerName(version)]),
                ProcessRequest("docker", runArguments(version, generatedEnvFile: envFile))]
    }

    public func launch(version: String, fresh: Bool) async throws(OpsError) {
        let name = containerName(version)
        if !fresh, let kept = try await docker.inspectContainer(name), kept.labels["opsctl.version"] == version {
            try await docker.start(name)
            return
        }
        try await docker.remove(name)
        let envFile = try writeEnvFile()
        defer { if let envFile { unlink(envFile) } }
        try await docker.checked(runArguments(version, generatedEnvFile: envFile), code: "docker.run", timeout: .seconds(120))
    }

    func writeEnvFile() throws(OpsError) -> String? {
        guard !run.env.isEmpty else { return nil }
        var text = ""
        for variable in run.env {
            let value = variable.resolvedValue
            guard !value.contains("\n") else {
                throw OpsError(.config, code: "config.env_newline", "run.env.\(variable.name): values passed to docker cannot contain a newline")
            }
            text += "\(variable.name)=\(value)\n"
        }
        var template = Array("\(scratchDirectory)/.opsctl-env-XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)   // mode 600
        guard descriptor >= 0 else {
            throw OpsError(.io, code: "deploy.env_file", "\(scratchDirectory): cannot create the env file: \(String(cString: strerror(errno)))")
        }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == bytes.count else {
            unlink(path)
            throw OpsError(.io, code: "deploy.env_file", "\(path): cannot write the env file")
        }
        return path
    }

    public func stopPlan(version: String) -> [ProcessRequest] {
        [ProcessRequest("docker", ["container", "stop", "--time", String(run.stopTimeout.milliseconds / 1000), "--", containerName(version)])]
    }

    public func stop(version: String) async throws(OpsError) {
        try await docker.stop(containerName(version), grace: run.stopTimeout)
    }

    public func fatalState(version: String) async -> String? {
        let name = containerName(version)
        guard let state = try? await docker.inspectContainer(name) else { return "container \(name) is gone" }
        if state.restartCount > 0 { return "container \(name) restarted \(state.restartCount) time(s) (exit code \(state.exitCode))" }
        if !state.running, ["exited", "dead"].contains(state.status) { return "container \(name) exited with code \(state.exitCode)" }
        return nil
    }

    public func logs(version: String, lines: Int) async -> String {
        await docker.logs(containerName(version), lines: lines)
    }

    public func prune(keep: Int, protecting: Set<String>) async throws(OpsError) -> [String] {
        let stopped = try await releases().filter { !$0.running }.sorted { $0.created > $1.created }
        // Protected releases always stay and count toward `keep`; the newest others fill the rest.
        var room = keep - stopped.filter { protecting.contains($0.version) }.count
        var removed: [String] = []
        for release in stopped where !protecting.contains(release.version) {
            if room > 0 { room -= 1; continue }
            try await docker.remove(release.container)
            removed.append(release.container)
        }
        return removed
    }
}
