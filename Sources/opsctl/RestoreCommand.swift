import ArgumentParser
import OpsKit

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup: verify it, keep a safety copy of the current database, swap atomically.",
        usage: Usage.lines("opsctl restore <environment> [<backup>] [--to <path>] [--force]"),
        discussion: """
            Default: the newest verified backup. Refuses while the app's container runs unless --force. \
            --to PATH restores elsewhere (a drill) and never touches the live database.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    @Argument(help: "A backup file (name in the backup directory, or a path). Default: the newest verified one.")
    var backup: String?

    @Option(help: ArgumentHelp("Restore to this path instead of the live database (a restore drill).", valueName: "path"))
    var to: String?

    @Flag(help: "Restore even though the app runs (or --to PATH exists).")
    var force = false

    func run() async throws {
        try await Output.run(global) { context throws(OpsError) in
            let (config, context) = try Output.load(global, context)
            let environment = try config.environment(named: self.environment)
            let target = config.backupTarget(of: environment)
            // A drill or --force never asks the runtime, so a missing compose binary cannot block them.
            let asksRuntime = to == nil && !force
            let runtime = asksRuntime ? try await ReleaseDrivers.make(config: config, environment: environment, context: context) : nil
            let request = RestoreService.Request(
                env: environment.name, backupDirectory: try target.requireDirectory(), name: target.name, backup: backup,
                liveDatabase: try target.requireDatabase(), destination: to, force: force, runtime: runtime,
                ledgerPath: config.state)
            return try await RestoreService.restore(request, context: context)
        }
    }
}
