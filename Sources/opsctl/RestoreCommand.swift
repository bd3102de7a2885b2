// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup: verify it, keep a safety copy of the current database, swap atomically.",
        usage: Usage.lines("opsctl restore <environment> [<backup>] [--to <path>] [--force]", "[--remote] [--identity <file>] [--pause <bound>]",
                           "opsctl restore <environment> --at <time> [--to <path>] [--remote]"),
        discussion: """
            Default: the newest verified backup. Refuses while the app's container runs unless --force. \
            --to PATH restores elsewhere (a drill) and never touches the live database.

            --remote takes the backup from backup.offsite (default: the newest copy verify --remote passed, else the newest complete one).

            An encrypted backup (.db.gz.age) is decrypted on the fly with backup.encryption's identity, or --identity FILE.

            --at TIME rebuilds the database as of a moment from the replica (backup.replica, opsctl replicate): RFC 3339 \
            (2026-12-06T10:15:30Z, fractions and offsets allowed) or latest. Outside the restorable window: exit 6, naming it.

            --pause 30s (blue-green, canary): nginx holds users' new requests while restore stops the app, swaps the database and starts it again, \
            and lets them through once it is healthy; past the bound they get the maintenance page, never a connection error.
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

    @Flag(help: "Restore from the off-site copies (backup.offsite): streamed, verified, then swapped in the same way.")
    var remote = false

    @Option(help: ArgumentHelp("An age identity file (age-keygen's secret key) for an encrypted backup (default: backup.encryption's identity).",
                               valueName: "file"))
    var identity: String?

    @Option(help: ArgumentHelp("Stop the app for the restore and start it again, with users' requests held in nginx meanwhile (at most this long; then the maintenance page).",
                               valueName: "bound"))
    var pause: OpsDuration?

    @Option(help: ArgumentHelp("Point-in-time restore from the replica: an RFC 3339 moment or latest.", valueName: "time"))
    var at: String?

    func validate() throws {
        if pause != nil, to != nil { throw ValidationError("--pause stops the live app; a drill (--to) never touches it") }
        if at != nil, backup != nil { throw ValidationError("give a BACKUP or --at TIME, not both") }
    }

    func run() async throws {
        try await Output.run(global, environment: environment) { context throws(OpsError) in
            let pointInTime = try at.map { text throws(OpsError) in try PointInTime.parse(text) }
            let (config, environment, context) = remote ? try await Output.load(global, context, resolvingOffsiteKeyOf: self.environment)
                : try Output.load(global, context, environment: self.environment)
            let target = config.backupTarget(of: environment)
            // A drill or --force never asks the runtime, so a missing compose binary cannot block them.
            let asksRuntime = to == nil && (!force || pause != nil)
            let mode = asksRuntime ? try await DeployMode.resolve(config: config, environment: environment, context: context) : nil
            let runtime = force ? nil : mode?.driver
            var request = RestoreService.Request(
                env: environment.name, backupDirectory: try target.requireDirectory(), name: target.name, backup: backup,
                liveDatabase: try target.requireDatabase(), destination: to, force: force, runtime: runtime,
                ledgerPath: config.state)
            if remote { request.remote = try config.offsiteSettings(of: environment) }
            request.encryption = environment.backup?.encryption
            if let pointInTime {
                request.pointInTime = pointInTime
                request.replica = try config.replicaSettings(of: environment)
            }
            if let pause, let mode {
                request.pause = PausedRestart(service: try MaintenanceService(config: config, environment: environment, context: context, mode: mode), bound: pause)
            }
            let runner = context.runner
            let identity = self.identity
            request.keys = { () async throws(OpsError) -> BackupKeys in
                try await config.backupKeys(of: environment, runner: runner, explicitFile: identity)
            }
            return try await RestoreService.restore(request, context: context)
        }
    }
}
