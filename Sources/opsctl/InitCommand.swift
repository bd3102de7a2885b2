// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Scaffold a commented opsctl.yml, cron and systemd timers, alert rules, a Grafana dashboard and a CI workflow.",
        usage: Usage.lines("opsctl init [--dir <dir>] [--force]"))

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Where to write (created if missing).", valueName: "dir"))
    var dir = "."

    @Flag(help: "Overwrite files that already exist.")
    var force = false

    func run() async throws {
        try await Output.run(global, environment: nil) { _ throws(OpsError) in
            try InitService.scaffold(directory: dir, force: force)
        }
    }
}
