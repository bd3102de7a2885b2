// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// The one place that turns an environment's `driver:` into the driver that runs its releases,
/// for every command that needs to know what runs (deploy, rollback, restore, status, preflight).
public enum ReleaseDrivers {
    public static func make(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext) async throws(OpsError) -> any ReleaseDriver {
        switch environment.driver {
        case .docker:
            return DockerReleaseDriver(config: config, environment: environment, docker: context.docker)
        case .compose:
            let command = try await ComposeReleaseDriver.detect(runner: context.runner)
            return ComposeReleaseDriver(command: command, config: config, environment: environment, context: context)
        case .swarm:
            return SwarmReleaseDriver(config: config, environment: environment, context: context)
        }
    }
}
