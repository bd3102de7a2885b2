// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `build:`: the release image built from exactly what the tag holds (`git archive`), never
/// from whatever the working tree has now.
public struct ImageBuilder: Sendable {
    public let runner: any ProcessRunning
    public let git: String
    public let scratch: String
    /// Secret build args reach docker through its environment (`--build-arg NAME` without a value
    /// reads it there), never argv, which any user can read in /proc; never our output either.
    public var redactor = Redactor()

    public func build(reference: String, tag: String, settings: BuildSettings) async throws(OpsError) {
        let directory = scratch + "/.opsctl-build-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw OpsError(.io, code: "build.scratch", "\(directory): cannot create the build directory: \(error.localizedDescription)")
        }
        let archive = directory + ".tar"
        defer { unlink(archive) }
        _ = try await runner.checked(ProcessRequest("git", ["-C", git, "archive", "--format=tar", "--output=\(archive)", "refs/tags/\(tag)"], timeout: .seconds(300)),
                                 code: "build.archive", kind: .unavailable)
        _ = try await runner.checked(ProcessRequest("tar", ["-x", "-f", archive, "-C", directory], timeout: .seconds(300)), code: "build.extract", kind: .io)
        let context = URL(fileURLWithPath: settings.context, relativeTo: URL(fileURLWithPath: directory + "/")).standardizedFileURL.path
        guard context.hasPrefix(directory) else {
            throw OpsError(.config, code: "build.context", "build.context \"\(settings.context)\" points outside the repository")
        }
        var arguments = ["build", "--tag", reference]
        if let dockerfile = settings.dockerfile { arguments += ["--file", context + "/" + dockerfile] }
        // The legacy builder needs neither buildx nor a registry.
        var environment = ["DOCKER_BUILDKIT": "0"]
        for argument in settings.args {
            if argument.secret != nil {
                arguments += ["--build-arg", argument.name]
                environment[argument.name] = argument.resolvedValue
            } else {
                arguments += ["--build-arg", "\(argument.name)=\(argument.resolvedValue)"]
            }
        }
        _ = try await runner.checked(ProcessRequest("docker", arguments + [context], environment: environment, timeout: .seconds(1800)),
                                 code: "build.failed", kind: .unavailable, redactor: redactor)
    }
}
