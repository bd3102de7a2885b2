import Foundation
import Testing
@testable import OpsKit

/// Runs the built `opsctl` binary the way an operator or cron would.
struct Opsctl {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let binary = repositoryRoot + "/.build/debug/opsctl"

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

    @discardableResult
    func run(_ arguments: String..., timeout: Duration = .seconds(60)) async throws -> Run {
        try await run(arguments, timeout: timeout)
    }

    func run(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> Run {
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

final class TemporaryDirectory {
    let path: String

    init(_ label: String) {
        var bytes = Array("/tmp/\(label).XXXXXX".utf8CString)
        guard let created = mkdtemp(&bytes) else { fatalError("mkdtemp failed") }
        path = String(cString: created)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let target = "\(path)/\(name)"
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }

    func read(_ name: String) throws -> String { try String(contentsOfFile: "\(path)/\(name)", encoding: .utf8) }
}

enum DockerEngine {
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    static let answers: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker", "info", "--format", "{{.ServerVersion}}"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    static var shouldRun: Bool { isCI || answers }
}

@discardableResult
func shell(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(120)) async throws -> String {
    let result = try await SubprocessRunner().run(ProcessRequest(executable, arguments, timeout: timeout))
    guard result.succeeded else { throw OpsError(.software, code: "test.setup", "\(result.request.displayCommand): \(result.failureSummary)") }
    return result.standardOutput
}
