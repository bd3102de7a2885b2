// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Prove backups restore: gzip CRC and length, SHA-256 against the manifest, then SQLite's own checks.",
        usage: Usage.lines("opsctl verify [<environment>] [--dir <dir>] [--file <file>]", "[--name <name>] [--latest] [--deep] [--remote] [--replica]",
                           "[--identity <file>]"),
        discussion: "Exit 1 when any backup (or the live database) is bad. opsctl verify production --latest  |  --remote  |  --dir DIR  |  --file F")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production (also checks its live database read-only).", completion: .environments)
    var environment: String?

    @Option(help: ArgumentHelp("A backup directory, instead of an environment.", valueName: "dir"))
    var dir: String?

    @Option(help: ArgumentHelp("One backup file.", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("Backup file prefix (with --dir; default: the only name there).", valueName: "name"))
    var name: String?

    @Flag(help: "Only the newest backup.")
    var latest = false

    @Flag(help: "integrity_check and foreign_key_check instead of quick_check.")
    var deep = false

    @Flag(help: "Verify the off-site copies (backup.offsite), streamed through the same checks.")
    var remote = false

    @Option(help: ArgumentHelp("An age identity file (age-keygen's secret key) to decrypt encrypted backups (default: backup.encryption's identity).",
                               valueName: "file"))
    var identity: String?

    @Flag(help: "Verify the replica instead (backup.replica): rebuild its latest point into a temp file, integrity_check, and no gap in any chain.")
    var replica = false

    func validate() throws {
        if replica, environment == nil { throw ValidationError("--replica needs an environment (its backup.replica)") }
        guard [environment != nil, dir != nil, file != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give one of: an environment, --dir DIR, --file FILE")
        }
        if remote, environment == nil { throw ValidationError("--remote needs an environment (its backup.offsite)") }
    }

    func run() async throws {
        try await Output.run(global, environment: environment) { context throws(OpsError) in
            let givenKeys = try identity.map { path throws(OpsError) in try BackupKeys.load(file: path) }
                ?? .none("no identity was given (pass --identity FILE)")
            if let file {
                return try VerifyService.verify(.file(file), deep: deep, env: nil, ledgerPath: nil, metricsDirectory: nil,
                                                liveDatabase: nil, keys: givenKeys, context: context)
            }
            if let dir {
                let name = try BackupCatalog.resolveName(self.name, directory: dir)
                return try VerifyService.verify(.directory(dir, name: name, latestOnly: latest), deep: deep, env: nil, ledgerPath: nil,
                                                metricsDirectory: nil, liveDatabase: nil, keys: givenKeys, context: context)
            }
            let (config, environment, context) = remote ? try await Output.load(global, context, resolvingOffsiteKeyOf: self.environment!)
                : try Output.load(global, context, environment: self.environment!)
            let target = config.backupTarget(of: environment)
            // Only verify and restore fetch the identity; backups need only the recipients.
            let keys = try await config.backupKeys(of: environment, runner: context.runner, explicitFile: identity)
            if replica {
                let settings = try config.replicaSettings(of: environment)
                let source: ReplicaSource = remote ? .remote(try config.offsiteSettings(of: environment), logger: context.logger)
                    : .local(ReplicaStore(directory: settings.dir, encryption: nil))
                return try ReplicaVerifyReport.run(env: environment.name, source: source, scratchDirectory: try target.requireDirectory(), keys: keys)
            }
            if remote {
                return try RemoteVerifier.verifyAll(settings: try config.offsiteSettings(of: environment), name: name ?? target.name, latestOnly: latest,
                                                    deep: deep, env: environment.name, scratchDirectory: try target.requireDirectory(), ledgerPath: config.state,
                                                    metricsDirectory: environment.metrics?.textfileDir, keys: keys, context: context)
            }
            return try VerifyService.verify(.directory(try target.requireDirectory(), name: name ?? target.name, latestOnly: latest), deep: deep,
                                            env: environment.name, ledgerPath: config.state, metricsDirectory: environment.metrics?.textfileDir,
                                            liveDatabase: target.databasePath, keys: keys, context: context)
        }
    }
}
