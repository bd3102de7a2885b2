import ArgumentParser
import OpsKit

struct NoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note",
        abstract: "Record a pending item for the next shift handoff.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.")
    var environment: String

    @Argument(help: "What the next shift should know or do.")
    var text: String

    func run() async throws {
        try await Output.run(global) { context throws(OpsError) in
            let (config, context) = try Output.load(global, context)
            return try NoteService.add(config: config, env: environment, text: text, context: context)
        }
    }
}
