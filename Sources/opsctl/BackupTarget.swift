// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

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

    /// (directory, name, environment config + config) for this invocation. `offsite`: the
    /// command talks to backup.offsite, so a key that comes from a command is fetched first.
    func resolve(_ global: GlobalOptions, _ context: OpsContext, offsite: Bool = false) async throws(OpsError)
        -> (directory: String, name: String, environment: EnvironmentConfig?, config: OpsConfig?) {
        if let dir {
            return (dir, try BackupCatalog.resolveName(name, directory: dir), nil, nil)
        }
        let (config, environment): (OpsConfig, EnvironmentConfig)
        if offsite {
            (config, environment, _) = try await Output.load(global, context, resolvingOffsiteKeyOf: self.environment!)
        } else {
            config = try Output.load(global, context).0
            environment = try config.environment(named: self.environment!)
        }
        let target = config.backupTarget(of: environment)
        return (try target.requireDirectory(), name ?? target.name, environment, config)
    }
}
