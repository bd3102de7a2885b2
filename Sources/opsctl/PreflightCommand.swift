// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct PreflightCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preflight",
        abstract: "The runbook's pre-deployment checklist: secrets, docker, storage, config, clock. Exit 1 if any check fails.",
        usage: Usage.lines("opsctl preflight <environment>"),
        discussion: "Secret values are checked, never printed. opsctl deploy runs the checks in preflight.fatal first.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    func run() async throws {
        try await Output.run(global, environment: environment) { context throws(OpsError) in
            // A checklist shows every problem at once: a failed secret command is a failed check.
            let (loaded, loadedContext) = try Output.load(global, context)
            let (config, environment, unresolved) = try await loaded.resolvingSecretsLeniently(of: self.environment, runner: loadedContext.runner)
            var service = PreflightService(config: config, environment: environment, context: Output.scrubbing(config, loadedContext))
            service.unresolvedSecrets = unresolved
            return await service.run()
        }
    }
}
