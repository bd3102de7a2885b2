import ArgumentParser
import Foundation
import OpsKit

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Online SQLite backup: consistent under writes, parallel gzip, manifest, then retention.",
        usage: Usage.lines("opsctl backup [<environment>] [--db <path>] [--dir <dir>] [--name <name>]", "[--level <level>] [--no-prune] [--wait-lock <duration>]"),
        discussion: "opsctl backup production   |   opsctl backup --db /srv/app/app.db --dir /srv/backups")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String?

    @Option(help: ArgumentHelp("The database to back up (with --dir, instead of an environment).", valueName: "path"))
    var db: String?

    @Option(help: ArgumentHelp("Where the backup goes.", valueName: "dir"))
    var dir: String?

    @Option(help: ArgumentHelp("File prefix (default: backup.name, else the app; with --db the database's file name).", valueName: "name"))
    var name: String?

    @Option(help: "gzip level 1-9 (default: backup.level, else 6).")
    var level: Int?

    @Flag(help: "Do not apply retention afterwards.")
    var noPrune = false

    @Option(help: ArgumentHelp("Wait this long for a running backup of the same database (e.g. 5m) instead of exiting 5.", valueName: "duration"))
    var waitLock: OpsDuration?

    func validate() throws {
        guard (environment == nil) != (db == nil) else { throw ValidationError("give an environment, or --db PATH --dir DIR") }
        if db != nil, dir == nil { throw ValidationError("--db needs --dir") }
        if let level, !(1...9).contains(level) { throw ValidationError("--level must be 1-9") }
    }

    func run() async throws {
        try await Output.run(global) { context throws(OpsError) in
            var request: BackupRequest
            if let environment {
                let (config, _) = try Output.load(global, context)
                request = try BackupRequest.forEnvironment(try config.environment(named: environment), config: config)
                if let dir { request.directory = dir }
                if let name { request.name = name }
            } else {
                request = BackupRequest(databasePath: db!, directory: dir!, name: name)
            }
            if let level { request.level = level }
            request.prune = !noPrune
            request.waitLock = waitLock
            let progress = ProgressBar(label: "compressing", enabled: !global.json && !global.quiet)
            defer { progress.finish() }
            return try await BackupService.run(request, context: context, interruption: nil, progress: progress.enabled ? progress.update : nil)
        }
    }
}
