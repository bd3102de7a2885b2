// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// How one environment's releases are named and found on the runtime: container names, the
/// labels that select them, and image references. Deploy, restore, preflight, status and the
/// handoff all ask this one value, so they can never disagree about which containers are the app.
public struct ReleaseIdentity: Sendable, Equatable {
    public let app: String
    public let env: String
    public let image: String
    /// The labels every container of this environment carries: opsctl's own for the docker
    /// driver, compose's project and service for the compose driver.
    public let selector: [String: String]

    public init(config: OpsConfig, environment: EnvironmentConfig) {
        app = config.app
        env = environment.name
        image = config.image
        if environment.driver == .compose, let compose = environment.compose {
            let project = ComposeProject(config: config, settings: compose)
            selector = ["com.docker.compose.project": project.name, "com.docker.compose.service": compose.service]
        } else {
            selector = [Self.appLabel: config.app, Self.envLabel: environment.name]
        }
    }

    /// Docker names allow `[a-zA-Z0-9][a-zA-Z0-9_.-]`: semver's `+build` becomes `_build`. A
    /// release on a blue/green slot carries the slot too, so one version can run on both slots
    /// (a forced redeploy of the live release).
    public func containerName(_ version: String, slot: String? = nil) -> String {
        "\(app)-\(env)-\(Self.tagSafe(version))" + (slot.map { "-\($0)" } ?? "")
    }

    public func imageReference(_ version: String) -> String { "\(image):\(Self.tagSafe(version))" }

    /// What opsctl puts on a container it starts: the selector plus the release (and its slot).
    public func labels(version: String, slot: String? = nil) -> [String: String] {
        var labels = selector.merging([Self.versionLabel: version]) { $1 }
        if let slot { labels[Self.slotLabel] = slot }
        return labels
    }

    public static let appLabel = "opsctl.app"
    public static let envLabel = "opsctl.env"
    /// The release a container (or a swarm task) runs; its image tag can differ (`+build`).
    public static let versionLabel = "opsctl.version"
    public static let slotLabel = "opsctl.slot"

    static func tagSafe(_ version: String) -> String { version.replacingOccurrences(of: "+", with: "_") }
}

/// The compose files and project name of a `driver: compose` environment, as compose itself
/// computes them (so opsctl takes over the containers a team already runs).
public struct ComposeProject: Sendable, Equatable {
    public let name: String
    public let files: [String]
    public let workingDirectory: String

    public init(config: OpsConfig, settings: ComposeSettings) {
        let directory = URL(fileURLWithPath: config.sourcePath).deletingLastPathComponent().path
        workingDirectory = directory
        files = settings.files.map { $0.hasPrefix("/") ? $0 : URL(fileURLWithPath: $0, relativeTo: URL(fileURLWithPath: directory + "/")).standardizedFileURL.path }
        name = settings.project ?? Self.defaultName(directory: files.first.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path } ?? directory)
    }

    /// The directory name, lowercased, without other characters, as compose derives it.
    static func defaultName(directory: String) -> String {
        URL(fileURLWithPath: directory).lastPathComponent.lowercased().filter { $0.isLetter && $0.isASCII || $0.isNumber || $0 == "-" || $0 == "_" }
    }
}
