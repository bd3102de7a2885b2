// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A task's state as swarmkit reports it (`docker inspect --type task`: Status.State, DesiredState).
public enum SwarmTaskState: String, Sendable, Codable, CaseIterable {
    case new, allocated, pending, assigned, accepted, preparing, ready, starting, running
    case complete, shutdown, failed, rejected, remove, orphaned
    /// A state this build does not know (a newer engine).
    case unknown

    public init(from decoder: any Decoder) throws {
        self = SwarmTaskState(rawValue: try decoder.singleValueContainer().decode(String.self)) ?? .unknown
    }

    /// The task ended: it never runs again.
    public var isFinished: Bool { [.complete, .shutdown, .failed, .rejected, .remove, .orphaned].contains(self) }
    /// It ended by itself (exited, crashed, failed its health check, could not start); not stopped on purpose.
    public var endedBadly: Bool { [.complete, .failed, .rejected].contains(self) }
    /// On its way to running (scheduled, pulling, starting, waiting for its health check).
    public var isStarting: Bool { !isFinished && self != .running }
}

/// `UpdateStatus.State` of a service: what Swarm made of the last update.
public enum SwarmUpdateState: String, Sendable, Codable, CaseIterable {
    case updating, paused, completed
    case rollbackStarted = "rollback_started"
    case rollbackPaused = "rollback_paused"
    case rollbackCompleted = "rollback_completed"
    case unknown

    public init(from decoder: any Decoder) throws {
        self = SwarmUpdateState(rawValue: try decoder.singleValueContainer().decode(String.self)) ?? .unknown
    }

    public var inProgress: Bool { self == .updating || self == .rollbackStarted }
}

public struct SwarmUpdateStatus: Sendable, Codable, Equatable {
    public var state: SwarmUpdateState
    public var startedAt: Date?
    public var completedAt: Date?
    public var message: String?
}

/// A secret attached to a service: the Docker secret and the file name under /run/secrets.
public struct SwarmSecretReference: Sendable, Codable, Hashable {
    public var name: String
    public var target: String
}

public struct SwarmMount: Sendable, Codable, Hashable {
    public var type: String
    public var source: String
    public var target: String
    public var readOnly: Bool
}

public struct SwarmPort: Sendable, Codable, Hashable {
    public var target: Int
    public var published: Int?
    public var proto: String
    public var mode: String
}

/// What `docker service inspect` says about a service, the parts opsctl reads.
public struct SwarmService: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var createdAt: Date?
    public var updatedAt: Date?
    public var image: String
    public var labels: [String: String]
    public var containerLabels: [String: String]
    public var env: [String]
    public var secrets: [SwarmSecretReference]
    /// The spec `docker service rollback` returns to, if any.
    public var previous: PreviousSpec?
    public var mounts: [SwarmMount]
    public var constraints: [String]
    public var ports: [SwarmPort]
    /// nil in global mode.
    public var replicas: Int?
    /// The task template's `--force` counter: each `--force` bumps it.
    public var forceUpdate: UInt64?
    /// The health check the spec sets (`CMD-SHELL …`, or `NONE`); nil: the image's own.
    public var healthCheck: [String]?
    public var updateStatus: SwarmUpdateStatus?

    public struct PreviousSpec: Sendable, Codable, Equatable {
        public var image: String
        public var version: String?
        public var secrets: [SwarmSecretReference]
    }

    public var isGlobal: Bool { replicas == nil }
    /// The release the spec asks for: opsctl's container label, else the image tag.
    public var version: String? { containerLabels[SwarmNames.versionLabel] ?? SwarmNames.tag(of: image) }
}

public struct SwarmTask: Sendable, Codable, Equatable {
    public var id: String
    public var slot: Int?
    public var nodeID: String?
    public var createdAt: Date?
    public var updatedAt: Date?
    public var state: SwarmTaskState
    public var desiredState: SwarmTaskState
    public var message: String?
    public var error: String?
    public var exitCode: Int?
    public var image: String
    public var version: String?
    /// The service's `--force` counter when Swarm made the task.
    public var forceUpdate: UInt64?

    /// `web.2` (replicated) or `web.<node id>` (global), as `docker service ps` names tasks.
    public func name(service: String) -> String { "\(service).\(slot.map(String.init) ?? nodeID ?? id)" }

    /// What happened, in the words swarmkit used: `failed (task: non-zero exit (1))`.
    public var stateText: String {
        let informative = message.flatMap { [state.rawValue, "started", "finished", "starting"].contains($0) ? nil : $0 }
        let why = error.flatMap { $0.isEmpty ? nil : $0 } ?? informative
        return state.rawValue + (why.map { " (\($0))" } ?? "") + (state == .complete ? ", exit \(exitCode ?? 0)" : "")
    }
}

public struct SwarmNode: Sendable, Codable, Equatable {
    public enum Availability: String, Sendable, Codable { case active, pause, drain, unknown }
    public enum State: String, Sendable, Codable { case ready, down, disconnected, unknown }

    public var id: String
    public var hostname: String
    public enum Role: String, Sendable, Codable { case manager, worker }

    public var role: Role
    public var availability: Availability
    public var state: State
    public var address: String?
    public var leader: Bool
    public var engineVersion: String?

    /// Ready and accepting tasks.
    public var isUsable: Bool { state == .ready && availability == .active }

    /// `node3 (10.0.0.4) down` or `node2 drain`.
    public var problem: String? {
        guard !isUsable else { return nil }
        let what = [state == .ready ? nil : state.rawValue, availability == .active ? nil : availability.rawValue].compactMap { $0 }.joined(separator: ", ")
        return "\(hostname)" + (address.map { " (\($0))" } ?? "") + " is \(what)"
    }
}

/// A Docker secret opsctl made.
public struct SwarmSecret: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var labels: [String: String]
    public var createdAt: Date?
}

/// The engine `DOCKER_HOST` points at, as a swarm member.
public struct SwarmMembership: Sendable, Equatable {
    /// `docker info`'s Swarm.LocalNodeState.
    public enum State: String, Sendable {
        case inactive, pending, active, error, locked
        /// A state this build does not know (a newer engine).
        case unknown
    }

    public var state: State
    /// As docker said it, for messages (a state this build does not know included).
    public var stateName: String
    public var isManager: Bool
    public var nodeID: String?
    public var error: String?
}

/// Names and labels the swarm driver puts on what it creates.
public enum SwarmNames {
    public static let versionLabel = ReleaseIdentity.versionLabel
    public static let secretKeyLabel = "opsctl.secret"

    /// The tag of `repo:tag` (not a registry port: `host:5000/repo` has no tag).
    static func tag(of image: String) -> String? {
        let withoutDigest = image.split(separator: "@").first.map(String.init) ?? image
        guard let colon = withoutDigest.lastIndex(of: ":"), !withoutDigest[colon...].contains("/") else { return nil }
        return String(withoutDigest[withoutDigest.index(after: colon)...])
    }
}

/// Swarm's timestamps: RFC 3339 with up to nine fractional digits, which ISO8601DateFormatter cannot read.
enum SwarmTime {
    static func parse(_ text: String?) -> Date? {
        guard let text, text.hasSuffix("Z") else { return nil }
        let body = text.dropLast()
        let parts = body.split(separator: ".", maxSplits: 1)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        // Go's zero time (0001-01-01) means "never".
        guard let whole = formatter.date(from: parts[0] + "Z"), whole.timeIntervalSince1970 > 0 else { return nil }
        guard parts.count == 2, let fraction = Double("0." + parts[1]) else { return whole }
        return whole.addingTimeInterval(fraction)
    }
}
