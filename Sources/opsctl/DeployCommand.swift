// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

/// Flags deploy and rollback share.
struct ReleaseOptions: ParsableArguments {
    @Flag(help: "Print the plan and the exact docker/git commands; change nothing.")
    var dryRun = false

    @Flag(help: "Skip the smoke checks after the health-wait.")
    var skipSmoke = false

    @Flag(help: "Go ahead even when this version is already live.")
    var force = false

    @Option(help: ArgumentHelp("Queue behind a running deploy or rollback for up to this long instead of exiting 5.", valueName: "duration"))
    var waitLock: OpsDuration?

    @Option(help: ArgumentHelp("Why, for the ledger and the handoff.", valueName: "text"))
    var message: String?

    @Option(help: ArgumentHelp("Also write the smoke run as JUnit XML here (for CI test results).", valueName: "file"))
    var junit: String?

    func options(noRollback: Bool) -> DeployOptions {
        var options = DeployOptions()
        options.dryRun = dryRun
        options.skipSmoke = skipSmoke
        options.force = force
        options.noRollback = noRollback
        options.waitLock = waitLock
        options.message = message
        options.junitPath = junit
        return options
    }

    /// Loads the config, catches SIGINT/SIGTERM (a real run rolls back on them), runs `body`.
    func run(_ global: GlobalOptions, environment name: String, options: DeployOptions,
             _ body: @escaping (DeployService) async throws(OpsError) -> DeployReport) async throws {
        try await Output.run(global, environment: name) { context throws(OpsError) in
            let (config, environment, context) = try await Output.load(global, context, resolvingSecretsOf: name)
            let interruption = Interruption()
            if !options.dryRun { interruption.install() }
            var service = try await DeployService.prepare(config: config, environment: environment, context: context, interruption: interruption)
            let lines = CanaryStepLines(enabled: !global.quiet)
            service.canaryProgress = { step, total in lines.show(step, of: total) }
            return try await body(service)
        }
    }
}

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Deploy a tagged release: validate, lock, switch containers, health-wait, smoke; roll back by itself on failure.",
        usage: Usage.lines("opsctl deploy <environment> <version> [--dry-run] [--skip-smoke]", "[--force] [--wait-lock <duration>] [--message <text>] [--junit <file>]", "[--no-rollback]"),
        discussion: """
            Exit 0 deployed (or already live), 3 failed (or a canary was withdrawn) and the previous release serves again, \
            4 failed and nothing healthy serves, 5 another deploy holds the lock, \
            64 bad version/unknown env/missing tag, 69 docker or the image unavailable, 78 bad config.

            SIGINT/SIGTERM roll back and record the run as interrupted; while queued behind \
            --wait-lock they stop the wait and change nothing.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    @Argument(help: "The release, a semantic version whose git tag (v1.0.1) exists.", completion: .releases)
    var version: String

    @OptionGroup var release: ReleaseOptions

    @Flag(help: "Leave a failed release in place for inspection: stop-start exits 4 (the previous one is not restarted); blue-green and canary leave it on the idle slot, users on the live one (exit 3); swarm pauses the update (exit 4).")
    var noRollback = false

    func run() async throws {
        let options = release.options(noRollback: noRollback)
        try await release.run(global, environment: environment, options: options) { service throws(OpsError) in
            try await service.deploy(version, options: options)
        }
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Go back to the newest succeeded release older than the live one (or --to VERSION), with the same health-wait and smoke.",
        usage: Usage.lines("opsctl rollback <environment> [--to <version>] [--dry-run] [--skip-smoke]", "[--force] [--wait-lock <duration>] [--message <text>]", "[--junit <file>]"),
        discussion: "The kept container starts in seconds; without one, its image runs fresh. Exit codes as deploy.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    @Option(help: ArgumentHelp("A release that succeeded here before.", valueName: "version"), completion: .releases)
    var to: String?

    @OptionGroup var release: ReleaseOptions

    func run() async throws {
        let options = release.options(noRollback: false)
        try await release.run(global, environment: environment, options: options) { service throws(OpsError) in
            try await service.rollback(to: to, options: options)
        }
    }
}
