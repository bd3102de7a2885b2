// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Subprocess
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// The real runner, on swift-subprocess. Each child starts in a new session (its own process
/// group), so a timeout or a cancelled task kills the child *and* anything it forked:
/// SIGTERM to the group, SIGKILL after `gracePeriod`, then a final SIGKILL sweep of the group.
/// The sweep is ours: swift-subprocess stops its teardown as soon as the direct child exits,
/// which would leave a grandchild that ignores SIGTERM running.
public struct SubprocessRunner: ProcessRunning {
    public var gracePeriod: Duration
    /// Upper bound on captured stdout; larger output fails the call instead of exhausting memory.
    public var outputLimit: Int

    public init(gracePeriod: Duration = .seconds(2), outputLimit: Int = 64 << 20) {
        self.gracePeriod = gracePeriod
        self.outputLimit = outputLimit
    }

    private struct TimedOut: Error {}

    public func run(_ request: ProcessRequest) async throws(OpsError) -> ProcessResult {
        let executable = try Self.locate(request.executable)
        var platformOptions = PlatformOptions()
        platformOptions.createSession = true
        platformOptions.teardownSequence = [.send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: gracePeriod)]
        let options = platformOptions
        var overrides: [Environment.Key: String?] = [:]
        for (key, value) in request.environment { overrides[Environment.Key(stringLiteral: key)] = value }
        let environment = overrides
        let workingDirectory = request.workingDirectory.map { FilePath($0) }
        let started = ContinuousClock.now
        let outputLimit = self.outputLimit
        let input = request.standardInput ?? ""
        let spawned = SpawnedProcess()
        defer { spawned.killGroup() }

        do {
            let collected = try await withThrowingTaskGroup(of: Outcome.self, returning: CollectedRun?.self) { group in
                group.addTask {
                    let result = try await Subprocess.run(
                        .path(FilePath(executable)),
                        arguments: Arguments(request.arguments),
                        environment: .inherit.updating(environment),
                        workingDirectory: workingDirectory,
                        platformOptions: options,
                        input: .string(input),
                        output: .string(limit: outputLimit),
                        error: .string(limit: outputLimit)
                    ) { execution in
                        spawned.record(execution.processIdentifier.value)
                    }
                    return .finished(CollectedRun(status: result.terminationStatus,
                                                  standardOutput: result.standardOutput,
                                                  standardError: result.standardError))
                }
                group.addTask {
                    try await spawned.waitUntilSpawned()
                    try await Task.sleep(for: request.timeout)
                    return .deadline
                }
                defer { group.cancelAll() }
                // The first task to finish decides; leaving the scope cancels the other, and a
                // cancelled run tears its process group down before the group returns.
                var extended = false
                while let outcome = try await group.next() {
                    switch outcome {
                    case .finished(let run):
                        return run
                    // On a busy host the deadline and the exit can be noticed together, long after
                    // both happened: a process that already exited did not time out. Its output
                    // still has to arrive within another timeout (a daemon it left may hold the pipes).
                    case .deadline where !extended && spawned.hasExited:
                        extended = true
                        group.addTask {
                            try await Task.sleep(for: request.timeout)
                            return .deadline
                        }
                    case .deadline:
                        return nil
                    }
                }
                return nil
            }
            guard let collected else { throw TimedOut() }
            // Exited on its own: descendants that outlive it are the caller's design (a daemon
            // it started), not ours to kill.
            spawned.markFinished()
            let termination: ProcessResult.Termination = switch collected.status {
            case .exited(let code): .exited(code)
            case .signaled(let signal): .signaled(signal)
            }
            return ProcessResult(request: request, termination: termination, standardOutput: collected.standardOutput,
                                 standardErrorTail: request.keepsFullStandardError ? collected.standardError : Self.tail(collected.standardError),
                                 duration: ContinuousClock.now - started)
        } catch is TimedOut {
            return ProcessResult(request: request, termination: .timedOut, standardOutput: "",
                                 standardErrorTail: "", duration: ContinuousClock.now - started)
        } catch let error as SubprocessError {
            throw OpsError(.unavailable, code: "process.failed", "\(request.displayCommand): could not run: \(error)")
        } catch is CancellationError {
            throw OpsError(.software, code: "process.cancelled", "\(request.displayCommand): cancelled")
        } catch {
            throw OpsError(.software, code: "process.failed", "\(request.displayCommand): \(error)")
        }
    }

    /// The child's pid (= its process group id, since it leads a new session), kept so the
    /// group can be swept after a timeout or cancellation.
    private final class SpawnedProcess: @unchecked Sendable {
        private let lock = NSLock()
        private var groupID: pid_t?
        private var finished = false

        func record(_ pid: pid_t) { lock.withLock { groupID = pid } }
        func markFinished() { lock.withLock { finished = true } }

        /// The timeout counts from the spawn: on a busy host the spawn itself can come late.
        func waitUntilSpawned() async throws {
            while lock.withLock({ groupID == nil }) { try await Task.sleep(for: .milliseconds(5)) }
        }

        /// Whether the child has exited (a zombie not yet reaped, or reaped already), without
        /// reaping it: swift-subprocess collects its status.
        var hasExited: Bool {
            guard let pid = lock.withLock({ groupID }) else { return false }
            var info = siginfo_t()
            guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return errno == ECHILD }
            return info._sifields._sigchld.si_pid == pid
        }

        /// SIGKILL to whatever is left of the group; a no-op after a normal exit.
        func killGroup() {
            lock.withLock {
                guard !finished, let groupID, groupID > 1 else { return }
                kill(-groupID, SIGKILL)
            }
        }
    }

    private enum Outcome: Sendable {
        case finished(CollectedRun)
        case deadline
    }

    private struct CollectedRun: Sendable {
        var status: TerminationStatus
        var standardOutput: String
        var standardError: String
    }

    static func tail(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .suffix(ProcessResult.stderrTailLines + 1)
            .joined(separator: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Resolves a program name through PATH so a missing tool is a clear "not found" (exit 69).
    public static func locate(_ executable: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) throws(OpsError) -> String {
        if executable.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                throw OpsError(.unavailable, code: "process.not_found", "\(executable) is not an executable file")
            }
            return executable
        }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw OpsError(.unavailable, code: "process.not_found", "\(executable) was not found in PATH",
                       details: ["install it (scripts/setup.sh installs what opsctl needs), or fix PATH"])
    }
}
