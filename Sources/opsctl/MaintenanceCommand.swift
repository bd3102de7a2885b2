// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import Foundation
import OpsKit

extension MaintenanceAction: ExpressibleByArgument {}

struct MaintenanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maintenance",
        abstract: "Through nginx: the maintenance page (on/off), or hold every request while the app is down (pause/resume).",
        usage: Usage.lines("opsctl maintenance <environment> on [--message <text>] [--retry-after <duration>]",
                           "opsctl maintenance <environment> off [--force]",
                           "opsctl maintenance <environment> pause [<bound>] [--message <text>] [--retry-after <duration>]",
                           "opsctl maintenance <environment> resume [--force]"),
        discussion: """
            on: nginx answers every request 503 with Retry-After and the page (JSON for Accept: application/json). \
            off: the upstream file it replaced, exactly, once the app answers healthy at its address.

            pause: nginx holds every new request (at most <bound>, default 30s; then the page), and the command returns once the requests already on their way to the app have finished. \
            resume: once the app is healthy, every held request goes on to it.

            Needs strategy blue-green or canary (the proxy: section). Recorded in the ledger; status and handoff show it.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The environment, e.g. production.", completion: .environments)
    var environment: String

    @Argument(help: "on, off, pause or resume.")
    var action: MaintenanceAction

    @Argument(help: ArgumentHelp("pause: the longest a request waits before it gets the maintenance page (default 30s).", valueName: "bound"))
    var bound: OpsDuration?

    @Option(help: ArgumentHelp("The page's message (on, pause).", valueName: "text"))
    var message: String?

    @Option(help: ArgumentHelp("The Retry-After header (default 120s).", valueName: "duration"))
    var retryAfter: OpsDuration?

    @Flag(help: "off, resume: put back the upstream it replaced even when the file was changed since.")
    var force = false

    func validate() throws {
        if bound != nil, action != .pause { throw ValidationError("a bound is for pause only") }
        if message != nil || retryAfter != nil, action == .off || action == .resume { throw ValidationError("--message and --retry-after are for on and pause") }
        if force, action == .on || action == .pause { throw ValidationError("--force is for off and resume") }
    }

    func run() async throws {
        try await Output.run(global, environment: environment) { context throws(OpsError) in
            let (config, environment, context) = try Output.load(global, context, environment: self.environment)
            let mode = try await DeployMode.resolve(config: config, environment: environment, context: context)
            let service = try MaintenanceService(config: config, environment: environment, context: context, mode: mode)
            let page = MaintenancePage(message: message, retryAfter: retryAfter ?? MaintenancePage.defaultRetryAfter)
            switch action {
            case .on: return try await service.on(page: page)
            case .off: return try await service.off(force: force)
            case .pause: return try await service.pause(bound: bound ?? .seconds(30), page: page)
            case .resume: return try await service.resume(force: force)
            }
        }
    }
}

/// The pause gate's own process, started by `maintenance pause` and `restore --pause`: not for people.
struct MaintenanceGateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maintenance-gate",
        abstract: "The pause gate (started by opsctl maintenance pause; not run by hand).",
        shouldDisplay: false)

    @Option var token: String
    @Option var holdUntil: Double
    @Option var linger: OpsDuration
    @Option var status: String

    func run() throws {
        let code = GateProcess.serve(token: token, holdUntil: Date(timeIntervalSince1970: holdUntil), linger: linger, statusPath: status)
        if code != 0 { throw ExitCode(code) }
    }
}
