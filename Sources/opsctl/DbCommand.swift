// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

extension CheckpointMode: ExpressibleByArgument {}
extension AutoVacuum: ExpressibleByArgument {}

struct DbCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "The app's database: its health, and maintenance that is safe while the app runs.",
        usage: Usage.lines("opsctl db <environment> [status]", "opsctl db <environment> optimize [--full]",
                           "opsctl db <environment> vacuum [--if-needed] [--auto-vacuum <mode>]", "[--pause <bound> | --no-pause]",
                           "opsctl db <environment> checkpoint [--mode <mode>]"),
        discussion: """
            status (the default; `opsctl db status ENV` works too): size, pages, freelist, journal mode, WAL and checkpoints, auto_vacuum, schema, quick_check and the last optimize, each ok/warn/fail with a fix. Exit 65 when quick_check fails, 9 when not in WAL mode, 1 for another failure.

            optimize: fresh query-planner statistics (analysis_limit) for the tables that need them; --full: a complete ANALYZE on a snapshot. Reports what changed and how long writers were held.

            vacuum: gives free pages back: in small batches while the app runs with auto_vacuum=incremental, else VACUUM INTO a new file swapped in like a restore. \
            Behind a proxy (blue-green, canary) the swap pauses like restore --pause: nginx holds users' requests while the app is stopped, the file swapped and the app started again \
            (at most --pause, default 30s; then the maintenance page). Without a proxy, or with --no-pause, the swap is refused while the app runs. \
            Either way it is refused while any other process has the database open.

            checkpoint: copies the WAL into the database file; truncate also cuts the WAL file to zero. Exit 75 when a reader keeps it from completing.

            Missing database: 66. Not SQLite or corrupt: 65. Locked past database.maintenance.busy_timeout: 75. Not in WAL mode: 9. Nothing is changed then.
            """)

    enum Action: String, CaseIterable { case status, optimize, vacuum, checkpoint }

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The environment, then what to do: status (default), optimize, vacuum or checkpoint.", valueName: "environment [action]"),
              completion: .environments)
    var words: [String] = []

    @Flag(help: "optimize: a complete ANALYZE (on a snapshot, so the app's writers wait only for the statistics to be copied in).")
    var full = false

    @Option(help: ArgumentHelp("checkpoint: passive (never waits; the default) or truncate (also cuts the WAL file to zero bytes).", valueName: "mode"))
    var mode: CheckpointMode?

    @Flag(help: "vacuum: only when the free pages are past database.maintenance.max_freelist (the weekly timer's way).")
    var ifNeeded = false

    @Option(help: ArgumentHelp("vacuum: give the new file this auto_vacuum mode (none, incremental, full); a change needs the swap, so the app is stopped for it.",
                               valueName: "mode"))
    var autoVacuum: AutoVacuum?

    @Option(help: ArgumentHelp("vacuum, when it swaps the file (blue-green, canary): stop the app for the swap and start it again, with users' requests held in nginx meanwhile (at most this long; then the maintenance page). Default 30s behind a proxy.",
                               valueName: "bound"))
    var pause: OpsDuration?

    @Flag(help: "vacuum: no pause behind the proxy; refuse the swap while the app runs, as without a proxy.")
    var noPause = false

    /// `ENV [ACTION]`, or `status ENV` (an environment that is itself called `status` wins in the first form).
    func parsed() throws -> (environment: String, action: Action) {
        switch words.count {
        case 1: return (words[0], .status)
        case 2:
            if let action = Action(rawValue: words[1]) { return (words[0], action) }
            if words[0] == Action.status.rawValue { return (words[1], .status) }
            throw ValidationError("\"\(words[1])\" is not an action: use " + Action.allCases.map(\.rawValue).joined(separator: ", "))
        default:
            throw ValidationError("give the environment, then optionally the action: opsctl db <environment> [status|optimize|vacuum|checkpoint]")
        }
    }

    func validate() throws {
        let action = try parsed().action
        if full, action != .optimize { throw ValidationError("--full goes with optimize") }
        if mode != nil, action != .checkpoint { throw ValidationError("--mode goes with checkpoint") }
        if ifNeeded || autoVacuum != nil || pause != nil || noPause, action != .vacuum {
            throw ValidationError("--if-needed, --auto-vacuum, --pause and --no-pause go with vacuum")
        }
        if pause != nil, noPause { throw ValidationError("--pause holds users while the app is stopped for the swap, --no-pause refuses while it runs: give one") }
    }

    var pauseChoice: SwapPauseChoice {
        if noPause { return .refuse }
        return pause.map { .pause($0) } ?? .automatic
    }

    func run() async throws {
        let (name, action) = try parsed()
        try await Output.run(global, environment: name) { context throws(OpsError) in
            let (config, environment, context) = try Output.load(global, context, environment: name)
            // The runtime is asked only if a vacuum is about to swap a file in.
            let deployMode = { @Sendable () async throws(OpsError) -> DeployMode in
                try await DeployMode.resolve(config: config, environment: environment, context: context)
            }
            let pause = try SwapPauses.choose(for: environment, pauseChoice, config: config, context: context, mode: deployMode)
            let request = try DatabaseRequest.forEnvironment(environment, config: config, pause: pause)
            switch action {
            case .status: return try DatabaseService.status(request, context: context)
            case .optimize: return try DatabaseService.optimize(request, full: full, context: context)
            case .vacuum: return try await DatabaseService.vacuum(request, ifNeeded: ifNeeded, autoVacuum: autoVacuum, context: context)
            case .checkpoint: return try DatabaseService.checkpoint(request, mode: mode ?? .passive, context: context)
            }
        }
    }
}
