// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import Foundation
import OpsKit

@main
struct Opsctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "opsctl",
        abstract: "The deployment runbook as one command: deploy, rollback, backup, verify, smoke, handoff, incidents.",
        // One line per paragraph: ArgumentParser wraps to the terminal, and a hard break of ours
        // inside a paragraph would leave a ragged line at every width but one.
        discussion: """
            Exit codes: 0 ok, 1 a check failed, 3 deploy failed and the previous version was restored, \
            4 deploy or rollback failed and the service may be down, 5 lock held by another run, \
            6 a moment outside the replica's restorable window, 7 an encrypted backup and no identity that opens it, \
            8 no such incident, 9 the database is not in the journal mode needed, 64 usage, 65 the database is corrupt, \
            66 the database is missing, 69 a dependency is unavailable (docker, git, S3, a Swarm manager), 70 internal error, \
            74 I/O error, 75 the database stayed locked, 78 bad config.

            Reference: docs/reference.md in the opsctl repository.
            """,
        version: OpsctlVersion.current,
        subcommands: [InitCommand.self, ConfigCommand.self, PreflightCommand.self, DeployCommand.self, RollbackCommand.self, StatusCommand.self, HistoryCommand.self, BackupCommand.self, BackupsCommand.self, PruneCommand.self, VerifyCommand.self, RestoreCommand.self, ReplicateCommand.self, DbCommand.self, MaintenanceCommand.self, MaintenanceGateCommand.self, WaitCommand.self, SmokeCommand.self, HandoffCommand.self, NoteCommand.self, IncidentCommand.self, VersionCommand.self]
    )

    /// ArgumentParser's own errors (unknown flag, missing argument) also honour `--json`:
    /// one JSON document on stdout, exit 64.
    static func main() async {
        let arguments = hoistGlobalOptions(Array(CommandLine.arguments.dropFirst()))
        do {
            // The async parse runs async completion functions (versions come from git).
            var command = try await asyncParseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if arguments.contains("--json"), code != .success, !(error is ExitCode) {
                let message = fullMessage(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
                Output.printJSONError(OpsError(.usage, code: "usage.invalid", message))
                Foundation.exit(OpsError.Kind.usage.exitCode)
            }
            exit(withError: error)
        }
    }

    /// `opsctl --json status production` means `opsctl status production --json`: global
    /// options given before the subcommand move after it, where ArgumentParser reads them.
    static func hoistGlobalOptions(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if ["--json", "-q", "--quiet"].contains(word) || word.hasPrefix("--config=") || (word.hasPrefix("-v") && word.dropFirst().allSatisfy { $0 == "v" }) || word == "--verbose" {
                leading.append(word)
            } else if word == "--config", index + 1 < arguments.count {
                leading += [word, arguments[index + 1]]
                index += 1
            } else {
                break
            }
            index += 1
        }
        guard !leading.isEmpty, index < arguments.count else { return arguments }
        var rest = Array(arguments[index...])
        let insertAt = rest.firstIndex(of: "--") ?? rest.count
        rest.insert(contentsOf: leading, at: insertAt)
        return rest
    }
}
