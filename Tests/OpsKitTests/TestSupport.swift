import Foundation
@testable import OpsKit

/// A fresh directory under /tmp, removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init(_ label: String = "opsctl-test") {
        let template = "/tmp/\(label).XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let created = mkdtemp(&bytes) else { fatalError("mkdtemp failed") }
        path = String(cString: created)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        let target = file(name)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: target)
        return target
    }
}

/// The repository root, found from this source file (Tests/OpsKitTests/TestSupport.swift).
let repositoryRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Runs `body` and returns the OpsError it threw, or nil.
func opsError(_ body: () throws(OpsError) -> Void) -> OpsError? {
    do { try body(); return nil } catch { return error }
}

/// Docker-backed tests run when an engine answers, and always under CI=true, where a
/// missing engine must fail loudly (a broken install step) instead of skipping.
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

/// Runs a command for test set-up and fails the test with its stderr when it does not exit 0.
@discardableResult
func setUp(_ executable: String, _ arguments: [String], in directory: String? = nil, timeout: Duration = .seconds(120)) async throws -> String {
    let result = try await SubprocessRunner().run(ProcessRequest(executable, arguments, workingDirectory: directory,
                                                                 environment: ["GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                                                                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"],
                                                                 timeout: timeout))
    guard result.succeeded else { throw OpsError(.software, code: "test.setup", "\(result.request.displayCommand): \(result.failureSummary)") }
    return result.standardOutput
}
