import ArgumentParser
import Foundation
import OpsKit

struct HandoffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handoff",
        abstract: "The end-of-shift report from what really happened: verdict, health, deploys, backups, checks, errors, notes.",
        discussion: """
            Sources that cannot be read (docker down, database missing) are listed in the report; it always renders.
            Exit 0, or 69 when --post could not deliver it (the report is still printed or written).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    @Option(help: ArgumentHelp("The window: this long back from now (default: handoff.since, else 8h).", valueName: "duration"))
    var since: String?

    @Option(help: ArgumentHelp("Window start instead of --since (ISO 8601, e.g. 2026-11-21T22:00:00Z).", valueName: "time"))
    var from: String?

    @Option(help: ArgumentHelp("Window end (ISO 8601; default now).", valueName: "time"))
    var to: String?

    @Option(help: "markdown, json or html (one self-contained printable page).")
    var format: String = "markdown"

    @Option(help: ArgumentHelp("Write the report here (atomically) instead of stdout.", valueName: "file"))
    var output: String?

    @Flag(help: "Send it to handoff.webhook (Slack-compatible {\"text\": ...}).")
    var post = false

    @Option(help: ArgumentHelp("The outgoing engineer (default $USER).", valueName: "name"))
    var by: String?

    static func parseTime(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    func validate() throws {
        guard HandoffRenderer.Format(rawValue: format) != nil else { throw ValidationError("--format must be markdown, json or html") }
        if let since, OpsDuration(parsing: since) == nil { throw ValidationError("--since \"\(since)\" is not a duration (e.g. 8h)") }
        if since != nil, from != nil { throw ValidationError("give --since or --from, not both") }
        for (flag, value) in [("--from", from), ("--to", to)] {
            if let value, Self.parseTime(value) == nil { throw ValidationError("\(flag) \"\(value)\" is not an ISO 8601 time (e.g. 2026-11-21T22:00:00Z)") }
        }
    }

    func run() async throws {
        var options = global
        // --format json is the report itself: one JSON document, as --json.
        if format == "json" { options.json = true }
        try await Output.run(options) { context throws(OpsError) in
            let (config, context) = try Output.load(global, context)
            let environment = try config.environment(named: self.environment)
            let end = to.flatMap(Self.parseTime) ?? context.now()
            let window = since.flatMap(OpsDuration.init(parsing:)) ?? environment.handoff.since
            let start = from.flatMap(Self.parseTime) ?? end.addingTimeInterval(-window.seconds)
            guard start < end else { throw OpsError(.usage, code: "handoff.window", "the window starts after it ends") }
            var request = HandoffService.Request(from: start, to: end, by: by ?? context.environment["USER"] ?? context.actor)
            request.format = HandoffRenderer.Format(rawValue: format)!
            request.outputPath = output
            request.post = post
            return try await HandoffService(config: config, environment: environment, context: context).run(request)
        }
    }
}
