// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct BackupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backups",
        abstract: "List backups: time, age, size, compression ratio, verified state (--remote: the off-site copies; --replica: the replica's generations).",
        usage: Usage.lines("opsctl backups [<environment>] [--dir <dir>] [--name <name>]", "[--remote] [--replica]"))

    @OptionGroup var global: GlobalOptions
    @OptionGroup var location: BackupLocationOptions

    @Flag(help: "List the copies on backup.offsite: size, age, manifest, verified, whether the local copy still exists.")
    var remote = false

    @Flag(help: "List the replica's generations and the window a point-in-time restore can reach (backup.replica); with --remote, the off-site replica.")
    var replica = false

    func validate() throws {
        if remote, location.environment == nil { throw ValidationError("--remote needs an environment (its backup.offsite)") }
        if replica, location.environment == nil { throw ValidationError("--replica needs an environment (its backup.replica)") }
    }

    func run() async throws {
        try await Output.run(global, environment: location.environment) { context throws(OpsError) in
            if replica, let name = location.environment {
                let (config, environment, context) = remote ? try await Output.load(global, context, resolvingOffsiteKeyOf: name)
                    : try Output.load(global, context, environment: name)
                let settings = try config.replicaSettings(of: environment)
                let source: ReplicaSource = remote ? .remote(try config.offsiteSettings(of: environment), logger: context.logger)
                    : .local(ReplicaStore(directory: settings.dir, encryption: nil))
                return try ReplicaListReport.load(env: environment.name, settings: settings, source: source, now: context.now())
            }
            let target = try await location.resolve(global, context, offsite: remote)
            if remote, let environment = target.environment, let config = target.config {
                return try RemoteListReport.load(settings: try config.offsiteSettings(of: environment), directory: target.directory, name: target.name,
                                                 ledgerPath: config.state, context: context)
            }
            return try BackupListReport.load(directory: target.directory, name: target.name, now: context.now())
        }
    }
}
