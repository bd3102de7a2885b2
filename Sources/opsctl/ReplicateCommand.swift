// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct ReplicateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicate",
        abstract: "Replicate the database continuously (backup.replica): what changed every sync_interval, for restore --at.",
        usage: Usage.lines("opsctl replicate <environment> [--once]"),
        discussion: """
            Runs in the foreground until SIGTERM or SIGINT (exit 0), logging to stderr; run it under systemd \
            (opsctl init writes opsctl-replicate@.service). --once does one round, ships what is pending off-site, and exits.

            One replicate per replica: a second one exits 5 naming the first. A full replica disk exits 74; the database is only ever read.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    @Flag(help: "One round, then exit.")
    var once = false

    @Option(help: .hidden)
    var trace: String?

    func run() async throws {
        try await Output.run(global, environment: environment) { context throws(OpsError) in
            let (config, environment, context) = try await Output.load(global, context, resolvingOffsiteKeyOf: self.environment)
            let settings = try config.replicaSettings(of: environment)
            var request = ReplicateService.Request(env: environment.name, databasePath: try config.databasePath(of: environment), settings: settings)
            request.encryption = environment.backup?.encryption
            request.offsite = settings.offsite ? try config.offsiteSettings(of: environment) : nil
            request.metricsDirectory = environment.metrics?.textfileDir
            request.once = once
            request.traceFile = trace
            let interruption = Interruption()
            if !once { interruption.install("stopping after the current round") }
            return try await ReplicateService.run(request, context: context, interruption: interruption)
        }
    }
}
