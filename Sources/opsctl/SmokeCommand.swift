import ArgumentParser
import OpsKit

struct SmokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smoke",
        abstract: "Run the environment's smoke checks concurrently over libcurl; exit 1 if any fails.",
        discussion: """
            opsctl smoke production            the checks in smoke.checks
            opsctl smoke --url http://127.0.0.1:3000
                                               the runbook's three: health, login rejects a bad password, security headers
            Timings are milliseconds from the start of each request, as curl's -w time_namelookup etc.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String?

    @Option(help: ArgumentHelp("Base URL: with an environment, replaces smoke.base_url; alone, runs the runbook's three checks.", valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp("Also write a JUnit XML report here.", valueName: "file"))
    var junit: String?

    @Option(help: ArgumentHelp("Retry failing checks until they pass or this budget is spent (as deploy does), instead of one try.", valueName: "duration"))
    var converge: String?

    @Option(help: ArgumentHelp("Pause between converge rounds.", valueName: "duration"))
    var interval: String = "500ms"

    func validate() throws {
        guard environment != nil || url != nil else { throw ValidationError("give an environment or --url BASE") }
        if let url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) { throw ValidationError("--url \"\(url)\" is not an http(s) URL") }
        if let converge, OpsDuration(parsing: converge) == nil { throw ValidationError("--converge \"\(converge)\" is not a duration (e.g. 30s)") }
        if OpsDuration(parsing: interval) == nil { throw ValidationError("--interval \"\(interval)\" is not a duration (e.g. 500ms)") }
    }

    func run() async throws {
        try await Output.run(global) { context throws(OpsError) in
            let mode: SmokeMode = converge.flatMap(OpsDuration.init(parsing:)).map {
                .converge(budget: $0, interval: OpsDuration(parsing: interval)!)
            } ?? .strict
            guard let name = environment else {
                return try await SmokeService.run(.runbookDefaults(baseURL: url!), mode: mode, to: .init(junitPath: junit),
                                                  redactor: Redactor(), context: context)
            }
            let (config, context) = try Output.load(global, context)
            let environment = try config.environment(named: name)
            var settings = environment.smoke ?? SmokeSettings()
            if let url {
                settings.baseURL = url
                if settings.checks.isEmpty { settings.checks = SmokeSettings.runbookDefaults(baseURL: url).checks }
            }
            return try await SmokeService.run(settings, mode: mode,
                                              to: .init(env: environment.name, ledgerPath: config.state,
                                                        metricsDirectory: environment.metrics?.textfileDir, junitPath: junit),
                                              redactor: config.redactor, context: context)
        }
    }
}
