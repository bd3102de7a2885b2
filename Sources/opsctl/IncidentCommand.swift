// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

extension IncidentSeverity: ExpressibleByArgument {}
extension Postmortem.Format: ExpressibleByArgument {}

struct IncidentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incident",
        abstract: "Open an incident (notice, diagnostic bundle), keep its timeline, close it, draft the postmortem.",
        discussion: """
            While an incident is open, every opsctl command on its environment goes on its timeline. \
            Exit 8 when no incident is open (note, bundle, close) or the id is unknown; 64 for an unknown severity.
            """,
        subcommands: [Open.self, Note.self, Bundle.self, Close.self, List.self, Show.self])

    /// Loads the config with the environment's secrets, leniently: an incident is opened even
    /// when a secret manager is down (the bundle then withholds what it cannot scrub).
    static func service(_ global: GlobalOptions, _ name: String, _ context: OpsContext) async throws(OpsError) -> IncidentService {
        let (loaded, loadedContext) = try Output.load(global, context)
        let (config, environment, unresolved) = try await loaded.resolvingSecretsLeniently(of: name, runner: loadedContext.runner)
        var service = IncidentService(config: config, environment: environment, context: Output.scrubbing(config, loadedContext))
        service.unresolvedSecrets = unresolved
        for failure in unresolved { loadedContext.logger.warning("\(failure.message)") }
        return service
    }

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record an incident, notify handoff.webhook, and write a diagnostic bundle at once.",
            usage: Usage.lines("opsctl incident open <environment> <title> [--severity <severity>]"),
            discussion: "Exit 0, or 74 when the bundle could not be written (the incident is open all the same).")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The environment, e.g. production.", completion: .environments)
        var environment: String

        @Argument(help: "What is wrong, in a line.")
        var title: String

        @Option(help: "critical, major or minor.")
        var severity: IncidentSeverity = .major

        func run() async throws {
            try await Output.run(global, environment: nil) { context throws(OpsError) in
                try await IncidentCommand.service(global, environment, context).open(title: title, severity: severity)
            }
        }
    }

    struct Note: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a line to the open incident's timeline.",
            usage: Usage.lines("opsctl incident note <environment> <text>"))

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The environment, e.g. production.", completion: .environments)
        var environment: String

        @Argument(help: "What you see or do.")
        var text: String

        func run() async throws {
            try await Output.run(global, environment: nil) { context throws(OpsError) in
                try await IncidentCommand.service(global, environment, context).note(text)
            }
        }
    }

    struct Bundle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write another diagnostic bundle for the open incident (after a restart, say).",
            usage: Usage.lines("opsctl incident bundle <environment>"))

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The environment, e.g. production.", completion: .environments)
        var environment: String

        func run() async throws {
            try await Output.run(global, environment: nil) { context throws(OpsError) in
                try await IncidentCommand.service(global, environment, context).bundle()
            }
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close an incident (default: the newest open one) and notify handoff.webhook.",
            usage: Usage.lines("opsctl incident close <environment> [<id>] --summary <text>"))

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The environment, e.g. production.", completion: .environments)
        var environment: String

        @Argument(help: "The incident (see opsctl incident list).")
        var id: Int64?

        @Option(help: ArgumentHelp("What happened and what put it right, in a line.", valueName: "text"))
        var summary: String

        func run() async throws {
            try await Output.run(global, environment: nil) { context throws(OpsError) in
                try await IncidentCommand.service(global, environment, context).close(id: id, summary: summary)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The environment's incidents, newest first.",
            usage: Usage.lines("opsctl incident list <environment>"))

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The environment, e.g. production.", completion: .environments)
        var environment: String

        func run() async throws {
            try await Output.run(global, environment: nil) { context throws(OpsError) in
                let (config, environment, context) = try Output.load(global, context, environment: self.environment)
                return try IncidentService(config: config, environment: environment, context: context).list()
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The postmortem draft: facts, time to mitigate, and one timeline of notes and ledger events.",
            usage: Usage.lines("opsctl incident show <environment> <id> [--format <format>]"))

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The environment, e.g. production.", completion: .environments)
        var environment: String

        @Argument(help: "The incident (see opsctl incident list).")
        var id: Int64

        @Option(help: "markdown, or json (the report itself, as --json).")
        var format: Postmortem.Format = .markdown

        func run() async throws {
            var options = global
            if format == .json { options.json = true }
            try await Output.run(options, environment: nil) { context throws(OpsError) in
                let (config, environment, context) = try Output.load(global, context, environment: self.environment)
                return try IncidentService(config: config, environment: environment, context: context).show(id: id)
            }
        }
    }
}
