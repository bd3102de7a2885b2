// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A release by name: its version and, behind a blue/green proxy, its slot.
public struct ReleaseRef: Sendable, Hashable, Codable, CustomStringConvertible {
    public var version: String
    public var slot: String?

    public init(version: String, slot: String? = nil) {
        self.version = version
        self.slot = slot
    }

    /// `1.0.1`, or `1.0.1 (green)`.
    public var description: String { version + (slot.map { " (\($0))" } ?? "") }
}

/// Where a release is to run: its version and, for blue/green, the slot (which decides its port).
public struct ReleaseTarget: Sendable, Equatable {
    public var version: String
    public var slot: ProxySlot?

    public init(version: String, slot: ProxySlot? = nil) {
        self.version = version
        self.slot = slot
    }

    public var ref: ReleaseRef { ReleaseRef(version: version, slot: slot?.name) }
}

/// One release as the runtime sees it.
public struct DeployedRelease: Sendable, Codable, Equatable {
    public var version: String
    public var container: String
    public var running: Bool
    public var status: String
    public var created: String
    public var slot: String? = nil

    public var ref: ReleaseRef { ReleaseRef(version: version, slot: slot) }
}

/// How a deploy changes what runs on one runtime (plain docker containers, a compose service).
/// Drivers hand back the exact commands they run, so `--dry-run` prints what a real run executes.
public protocol ReleaseDriver: Sendable {
    var runner: any ProcessRunning { get }
    /// Every release of this app and environment the runtime knows, running or kept.
    func releases() async throws(OpsError) -> [DeployedRelease]
    /// Whether a stopped release stays around for an instant rollback (compose replaces it).
    var keepsStoppedReleases: Bool { get }
    /// Whether the release image must be on the engine opsctl talks to (swarm: on the nodes).
    var needsLocalImage: Bool { get }
    /// Checks the runtime's own config for `version` before anything changes (a compose file).
    func validate(version: String) async throws(OpsError)
    /// The container a release runs in, for the ledger (nil when the runtime names it).
    func containerName(_ release: ReleaseRef) -> String?
    /// What starting `target` takes now: the kept container again, or (`fresh`, or none kept) a new one.
    func startCommands(_ target: ReleaseTarget, fresh: Bool) async throws(OpsError) -> [DriverCommand]
    /// What stopping a release takes; it stays, stopped, for a rollback.
    func stopCommands(_ release: ReleaseRef) -> [DriverCommand]
    /// Why the release can no longer become healthy (it exited or restarts), or nil.
    func fatalState(_ release: ReleaseRef) async -> String?
    /// Its last output lines.
    func logs(_ release: ReleaseRef, lines: Int) async -> String
    /// Removes kept releases beyond `keep`, newest kept first, never those in `protecting`.
    func prune(keep: Int, protecting: Set<ReleaseRef>) async throws(OpsError) -> [String]
}

extension ReleaseDriver {
    public var needsLocalImage: Bool { true }

    public func start(_ target: ReleaseTarget, fresh: Bool) async throws(OpsError) {
        try await DriverCommand.run(try await startCommands(target, fresh: fresh), runner: runner)
    }

    public func stop(_ release: ReleaseRef) async throws(OpsError) {
        try await DriverCommand.run(stopCommands(release), runner: runner)
    }
}

/// One command a driver runs, exactly as it runs it.
public struct DriverCommand: Sendable, Equatable {
    /// A file the command reads (docker's --env-file with secret values): written mode 600 just
    /// before the command runs and removed right after; its contents are never printed.
    public struct PrivateFile: Sendable, Equatable {
        public var path: String
        public var contents: String
        /// What it holds, for the dry run (`run.env: 3 variable(s)`).
        public var summary: String
    }

    public var request: ProcessRequest
    /// The error code when it fails; nil when a failure is harmless (removing what may not exist).
    public var failureCode: String?
    public var privateFile: PrivateFile?

    public init(_ request: ProcessRequest, failureCode: String?, privateFile: PrivateFile? = nil) {
        self.request = request
        self.failureCode = failureCode
        self.privateFile = privateFile
    }

    /// For the dry run and logs: environment overrides, the argv, and what the private file holds.
    public func display(redactor: Redactor) -> String {
        let environment = request.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value) " }.joined()
        let note = privateFile.map { "   # \($0.path): \($0.summary), mode 600, removed after the command" } ?? ""
        return redactor.scrub(environment + request.displayCommand) + note
    }

    /// Runs the commands in order; the first failure that matters stops them.
    public static func run(_ commands: [DriverCommand], runner: any ProcessRunning) async throws(OpsError) {
        for command in commands { try await command.run(runner: runner) }
    }

    public func run(runner: any ProcessRunning) async throws(OpsError) {
        if let privateFile { try Self.write(privateFile) }
        defer { if let privateFile { unlink(privateFile.path) } }
        let result = try await runner.run(request)
        guard let failureCode, !result.succeeded else { return }
        let daemonDown = DockerClient.isDaemonDown(result)
        throw OpsError(.unavailable, code: daemonDown ? "docker.unavailable" : failureCode, "\(request.displayCommand): \(result.failureSummary)",
                       details: result.standardErrorTail.split(separator: "\n").suffix(5).map(String.init))
    }

    static func write(_ file: PrivateFile) throws(OpsError) {
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw OpsError(.io, code: "deploy.env_file", "\(file.path): cannot create the env file: \(String(cString: strerror(errno)))")
        }
        let bytes = Array(file.contents.utf8)
        // No fsync: docker reads it at once through the page cache and it is gone right after.
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == bytes.count else {
            unlink(file.path)
            throw OpsError(.io, code: "deploy.env_file", "\(file.path): cannot write the env file")
        }
    }
}
