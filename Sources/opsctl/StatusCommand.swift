import ArgumentParser
import OpsKit

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "What runs now (asked of docker), and the last deploy, backup and verify (from the ledger).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    func run() async throws {
        try await Output.run(global) { context throws(OpsError) in
            let (config, context) = try Output.load(global, context)
            return try await StatusService.status(config: config, env: environment, context: context)
        }
    }
}
