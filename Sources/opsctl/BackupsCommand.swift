// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct BackupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backups",
        abstract: "List backups: time, age, size, compression ratio, verified state (--remote: the off-site copies).",
        usage: Usage.lines("opsctl backups [<environment>] [--dir <dir>] [--name <name>] [--remote]"))

    @OptionGroup var global: GlobalOptions
    @OptionGroup var location: BackupLocationOptions

    @Flag(help: "List the copies on backup.offsite: size, age, manifest, verified, whether the local copy still exists.")
    var remote = false

    func validate() throws {
        if remote, location.environment == nil { throw ValidationError("--remote needs an environment (its backup.offsite)") }
    }

    func run() async throws {
        try await Output.run(global, environment: location.environment) { context throws(OpsError) in
            let target = try await location.resolve(global, context, offsite: remote)
            if remote, let environment = target.environment, let config = target.config {
                return try RemoteListReport.load(settings: try config.offsiteSettings(of: environment), directory: target.directory, name: target.name,
                                                 ledgerPath: config.state, context: context)
            }
            return try BackupListReport.load(directory: target.directory, name: target.name, now: context.now())
        }
    }
}
