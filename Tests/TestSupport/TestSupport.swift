// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import OpsKit

/// Shared by both test targets: temp directories, the repository root, Docker detection and
/// a set-up command runner.

/// A fresh directory under /tmp, removed when the value goes away.
public final class TemporaryDirectory {
    public let path: String

    public init(_ label: String = "opsctl-test") {
        var bytes = Array("/tmp/\(label).XXXXXX".utf8CString)
        guard let created = mkdtemp(&bytes) else { fatalError("mkdtemp failed") }
        path = String(cString: created)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    @discardableResult
    public func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        let target = file(name)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: target)
        return target
    }

    public func read(_ name: String) throws -> String { try String(contentsOfFile: file(name), encoding: .utf8) }
}

/// The repository root, found from this source file (Tests/TestSupport/TestSupport.swift).
public let repositoryRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Docker-backed tests run when an engine answers, and always under CI=true, where a
/// missing engine must fail loudly (a broken install step) instead of skipping.
public enum DockerEngine {
    public static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    public static let answers: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker", "info", "--format", "{{.ServerVersion}}"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    public static var shouldRun: Bool { isCI || answers }
}

/// Runs a command for test set-up; throws with its stderr when it does not exit 0.
@discardableResult
public func setUp(_ executable: String, _ arguments: [String], in directory: String? = nil, timeout: Duration = .seconds(300)) async throws -> String {
    let result = try await SubprocessRunner().run(ProcessRequest(executable, arguments, workingDirectory: directory,
                                                                 environment: ["GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                                                                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"],
                                                                 timeout: timeout))
    guard result.succeeded else { throw OpsError(.software, code: "test.setup", "\(result.request.displayCommand): \(result.failureSummary)") }
    return result.standardOutput
}

/// The port a fixture server reports on its first line, `ready PORT`: the kernel chose it, so no
/// test ever races another listener for it. A server that says anything else is killed.
func readyPort(of process: Process, from ready: Pipe, what: String) throws -> Int {
    var line = Data()
    while let byte = try ready.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
    let words = String(decoding: line, as: UTF8.self).split(separator: " ")
    guard words.first == "ready", words.count == 2, let port = Int(words[1]) else {
        kill(process.processIdentifier, SIGKILL)
        throw OpsError(.software, code: "test.setup", "\(what) did not start: \(String(decoding: line, as: UTF8.self))")
    }
    return port
}

/// A real HTTP server on 127.0.0.1 (Tests/Fixtures/http/server.py) for the libcurl layer.
public final class TestHTTPServer {
    let process = Process()
    public let port: Int

    public let scheme: String

    /// `tls`: PEM certificate and key files; the server then speaks https only.
    public init(tls: (certificate: String, key: String)? = nil) throws {
        scheme = tls == nil ? "http" : "https"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot + "/Tests/Fixtures/http/server.py", "0"]
            + (tls.map { ["--tls", $0.certificate, $0.key] } ?? [])
        let ready = Pipe()
        process.standardOutput = ready
        try process.run()
        port = try readyPort(of: process, from: ready, what: "the test HTTP server")
    }

    public func url(_ path: String) -> String { "\(scheme)://127.0.0.1:\(port)\(path)" }

    deinit {
        // SIGKILL: children of Foundation's Process inherit a blocked SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}


/// The sample app fixture (Tests/Fixtures/sample-app). Its images carry a hash of its files, so
/// a change to the app rebuilds them, and test runs of different checkouts on one Docker engine
/// never deploy each other's version of the app.
public enum SampleApp {
    public static let fixtureHash: String = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "cd \"$0\" && cat Dockerfile app/* | sha256sum | cut -c1-12", repositoryRoot + "/Tests/Fixtures/sample-app"]
        let output = Pipe()
        process.standardOutput = output
        try? process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }()
}

/// Headless Chromium (Debian's `chromium`, installed by scripts/setup.sh) for tests that look
/// at a rendered page. Under CI=true a missing browser is a failure, not a skip.
public enum Chromium {
    public static let path: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .map { "\($0)/chromium" }.first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Renders `html` (a file) to a PNG of `width`×`height` CSS pixels; `dark` asks for the
    /// page's prefers-color-scheme: dark rendering.
    public static func screenshot(_ html: String, to png: String, width: Int = 1200, height: Int = 1600, dark: Bool = false) async throws {
        try await run(["--screenshot=\(png)", "--window-size=\(width),\(height)"] + (dark ? ["--force-dark-mode"] : []), html)
    }

    public static func printToPDF(_ html: String, to pdf: String) async throws {
        try await run(["--print-to-pdf=\(pdf)", "--no-pdf-header-footer"], html)
    }

    static func run(_ arguments: [String], _ html: String) async throws {
        guard let path else { throw OpsError(.unavailable, code: "test.chromium", "chromium is not installed (scripts/setup.sh installs it)") }
        // As root Chromium needs --no-sandbox; the profile goes to a throw-away directory.
        let profile = TemporaryDirectory("opsctl-chromium")
        try await setUp(path, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(profile.path)"]
                        + arguments + [URL(fileURLWithPath: html).absoluteString], timeout: .seconds(90))
    }
}

/// Command-line tools some tests need (pass, promtool, actionlint): scripts/setup.sh installs
/// them. A test that needs one runs when it is there, and always under CI=true, where a missing
/// tool must fail loudly instead of skipping.
public enum RequiredTool {
    /// The tool's path: `<repository>/.venv/bin/NAME` (the project's virtualenv), else PATH.
    public static func path(_ name: String) -> String? {
        let venv = "\(repositoryRoot)/.venv/bin/\(name)"
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public static func shouldRun(_ names: String...) -> Bool { DockerEngine.isCI || names.allSatisfy { path($0) != nil } }
}

/// A real `pass` store with a throw-away, passphrase-less GnuPG key: nothing touches the
/// user's keyring, and the gpg-agent it starts is stopped when the value goes away.
public final class PassStore {
    public let directory = TemporaryDirectory("opsctl-pass")
    /// GNUPGHOME and PASSWORD_STORE_DIR, for every process that reads the store.
    public var environment: [String: String] { ["GNUPGHOME": directory.file("gnupg"), "PASSWORD_STORE_DIR": directory.file("store")] }

    public init() async throws {
        try FileManager.default.createDirectory(atPath: directory.file("gnupg"), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try await run("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                              "--quick-gen-key", "opsctl test <opsctl-test@example.invalid>", "future-default", "default", "never"])
        try await run("pass", ["init", "opsctl-test@example.invalid"])
    }

    deinit {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gpgconf", "--kill", "gpg-agent"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        try? process.run()
        process.waitUntilExit()
    }

    /// Stores `value` under `name` (one line, as `pass insert -m` keeps it).
    public func insert(_ name: String, _ value: String) async throws {
        try await run("pass", ["insert", "--multiline", "--force", name], input: value + "\n")
    }

    @discardableResult
    public func run(_ program: String, _ arguments: [String], input: String? = nil) async throws -> String {
        let result = try await SubprocessRunner().run(ProcessRequest(program, arguments, environment: environment, timeout: .seconds(60), standardInput: input))
        guard result.succeeded else { throw OpsError(.software, code: "test.setup", "\(result.request.displayCommand): \(result.failureSummary)") }
        return result.standardOutput
    }
}
