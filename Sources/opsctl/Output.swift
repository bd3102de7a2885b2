// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import Foundation
import Logging
import OpsKit
import Synchronization

/// The one place that prints results and turns them into exit codes.
enum Output {
    /// Runs a command body with logging set up, prints its report (text or JSON), and exits
    /// with the report's code; an `OpsError` becomes its message on stderr (or JSON) and exit code.
    /// `environment`: the environment the command acts on; while an incident is open there, the
    /// command goes on its timeline (nil for commands about no environment).
    static func run(_ options: GlobalOptions, environment: String?, _ body: (OpsContext) async throws(OpsError) -> any Report) async throws {
        let context = makeContext(options)
        let startedAt = context.now()
        do {
            let report = try await body(context)
            if options.json {
                printStdout(report.encodedJSON ?? ReportEncoder.json(report: report))
            } else {
                let text = report.renderText()
                if !text.isEmpty { printStdout(text) }
            }
            recordOnIncident(environment, context, startedAt: startedAt, exitCode: report.exitCode, errorCode: nil)
            if report.exitCode != 0 { throw ExitCode(report.exitCode) }
        } catch let error as OpsError {
            if options.json {
                printJSONError(error)
            } else {
                printStderr("opsctl: error: \(error.message)")
                for line in error.details { printStderr("  \(line)") }
            }
            recordOnIncident(environment, context, startedAt: startedAt, exitCode: error.exitCode, errorCode: error.code)
            throw ExitCode(error.exitCode)
        }
    }

    /// The config the command loaded (secrets resolved as far as it resolved them), for the
    /// incident timeline after the command's own work is done.
    private static let loaded = Mutex<OpsConfig?>(nil)

    static func recordOnIncident(_ environment: String?, _ context: OpsContext, startedAt: Date, exitCode: Int32, errorCode: String?) {
        guard let environment, let config = loaded.withLock({ $0 }) else { return }
        let run = IncidentCommandLog.Run(arguments: Array(CommandLine.arguments.dropFirst()), actor: context.actor, startedAt: startedAt,
                                         finishedAt: context.now(), exitCode: exitCode, errorCode: errorCode)
        IncidentCommandLog.record(run, env: environment, config: config, logger: context.logger)
    }

    static func printJSONError(_ error: OpsError) {
        printStdout(ReportEncoder.json(ErrorReport(error)))
    }

    static func printStdout(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func printStderr(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    private static let bootstrap: Void = {
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
    }()

    static func makeContext(_ options: GlobalOptions) -> OpsContext {
        _ = bootstrap
        var logger = Logger(label: "opsctl")
        logger.logLevel = options.quiet ? .error : options.verbose >= 2 ? .trace : options.verbose == 1 ? .debug : .notice
        return OpsContext(runner: LoggingRunner(SubprocessRunner(), logger: logger), logger: logger)
    }

    /// Loads the config and returns a context whose logs scrub the config's secrets.
    static func load(_ options: GlobalOptions, _ context: OpsContext) throws(OpsError) -> (OpsConfig, OpsContext) {
        let path = ConfigLoader.resolvePath(explicit: options.config, environment: context.environment)
        context.logger.debug("reading config \(path)")
        let config = try ConfigLoader.load(path: path, environment: context.environment)
        return (config, scrubbing(config, context))
    }

    /// Loads the config and fetches environment `name`'s command secrets (`NAME_COMMAND`), once,
    /// before anything changes; the context's logs scrub them too. Only commands that hand a
    /// secret to something, or print text that could carry one, call this: loading a config
    /// (`config check`, `status`, cron's `backup`) never runs a secret manager.
    static func load(_ options: GlobalOptions, _ context: OpsContext, resolvingSecretsOf name: String) async throws(OpsError)
        -> (OpsConfig, EnvironmentConfig, OpsContext) {
        let (loaded, context) = try load(options, context)
        let (config, environment) = try await loaded.resolvingSecrets(of: name, runner: context.runner)
        return (config, environment, scrubbing(config, context))
    }

    /// Loads the config and picks environment `name` (no secret command runs).
    static func load(_ options: GlobalOptions, _ context: OpsContext, environment name: String) throws(OpsError) -> (OpsConfig, EnvironmentConfig, OpsContext) {
        let (config, context) = try load(options, context)
        return (config, try config.environment(named: name), context)
    }

    /// Loads the config and fetches environment `name`'s off-site key when a command gives it
    /// (`secret_access_key_command`): backup, verify, restore and prune talk to S3, and a nightly
    /// backup must not run the app's other secret commands.
    static func load(_ options: GlobalOptions, _ context: OpsContext, resolvingOffsiteKeyOf name: String) async throws(OpsError)
        -> (OpsConfig, EnvironmentConfig, OpsContext) {
        let (loaded, context) = try load(options, context)
        let (config, environment) = try await loaded.resolvingSecrets(of: name, runner: context.runner, matching: SecretScope.offsiteKey)
        return (config, environment, scrubbing(config, context))
    }

    /// As `load(_:_:resolvingOffsiteKeyOf:)` for `backup`: a failing key command must not cost
    /// the local backup, so it comes back as the off-site step's error instead of stopping the run.
    static func load(_ options: GlobalOptions, _ context: OpsContext, resolvingOffsiteKeyLenientlyOf name: String) async throws(OpsError)
        -> (OpsConfig, EnvironmentConfig, OpsError?, OpsContext) {
        let (loaded, context) = try load(options, context)
        let (config, environment, failures) = try await loaded.resolvingSecretsLeniently(of: name, runner: context.runner,
                                                                                        matching: SecretScope.offsiteKey)
        return (config, environment, failures.first, scrubbing(config, context))
    }

    /// A context whose subprocess logs scrub every secret `config` knows. Every loaded config
    /// passes through here, so here it is kept for the incident timeline.
    static func scrubbing(_ config: OpsConfig, _ context: OpsContext) -> OpsContext {
        loaded.withLock { $0 = config }
        var configured = context
        configured.runner = LoggingRunner(SubprocessRunner(), logger: context.logger, redactor: config.redactor)
        return configured
    }
}
