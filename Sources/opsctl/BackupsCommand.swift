import ArgumentParser
import OpsKit

struct BackupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backups",
        abstract: "List backups: time, age, size, compression ratio, verified state.",
        usage: Usage.lines("opsctl backups [<environment>] [--dir <dir>] [--name <name>]"))

    @OptionGroup var global: GlobalOptions
    @OptionGroup var location: BackupLocationOptions

    func run() async throws {
        try await Output.run(global) { context throws(OpsError) in
            let target = try location.resolve(global, context)
            return try BackupListReport.load(directory: target.directory, name: target.name, now: context.now())
        }
    }
}
