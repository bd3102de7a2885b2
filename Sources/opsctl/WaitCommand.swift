// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until the environment's health check passes (health: in opsctl.yml); exit 1 if it does not in time.",
        usage: Usage.lines("opsctl wait <environment> [--timeout <duration>]"))

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    @Option(help: ArgumentHelp("Give up after this long (default: health.timeout).", valueName: "duration"))
    var timeout: OpsDuration?

    func run() async throws {
        try await Output.run(global, environment: self.environment) { context throws(OpsError) in
            let (config, _) = try Output.load(global, context)
            let environment = try config.environment(named: self.environment)
            guard let health = environment.health else {
                throw OpsError(.config, code: "config.missing", "\(config.sourcePath): environments.\(environment.name).health.url is not set")
            }
            return await HealthWaiter(settings: health).wait(timeout: timeout)
        }
    }
}
