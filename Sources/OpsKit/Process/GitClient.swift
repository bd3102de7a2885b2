// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Typed git calls for one repository. Every call is `git -C <dir> ...`, argv only.
public struct GitClient: Sendable {
    public let runner: any ProcessRunning
    public let directory: String
    public var timeout: Duration = .seconds(30)

    public init(runner: any ProcessRunning, directory: String) {
        self.runner = runner
        self.directory = directory
    }

    func request(_ arguments: [String]) -> ProcessRequest {
        // GIT_TERMINAL_PROMPT=0: never hang at 3 a.m. waiting for credentials nobody will type.
        ProcessRequest("git", ["-C", directory] + arguments, environment: ["GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"], timeout: timeout)
    }

    /// The commit a ref points at, or nil when the ref does not exist.
    public func commit(for ref: String) async throws(OpsError) -> String? {
        let result = try await runner.run(request(["rev-parse", "--verify", "--quiet", "--end-of-options", "\(ref)^{commit}"]))
        switch result.termination {
        case .exited(0): return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        case .exited(1): return nil
        default: throw unavailable(result)
        }
    }

    /// Tags matching `prefix*`, as git lists them.
    public func tags(prefix: String = "") async throws(OpsError) -> [String] {
        let result = try await runner.run(request(["tag", "--list", "\(prefix)*"]))
        guard result.succeeded else { throw unavailable(result) }
        return result.standardOutput.split(separator: "\n").map(String.init)
    }

    /// Tags that are `prefix` + a strict semver, highest precedence first.
    public func releaseTags(prefix: String) async throws(OpsError) -> [(version: SemVer, tag: String)] {
        Self.releaseTags(try await tags(prefix: prefix), prefix: prefix)
    }

    /// Of `tags`, those that are `prefix` + a strict semver, highest precedence first.
    public static func releaseTags(_ tags: [String], prefix: String) -> [(version: SemVer, tag: String)] {
        tags.compactMap { tag in
            guard tag.hasPrefix(prefix) else { return nil }
            return (try? SemVer(parsing: String(tag.dropFirst(prefix.count)))).map { ($0, tag) }
        }.sorted { $0.version > $1.version }
    }

    public func isRepository() async throws(OpsError) -> Bool {
        try await runner.run(request(["rev-parse", "--git-dir"])).succeeded
    }

    func unavailable(_ result: ProcessResult) -> OpsError {
        OpsError(.unavailable, code: "git.failed", "\(directory): \(result.failureSummary)",
                 details: result.standardErrorTail.split(separator: "\n").suffix(5).map(String.init))
    }
}
