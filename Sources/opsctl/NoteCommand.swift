// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct NoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note",
        abstract: "Record a pending item for the next shift handoff.",
        usage: Usage.lines("opsctl note <environment> [<text>] [--done <id>]"))

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    @Argument(help: "What the next shift should know or do.")
    var text: String?

    @Option(help: ArgumentHelp("Close pending note ID instead (it stops showing in handoffs).", valueName: "id"))
    var done: Int64?

    func validate() throws {
        guard (text == nil) != (done == nil) else { throw ValidationError("give the note's TEXT, or --done ID to close one") }
    }

    func run() async throws {
        try await Output.run(global, environment: environment) { context throws(OpsError) in
            let (config, context) = try Output.load(global, context)
            if let done { return try NoteService.close(config: config, env: environment, id: done, context: context) }
            return try NoteService.add(config: config, env: environment, text: text!, context: context)
        }
    }
}
