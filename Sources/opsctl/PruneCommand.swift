// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Apply retention (restic semantics) to a backup directory.",
        usage: Usage.lines("opsctl prune [<environment>] [--dir <dir>] [--name <name>] [--dry-run]", "[--remote] [--keep-last <n>] [--keep-hourly <n>] [--keep-daily <n>]", "[--keep-weekly <n>] [--keep-monthly <n>] [--keep-yearly <n>]", "[--keep-within <duration>]"),
        discussion: """
            Keeps the newest backup per hour/day/ISO week/month/year, the N newest, and everything within a \
            duration of the newest; rules are ORed. Never deletes the newest backup, the newest verified \
            backup, or any file not named <name>_YYYYMMDD_HHMMSS.db.gz. Flags override backup.retention.

            --remote applies the same rules to the off-site copies (never the newest copy, never the newest verified one).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var location: BackupLocationOptions

    @Flag(help: "Show what would be deleted and why each file is kept; delete nothing.")
    var dryRun = false

    @Flag(help: "Apply retention to the off-site copies (backup.offsite.retention, else backup.retention).")
    var remote = false

    @Option(help: ArgumentHelp("Keep the n newest backups.", valueName: "n"))
    var keepLast: Int?
    @Option(help: ArgumentHelp("The newest backup in each of the n most recent hours that have one.", valueName: "n"))
    var keepHourly: Int?
    @Option(help: ArgumentHelp("The newest backup in each of the n most recent days that have one.", valueName: "n"))
    var keepDaily: Int?
    @Option(help: ArgumentHelp("The newest backup in each of the n most recent ISO weeks that have one.", valueName: "n"))
    var keepWeekly: Int?
    @Option(help: ArgumentHelp("The newest backup in each of the n most recent months that have one.", valueName: "n"))
    var keepMonthly: Int?
    @Option(help: ArgumentHelp("The newest backup in each of the n most recent years that have one.", valueName: "n"))
    var keepYearly: Int?
    @Option(help: ArgumentHelp("Keep everything this much younger than the newest backup (e.g. 48h).", valueName: "duration"))
    var keepWithin: OpsDuration?

    func validate() throws {
        if remote, location.environment == nil { throw ValidationError("--remote needs an environment (its backup.offsite)") }
        for value in [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly] {
            if let value, value < 0 { throw ValidationError("--keep-* counts must be 0 or more") }
        }
    }

    func run() async throws {
        try await Output.run(global, environment: location.environment) { context throws(OpsError) in
            let target = try await location.resolve(global, context, offsite: remote)
            var policy = target.environment?.backup?.retention ?? RetentionPolicy()
            let offsite = try remote ? target.environment.map { environment throws(OpsError) in try target.config!.offsiteSettings(of: environment) } : nil
            if let offsite { policy = offsite.effectiveRetention(local: policy) }
            let overrides = [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly]
            if overrides.contains(where: { $0 != nil }) || keepWithin != nil {
                // Flags replace the configured policy as a whole, so what runs is what was typed.
                policy = RetentionPolicy(keepLast: keepLast, keepHourly: keepHourly, keepDaily: keepDaily, keepWeekly: keepWeekly,
                                         keepMonthly: keepMonthly, keepYearly: keepYearly,
                                         keepWithin: keepWithin)
            }
            if let offsite {
                return try RemotePrune.run(settings: offsite, directory: target.directory, name: target.name, policy: policy, dryRun: dryRun,
                                           ledgerPath: target.config?.state, context: context)
            }
            return try PruneService.runHoldingLock(directory: target.directory, name: target.name, policy: policy, dryRun: dryRun, context: context)
        }
    }
}
