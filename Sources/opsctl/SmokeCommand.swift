// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct SmokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smoke",
        abstract: "Run the environment's smoke checks concurrently over libcurl; exit 1 if any fails.",
        usage: Usage.lines("opsctl smoke [<environment>] [--url <url>] [--junit <file>]", "[--converge <duration>] [--interval <duration>]"),
        discussion: """
            `opsctl smoke production` runs the checks in smoke.checks; `opsctl smoke --url http://127.0.0.1:3000` \
            runs the runbook's three: health, login rejects a bad password, security headers.

            Timings are milliseconds from the start of each request, as curl's -w time_namelookup etc.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String?

    @Option(help: ArgumentHelp("Base URL: with an environment, replaces smoke.base_url; alone, runs the runbook's three checks.", valueName: "url"))
    var url: HTTPBaseURL?

    @Option(help: ArgumentHelp("Also write a JUnit XML report here.", valueName: "file"))
    var junit: String?

    @Option(help: ArgumentHelp("Retry failing checks until they pass or this budget is spent (as deploy does), instead of one try.", valueName: "duration"))
    var converge: OpsDuration?

    @Option(help: ArgumentHelp("Pause between converge rounds.", valueName: "duration"))
    var interval = OpsDuration(milliseconds: 500)

    func validate() throws {
        guard environment != nil || url != nil else { throw ValidationError("give an environment or --url BASE") }
    }

    func run() async throws {
        try await Output.run(global, environment: environment) { context throws(OpsError) in
            let mode: SmokeMode = converge.map { .converge(budget: $0, interval: interval) } ?? .strict
            if let environment { return try await run(environment, mode: mode, context: context) }
            guard let url else { throw OpsError(.usage, code: "usage.invalid", "give an environment or --url BASE") }
            return try await SmokeService.run(.runbookDefaults(baseURL: url.text), mode: mode, to: .init(junitPath: junit),
                                              redactor: Redactor(), context: context)
        }
    }

    /// An environment's checks; `--url` points them at another base URL.
    func run(_ name: String, mode: SmokeMode, context: OpsContext) async throws(OpsError) -> SmokeReport {
        let (config, environment, context) = try await Output.load(global, context, resolvingSecretsOf: name)
        var settings = environment.smoke ?? SmokeSettings()
        if let url = url?.text {
            settings.baseURL = url
            if settings.checks.isEmpty { settings.checks = SmokeSettings.runbookDefaults(baseURL: url).checks }
        }
        return try await SmokeService.run(settings, mode: mode,
                                          to: .init(env: environment.name, ledgerPath: config.state,
                                                    metricsDirectory: environment.metrics?.textfileDir, junitPath: junit),
                                          redactor: config.redactor, context: context)
    }
}
