// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

struct GitClientTests {
    let directory = TemporaryDirectory("opsctl-git")

    @Test func readsReleaseTagsFromARealRepository() async throws {
        let repo = directory.path
        try await setUp("git", ["init", "-q", repo])
        try await setUp("git", ["-C", repo, "commit", "-q", "--allow-empty", "-m", "one"])
        for tag in ["v1.0.0", "v1.0.1", "v1.10.0", "v1.2.0", "v2.0.0-rc.1", "v01.0.0", "vnext", "release-3"] {
            try await setUp("git", ["-C", repo, "tag", tag])
        }
        let git = GitClient(runner: SubprocessRunner(), directory: repo)
        #expect(try await git.isRepository())
        let releases = try await git.releaseTags(prefix: "v")
        #expect(releases.map(\.tag) == ["v2.0.0-rc.1", "v1.10.0", "v1.2.0", "v1.0.1", "v1.0.0"])
        let head = try await setUp("git", ["-C", repo, "rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await git.commit(for: "v1.0.1") == head)
        #expect(try await git.commit(for: "v9.9.9") == nil)
        // A ref that looks like an option is still just a ref.
        #expect(try await git.commit(for: "--output=/tmp/x") == nil)
    }

    @Test func outsideARepository() async throws {
        let git = GitClient(runner: SubprocessRunner(), directory: directory.path)
        #expect(try await !git.isRepository())
        await #expect(throws: OpsError.self) { try await git.tags(prefix: "v") }
    }
}

struct DockerClientArgvTests {
    @Test func asksForJSONWithTypedArgv() async throws {
        let runner = RecordingRunner { request in
            if request.arguments.first == "ps" { return RecordingRunner.result(request, stdout: "aaa\nbbb\n") }
            return RecordingRunner.result(request, stdout: "[]")
        }
        let docker = DockerClient(runner: runner)
        _ = try await docker.containers(labels: ["opsctl.env": "production", "opsctl.app": "dash board"])
        #expect(runner.requests.map(\.arguments) == [
            ["ps", "--all", "--quiet", "--no-trunc", "--filter", "label=opsctl.app=dash board", "--filter", "label=opsctl.env=production"],
            ["container", "inspect", "--", "aaa", "bbb"],
        ])
        #expect(runner.requests.allSatisfy { $0.executable == "docker" })
    }

    @Test func aDeadDaemonIsUnavailable() async throws {
        let runner = RecordingRunner { request in
            RecordingRunner.result(request, exit: 1, stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
        }
        do {
            _ = try await DockerClient(runner: runner).version()
            Issue.record("expected an error")
        } catch {
            #expect(error.code == "docker.unavailable")
            #expect(error.exitCode == 69)
        }
    }
}

@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct DockerClientTests {
    let docker = DockerClient(runner: SubprocessRunner())

    @Test func talksToTheRealEngine() async throws {
        let version = try await docker.version()
        #expect(!version.server.isEmpty)
        let info = try await docker.info()
        #expect(!info.serverVersion.isEmpty)
        #expect(try await docker.inspectContainer("opsctl-no-such-container-\(UInt32.random(in: 0...UInt32.max))") == nil)
        #expect(try await !docker.imageExists("opsctl-no-such-image:0.0.0"))
    }

    @Test func findsLabelledContainers() async throws {
        try await setUp(repositoryRoot + "/Tests/Fixtures/sample-app/build.sh", ["1.0.0"])
        #expect(try await docker.imageExists("opsctl-sample:1.0.0"))
        let app = "client-\(UInt32.random(in: 0...UInt32.max))"
        let name = "\(app)-test-1.0.0"
        try await setUp("docker", ["create", "--name", name, "--network", "host", "--label", "opsctl.app=\(app)", "--label", "opsctl.env=test",
                                   "--label", "opsctl.version=1.0.0", "-e", "PORT=29123", "opsctl-sample:1.0.0"])
        defer { _ = try? Foundation.Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: ["docker", "rm", "-f", name]).waitUntilExit() }
        let found = try await docker.containers(labels: ["opsctl.app": app, "opsctl.env": "test"])
        #expect(found.map(\.name) == [name])
        #expect(found.first?.version == "1.0.0")
        #expect(found.first?.running == false)
        #expect(found.first?.status == "created")
        #expect(try await docker.containers(labels: ["opsctl.app": app, "opsctl.env": "other"]).isEmpty)
        let state = try #require(try await docker.inspectContainer(name))
        #expect(state.image == "opsctl-sample:1.0.0")
    }

    @Test func aDaemonThatIsNotThereIsExit69() async throws {
        // A real docker client pointed at a socket nothing listens on.
        let runner = DockerHostRunner(host: "unix:///tmp/opsctl-no-daemon-\(getpid()).sock")
        do {
            _ = try await DockerClient(runner: runner).version()
            Issue.record("expected docker.unavailable")
        } catch {
            #expect(error.code == "docker.unavailable")
            #expect(error.exitCode == 69)
        }
    }
}

/// The real runner with DOCKER_HOST overridden.
struct DockerHostRunner: ProcessRunning {
    let host: String
    func run(_ request: ProcessRequest) async throws(OpsError) -> ProcessResult {
        var request = request
        request.environment["DOCKER_HOST"] = host
        return try await SubprocessRunner().run(request)
    }
}
