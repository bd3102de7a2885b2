// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import Foundation
import OpsKit

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "What runs now (asked of docker), and the last deploy, backup and verify (from the ledger).",
        usage: Usage.lines("opsctl status <environment>"),
        discussion: "On a terminal it also draws the last 24 h as lanes (releases, backups, verify, smoke, notes), one line each.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    func run() async throws {
        try await Output.run(global, environment: environment) { context throws(OpsError) in
            let (config, context) = try Output.load(global, context)
            let status = try await StatusService.status(config: config, env: environment, context: context)
            // The lanes are for a person at a terminal: never in --json, never in a pipe or a log.
            guard !global.json, isatty(STDOUT_FILENO) == 1 else { return status }
            let colour = context.environment["NO_COLOR"] == nil && context.environment["TERM"] != "dumb"
            let lanes = try StatusLanes.load(config: config, env: environment, now: status.generatedAt, colour: colour, context: context)
            return TerminalStatusReport(status: status, lanes: lanes)
        }
    }
}
