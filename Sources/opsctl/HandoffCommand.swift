// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import Foundation
import OpsKit

struct HandoffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handoff",
        abstract: "The end-of-shift report from what really happened: verdict, health, deploys, backups, checks, errors, notes.",
        usage: Usage.lines("opsctl handoff <environment> [--since <duration>] [--from <time>]", "[--to <time>] [--format <format>] [--output <file>] [--post]", "[--by <name>]"),
        discussion: """
            Sources that cannot be read (docker down, database missing) are listed in the report; it always renders. \
            Exit 0, or 69 when --post could not deliver it (the report is still printed or written).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    @Option(help: ArgumentHelp("The window: this long back from now (default: handoff.since, else 8h).", valueName: "duration"))
    var since: OpsDuration?

    @Option(help: ArgumentHelp("Window start instead of --since (ISO 8601, e.g. 2026-11-21T22:00:00Z).", valueName: "time"))
    var from: ISOTime?

    @Option(help: ArgumentHelp("Window end (ISO 8601; default now).", valueName: "time"))
    var to: ISOTime?

    @Option(help: "The output: markdown, json, or html (one self-contained printable page).")
    var format: HandoffRenderer.Format = .markdown

    @Option(help: ArgumentHelp("Write the report here (atomically) instead of stdout.", valueName: "file"))
    var output: String?

    @Flag(help: "Send it to handoff.webhook (Slack-compatible {\"text\": ...}).")
    var post = false

    @Option(help: ArgumentHelp("The outgoing engineer (default: $OPSCTL_ACTOR, $USER, else the login name of this uid).", valueName: "name"))
    var by: String?

    func validate() throws {
        if since != nil, from != nil { throw ValidationError("give --since or --from, not both") }
    }

    func run() async throws {
        var options = global
        // --format json is the report itself: one JSON document, as --json.
        if format == .json { options.json = true }
        try await Output.run(options, environment: environment) { context throws(OpsError) in
            // The handoff always renders: a secret manager that is down becomes a listed source error.
            let (loaded, loadedContext) = try Output.load(global, context)
            let (config, environment, unresolved) = try await loaded.resolvingSecretsLeniently(of: self.environment, runner: loadedContext.runner)
            let context = Output.scrubbing(config, loadedContext)
            let end = to?.date ?? context.now()
            let start = from?.date ?? end.addingTimeInterval(-(since ?? environment.handoff.since).seconds)
            guard start < end else { throw OpsError(.usage, code: "handoff.window", "the window starts after it ends") }
            var request = HandoffService.Request(from: start, to: end, by: by ?? context.actor)
            request.format = format
            request.outputPath = output
            request.post = post
            var service = HandoffService(config: config, environment: environment, context: context)
            service.unresolvedSecrets = unresolved
            return try await service.run(request)
        }
    }
}
