// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `hooks.pre_deploy` / `post_deploy`: argv lists run without a shell, with the release in
/// their environment.
public struct DeployHooks: Sendable {
    public struct Outcome: Sendable, Codable, Equatable {
        public var command: String
        public var ok: Bool
        public var detail: String?
    }

    public let runner: any ProcessRunning
    public let workingDirectory: String
    public let redactor: Redactor
    public var timeout: Duration = .seconds(300)

    public func run(_ hooks: [[String]], env: String, version: String, previous: String?) async -> [Outcome] {
        var outcomes: [Outcome] = []
        for argv in hooks {
            let request = ProcessRequest(argv[0], Array(argv.dropFirst()), workingDirectory: workingDirectory,
                                         environment: ["OPSCTL_ENV": env, "OPSCTL_VERSION": version, "OPSCTL_PREVIOUS_VERSION": previous ?? ""],
                                         timeout: timeout)
            let command = redactor.scrub(request.displayCommand)
            do {
                let result = try await runner.run(request)
                outcomes.append(Outcome(command: command, ok: result.succeeded, detail: result.succeeded ? nil : redactor.scrub(result.failureSummary)))
                if !result.succeeded { break }
            } catch {
                outcomes.append(Outcome(command: command, ok: false, detail: redactor.scrub(error.message)))
                break
            }
        }
        return outcomes
    }
}
