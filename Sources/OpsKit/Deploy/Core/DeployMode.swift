// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

/// A runtime that can run a release on a proxy slot (its own port beside the live one): what
/// blue/green and canary need. Plain docker containers can; compose projects and swarm
/// services cannot, so they do not conform and cannot be put behind the proxy.
public protocol SlotReleaseDriver: ReleaseDriver {}

/// Which strategy runs on which runtime, settled once from the config and handed to every
/// command that deploys, rolls back, keeps a standby, or asks what runs. The combinations the
/// config refuses (blue/green on compose, canary on swarm, a proxy strategy without a proxy)
/// cannot be built.
public enum DeployMode: Sendable {
    case stopStart(any ReleaseDriver)
    case blueGreen(any SlotReleaseDriver, NginxProxy)
    case canary(any SlotReleaseDriver, NginxProxy, CanarySettings)
    /// Swarm rolls releases across its nodes itself: one way to deploy.
    case swarm(SwarmReleaseDriver)

    /// The mode of `environment` with the runtime its `driver:` names.
    public static func resolve(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext) async throws(OpsError) -> DeployMode {
        switch environment.driver {
        case .docker:
            return try slotted(DockerReleaseDriver(config: config, environment: environment, docker: context.docker),
                               config: config, environment: environment, context: context)
        case .compose:
            try requireStopStart(environment)
            guard let settings = environment.compose else {
                throw OpsError(.config, code: "config.missing", "\(config.sourcePath): environments.\(environment.name): driver compose needs a compose: section")
            }
            let command = try await ComposeReleaseDriver.detect(runner: context.runner)
            return .stopStart(ComposeReleaseDriver(command: command, settings: settings, config: config, environment: environment, context: context))
        case .swarm:
            try requireStopStart(environment)
            return .swarm(SwarmReleaseDriver(config: config, environment: environment, context: context))
        }
    }

    /// The mode of a runtime that runs slots: plain docker, or a test's fake.
    public static func slotted(_ driver: any SlotReleaseDriver, config: OpsConfig, environment: EnvironmentConfig,
                               context: OpsContext) throws(OpsError) -> DeployMode {
        switch environment.strategy {
        case .stopStart:
            return .stopStart(driver)
        case .blueGreen, .canary:
            guard let settings = environment.proxy else {
                throw OpsError(.config, code: "config.missing", "\(config.sourcePath): environments.\(environment.name): strategy \(environment.strategy.rawValue) needs a proxy: section")
            }
            let proxy = NginxProxy(settings: settings, runner: context.runner, redactor: config.redactor)
            return environment.strategy == .canary ? .canary(driver, proxy, environment.canary ?? CanarySettings()) : .blueGreen(driver, proxy)
        }
    }

    /// The config loader refuses these; an environment built in code must not get past either.
    static func requireStopStart(_ environment: EnvironmentConfig) throws(OpsError) {
        guard environment.strategy.needsProxy else { return }
        throw OpsError(.config, code: "config.invalid", "environments.\(environment.name): strategy \(environment.strategy.rawValue) runs two releases side by side on the docker driver; driver \(environment.driver.rawValue) cannot (use stop-start)")
    }

    /// What runs the releases.
    public var driver: any ReleaseDriver {
        switch self {
        case .stopStart(let driver): driver
        case .blueGreen(let driver, _), .canary(let driver, _, _): driver
        case .swarm(let driver): driver
        }
    }

    /// The proxy users reach the slots through; nil for the modes without one.
    public var proxy: NginxProxy? {
        switch self {
        case .blueGreen(_, let proxy), .canary(_, let proxy, _): proxy
        case .stopStart, .swarm: nil
        }
    }

    /// The slot runtime and its proxy, for what only blue/green and canary have (the standby).
    public var slots: (driver: any SlotReleaseDriver, proxy: NginxProxy)? {
        switch self {
        case .blueGreen(let driver, let proxy), .canary(let driver, let proxy, _): (driver, proxy)
        case .stopStart, .swarm: nil
        }
    }

    /// The strategy's one switch: how traffic moves from the live release to another.
    func releaseSwitch(_ deps: DeployDependencies) -> any ReleaseSwitch {
        switch self {
        case .stopStart: StopStartSwitch(deps: deps)
        case .swarm(let driver): SwarmSwitch(deps: deps, driver: driver)
        case .blueGreen(_, let proxy): BlueGreenSwitch(deps: deps, proxy: proxy.reading(deps.activity))
        case .canary(_, let proxy, let settings): CanarySwitch(blueGreen: BlueGreenSwitch(deps: deps, proxy: proxy.reading(deps.activity)), settings: settings)
        }
    }
}
