// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import Foundation
import OpsKit

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Online SQLite backup: consistent under writes, parallel gzip, manifest, off-site copy, then retention.",
        usage: Usage.lines("opsctl backup [<environment>] [--db <path>] [--dir <dir>] [--name <name>]", "[--level <level>] [--no-prune] [--no-offsite] [--offsite-only]", "[--wait-lock <duration>] [--recipient <age1…> ...]"),
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

    @Flag(help: "Do not apply retention afterwards (local or remote).")
    var noPrune = false

    @Flag(help: "Do not upload to backup.offsite this time (the next run catches up).")
    var noOffsite = false

    @Flag(help: "No new backup: only upload the local backups backup.offsite lacks, then remote retention.")
    var offsiteOnly = false

    @Option(help: ArgumentHelp("Wait this long for a running backup of the same database (e.g. 5m) instead of exiting 5.", valueName: "duration"))
    var waitLock: OpsDuration?

    @Option(help: ArgumentHelp("Encrypt to this age public key (repeatable; default: backup.encryption.recipients): writes .db.gz.age.",
                               valueName: "age1…"))
    var recipient: [String] = []

    func validate() throws {
        guard (environment == nil) != (db == nil) else { throw ValidationError("give an environment, or --db PATH --dir DIR") }
        if db != nil, dir == nil { throw ValidationError("--db needs --dir") }
        if let level, !(1...9).contains(level) { throw ValidationError("--level must be 1-9") }
        if offsiteOnly, environment == nil || noOffsite { throw ValidationError("--offsite-only needs an environment (its backup.offsite), without --no-offsite") }
    }

    func run() async throws {
        try await Output.run(global, environment: environment) { context throws(OpsError) in
            var request: BackupRequest
            if let environment {
                let (config, settings, keyError, loaded) = try await Output.load(global, context, resolvingOffsiteKeyLenientlyOf: environment)
                request = try BackupRequest.forEnvironment(settings, config: config)
                request.offsiteKeyError = keyError
                // opsctl is not a daemon: its commands stop an expired blue/green standby as they pass.
                await StandbyKeeper(config: config, environment: settings, context: loaded).stopIfExpired()
                if let dir { request.directory = dir }
                if let name { request.name = name }
            } else {
                request = BackupRequest(databasePath: db!, directory: dir!, name: name)
            }
            if let level { request.level = level }
            if !recipient.isEmpty { request.encryption = try Self.encryption(recipient, configured: request.encryption) }
            request.prune = !noPrune
            if offsiteOnly { return try Self.offsiteOnly(request, waitLock: waitLock, context: context) }
            if noOffsite { request.offsite = nil }
            request.waitLock = waitLock
            let progress = ProgressBar(label: "compressing", enabled: !global.json && !global.quiet)
            defer { progress.finish() }
            return try await BackupService.run(request, context: context, interruption: nil, progress: progress.enabled ? progress.update : nil)
        }
    }

    /// `--recipient`: replaces the configured recipients for this run; the identity settings stay.
    static func encryption(_ texts: [String], configured: BackupEncryption?) throws(OpsError) -> BackupEncryption {
        var recipients: [AgeRecipient] = []
        for text in texts {
            do throws(AgeError) { recipients.append(try AgeRecipient(text)) } catch {
                throw OpsError(.usage, code: "backup.bad_recipient", "--recipient: \(error.description)")
            }
        }
        var encryption = configured ?? BackupEncryption(recipients: [])
        encryption.recipients = recipients
        return encryption
    }

    static func offsiteOnly(_ request: BackupRequest, waitLock: OpsDuration?, context: OpsContext) throws(OpsError) -> OffsiteSyncReport {
        guard let settings = request.offsite, let env = request.env else {
            throw OpsError(.config, code: "config.missing", "backup.offsite is not set for this environment")
        }
        if let keyError = request.offsiteKeyError { throw keyError }   // nothing local to keep: the failure is the answer
        return try OffsiteSync.runHoldingLock(.init(env: env, directory: request.directory, name: request.name, settings: settings,
                                                    localRetention: request.retention, prune: request.prune, ledgerPath: request.ledgerPath,
                                                    metricsDirectory: request.metricsDirectory), wait: waitLock, context: context)
    }
}
