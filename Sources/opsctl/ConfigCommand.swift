// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with opsctl.yml.",
        subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate opsctl.yml and print the resolved config, secrets redacted.",
            usage: Usage.lines("opsctl config check [<environment>]"))

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Show only this environment.", completion: .environments)
        var environment: String?

        func run() async throws {
            try await Output.run(global, environment: environment) { context throws(OpsError) in
                let (config, _) = try Output.load(global, context)
                return try ConfigCheckReport(config: config, only: environment)
            }
        }
    }
}
