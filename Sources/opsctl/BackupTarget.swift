import ArgumentParser
import OpsKit

/// `ENV`, or `--dir DIR [--name N]` for a directory without a config.
struct BackupLocationOptions: ParsableArguments {
    @Argument(help: "The environment, e.g. production (its backup settings come from opsctl.yml).", completion: .environments)
    var environment: String?

    @Option(help: ArgumentHelp("A backup directory, instead of an environment.", valueName: "dir"))
    var dir: String?

    @Option(help: ArgumentHelp("Backup file prefix: <name>_YYYYMMDD_HHMMSS.db.gz.", valueName: "name"))
    var name: String?

    func validate() throws {
        guard (environment == nil) != (dir == nil) else {
            throw ValidationError("give an environment or --dir DIR, not both and not neither")
        }
    }

    /// (directory, name, environment config + config) for this invocation.
    func resolve(_ global: GlobalOptions, _ context: OpsContext) throws(OpsError) -> (directory: String, name: String, environment: EnvironmentConfig?, config: OpsConfig?) {
        if let dir {
            return (dir, try BackupCatalog.resolveName(name, directory: dir), nil, nil)
        }
        let (config, _) = try Output.load(global, context)
        let environment = try config.environment(named: self.environment!)
        let location = try config.backupLocation(of: environment)
        return (location.directory, name ?? location.name, environment, config)
    }
}

func parseWaitLock(_ text: String?) throws -> OpsDuration? {
    guard let text else { return nil }
    guard let duration = OpsDuration(parsing: text) else { throw ValidationError("--wait-lock \"\(text)\" is not a duration (e.g. 30s, 5m)") }
    return duration
}
