// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit
@_exported import OpsTestSupport

/// Runs the built `opsctl` binary the way an operator or cron would.
struct Opsctl {
    static let repositoryRoot = OpsTestSupport.repositoryRoot
    /// The opsctl under test: `$OPSCTL_BINARY` when set (a release build, an installed copy),
    /// else the one built next to this test binary, so `swift test -c release` or a custom
    /// `--scratch-path` tests its own build, never a stale `.build/debug` one.
    static let binary: String = {
        if let explicit = ProcessInfo.processInfo.environment["OPSCTL_BINARY"], !explicit.isEmpty { return explicit }
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent("opsctl").path
    }()

    struct Run {
        let exitCode: Int32
        let stdout: String
        let stderr: String

        /// The single JSON document `--json` promises; fails the test if stdout is anything else.
        func json() throws -> [String: Any] {
            let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
            return try #require(object as? [String: Any], "stdout is not one JSON object: \(stdout)")
        }
    }

    var directory: String
    var environment: [String: String] = [:]

    /// How long one run may take before the test calls it hung: far beyond what any command
    /// takes even on a loaded machine, so it only ever catches a hang.
    static let hangBound: Duration = .seconds(300)

    @discardableResult
    func run(_ arguments: String..., timeout: Duration = Opsctl.hangBound) async throws -> Run {
        try await run(arguments, timeout: timeout)
    }

    func run(_ arguments: [String], timeout: Duration = Opsctl.hangBound) async throws -> Run {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary),
                     "no opsctl at \(Self.binary): build it (swift build --build-tests) or set OPSCTL_BINARY")
        // stderr is kept whole here (tests read it), so capture it through sh into a file.
        let stderrFile = "\(directory)/.stderr-\(UUID().uuidString)"
        defer { unlink(stderrFile) }
        var env = ["OPSCTL_CONFIG": "", "NO_COLOR": "1"]
        env.merge(environment) { $1 }
        let result = try await SubprocessRunner().run(ProcessRequest(
            "sh", ["-c", "exec \"$0\" \"$@\" 2>\"$OPSCTL_TEST_STDERR\"", Self.binary] + arguments,
            workingDirectory: directory, environment: env.merging(["OPSCTL_TEST_STDERR": stderrFile]) { $1 }, timeout: timeout))
        let stderr = (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? ""
        guard case .exited(let code) = result.termination else {
            Issue.record("opsctl \(arguments.joined(separator: " ")) did not exit normally: \(result.termination)")
            return Run(exitCode: -1, stdout: result.standardOutput, stderr: stderr)
        }
        return Run(exitCode: code, stdout: result.standardOutput, stderr: stderr)
    }
}

extension Opsctl {
    /// A run in the background: its pid and a way to wait for its exit code.
    struct Background {
        let pid: pid_t
        let finished: () async throws -> Int32
    }

    /// Runs opsctl in the background through sh (so signals reach it as they would from a
    /// terminal or systemd); stdout and stderr go to `<name>.out` and `<name>.err` in the directory.
    func background(_ arguments: [String], name: String = "bg") async throws -> Background {
        let pidFile = directory + "/\(name).pid", codeFile = directory + "/\(name).rc"
        unlink(pidFile); unlink(codeFile)
        let script = "\"$0\" \"$@\" >\"\(directory)/\(name).out\" 2>\"\(directory)/\(name).err\" & echo $! >\"\(pidFile)\"; wait $!; echo $? >\"\(codeFile)\""
        var env = ["OPSCTL_CONFIG": ""]
        env.merge(environment) { $1 }
        let request = ProcessRequest("sh", ["-c", script, Self.binary] + arguments, workingDirectory: directory, environment: env, timeout: Self.hangBound)
        let task = Task { try await SubprocessRunner().run(request) }
        var pid: pid_t = 0
        try await eventually("opsctl \(arguments.joined(separator: " ")) to start") {
            guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let value = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return false }
            pid = value
            return true
        }
        // Never 0: kill(0, ...) would signal the test's own process group.
        try #require(pid > 0, "opsctl \(arguments.joined(separator: " ")) did not start")
        return Background(pid: pid, finished: {
            _ = try await task.value
            return Int32((try String(contentsOfFile: codeFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        })
    }
}

/// Waits until `condition` holds (polling), failing the test after `limit`: an outer bound that
/// only catches hangs, never a guess of how fast the machine is.
func eventually(_ what: String, limit: Duration = .seconds(120), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("timed out waiting for \(what)")
}

@discardableResult
func shell(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(120)) async throws -> String {
    try await setUp(executable, arguments, timeout: timeout)
}

/// The sample app running as `app`'s release 1.0.0 of production (its name and labels, on a
/// free port of the host network), as a deploy would have left it: what restore and a vacuum's
/// swap must refuse to touch. Returns the container's name; the caller removes it.
@discardableResult
func runAppRelease(of app: String) async throws -> String {
    try await shell(Opsctl.repositoryRoot + "/Tests/Fixtures/sample-app/build.sh", ["1.0.0"])
    let name = "\(app)-production-1.0.0"
    try await shell("docker", ["run", "-d", "--name", name, "--network", "host", "-e", "PORT=\(freeTestPorts(1)[0])",
                               "--label", "opsctl.app=\(app)", "--label", "opsctl.env=production", "--label", "opsctl.version=1.0.0",
                               "opsctl-sample:1.0.0"])
    return name
}
