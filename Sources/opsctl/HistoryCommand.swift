// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Deploys and rollbacks of an environment, newest first.",
        usage: Usage.lines("opsctl history <environment> [--limit <limit>]"))

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    @Option(help: "How many to show.")
    var limit = 20

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        try await Output.run(global, environment: environment) { context throws(OpsError) in
            let (config, _) = try Output.load(global, context)
            return try HistoryReport.load(config: config, env: environment, limit: limit)
        }
    }
}
