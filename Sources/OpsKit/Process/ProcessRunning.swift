// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One subprocess invocation: a typed argv, never a shell string.
public struct ProcessRequest: Sendable, Equatable {
    /// A program name looked up in PATH, or an absolute path.
    public var executable: String
    public var arguments: [String]
    public var workingDirectory: String?
    /// Added to (or overriding) the inherited environment.
    public var environment: [String: String]
    public var timeout: Duration
    /// Bytes written to the child's stdin, then closed.
    public var standardInput: String?
    /// Keep all of stderr in `standardErrorTail` (e.g. `docker logs`, where stderr is data), not only its tail.
    public var keepsFullStandardError = false

    public init(_ executable: String, _ arguments: [String], workingDirectory: String? = nil,
                environment: [String: String] = [:], timeout: Duration = .seconds(60), standardInput: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.timeout = timeout
        self.standardInput = standardInput
    }

    /// For logs and error messages: the argv, words with spaces quoted. Never executed.
    public var displayCommand: String {
        ([executable] + arguments).map { word in
            word.isEmpty || word.contains(where: { " \t\"'$".contains($0) }) ? "'\(word.replacingOccurrences(of: "'", with: "'\\''"))'" : word
        }.joined(separator: " ")
    }
}

public struct ProcessResult: Sendable, Equatable {
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
        /// Killed by opsctl when the timeout passed.
        case timedOut
    }

    public var request: ProcessRequest
    public var termination: Termination
    public var standardOutput: String
    /// The last lines of stderr (at most `ProcessResult.stderrTailLines`).
    public var standardErrorTail: String
    public var duration: Duration

    public static let stderrTailLines = 40

    public var succeeded: Bool { termination == .exited(0) }

    public init(request: ProcessRequest, termination: Termination, standardOutput: String, standardErrorTail: String, duration: Duration) {
        self.request = request
        self.termination = termination
        self.standardOutput = standardOutput
        self.standardErrorTail = standardErrorTail
        self.duration = duration
    }

    /// A one-line explanation of a failure, e.g. `git exited with status 128: fatal: not a git repository`.
    public var failureSummary: String {
        let program = URL(fileURLWithPath: request.executable).lastPathComponent
        let how: String = switch termination {
        case .exited(let code): "\(program) exited with status \(code)"
        case .signaled(let signal): "\(program) was killed by signal \(signal)"
        case .timedOut: "\(program) did not finish within \(request.timeout) and was killed"
        }
        let lastLine = standardErrorTail.split(separator: "\n").last.map { ": \($0)" } ?? ""
        return how + lastLine
    }
}

/// Everything that starts a subprocess goes through this, so tests can record argv
/// and the real runner can enforce timeouts and process-group cleanup in one place.
public protocol ProcessRunning: Sendable {
    /// Runs to completion. A non-zero exit is a normal result; only a failure to start
    /// (program missing, bad working directory) throws.
    func run(_ request: ProcessRequest) async throws(OpsError) -> ProcessResult
}

extension ProcessRunning {
    /// Runs and throws when the command does not exit 0.
    public func checked(_ request: ProcessRequest, code: String, kind: OpsError.Kind = .software,
                        redactor: Redactor = Redactor()) async throws(OpsError) -> ProcessResult {
        let result = try await run(request)
        guard result.succeeded else {
            let tail = result.standardErrorTail.split(separator: "\n").suffix(10).map { redactor.scrub(String($0)) }
            throw OpsError(kind, code: code, redactor.scrub("\(request.displayCommand): \(result.failureSummary)"), details: tail)
        }
        return result
    }
}
