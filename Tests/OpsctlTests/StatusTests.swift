// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `opsctl status` against a real Docker engine and the sample app.
@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
final class StatusTests {
    let directory = TemporaryDirectory("opsctl-status")
    let app = "st\(UInt32.random(in: 0...UInt32.max))"
    let port = freeTestPorts(1)[0]
    var containers: [String] = []

    var opsctl: Opsctl { Opsctl(directory: directory.path) }

    init() throws {
        try directory.write("opsctl.yml", """
            app: \(app)
            image: opsctl-sample
            environments:
              production:
                run: {network: host}
                health: {url: "http://127.0.0.1:\(port)/health"}

            """)
    }

    deinit {
        for name in containers {
            let process = try? Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: ["docker", "rm", "-f", name])
            process?.waitUntilExit()
        }
    }

    /// What deploy will do (issue 6); here the test starts the labelled container itself.
    func startRelease(_ version: String) async throws -> String {
        try await shell(Opsctl.repositoryRoot + "/Tests/Fixtures/sample-app/build.sh", [version])
        let name = "\(app)-production-\(version)"
        containers.append(name)
        try await shell("docker", ["run", "-d", "--name", name, "--network", "host", "-e", "PORT=\(port)",
                                   "--label", "opsctl.app=\(app)", "--label", "opsctl.env=production", "--label", "opsctl.version=\(version)",
                                   "opsctl-sample:\(version)"])
        return name
    }

    func recordDeploy(_ version: String, status: DeploymentStatus = .succeeded) throws {
        let ledger = try Ledger(path: directory.path + "/.opsctl/state.db")
        let id = try ledger.beginDeployment(env: "production", kind: .deploy, version: version, previousVersion: nil, gitCommit: nil,
                                            image: "opsctl-sample:\(version)", container: nil, actor: "test", message: nil)
        try ledger.finishDeployment(id: id, status: status)
    }

    @Test func reportsWhatDockerRunsAndDriftFromTheLedger() async throws {
        let nothing = try await opsctl.run("status", "production")
        #expect(nothing.exitCode == 0, "\(nothing.stderr)")
        #expect(nothing.stdout.contains("nothing deployed yet"))
        #expect(nothing.stdout.contains("running (docker): no container"))

        let name = try await startRelease("1.0.0")
        try recordDeploy("1.0.0")
        let live = try await opsctl.run("status", "production", "--json")
        #expect(live.exitCode == 0, "\(live.stderr)")
        let document = try live.json()
        #expect(document["ok"] as? Bool == true)
        #expect(document["live_version"] as? String == "1.0.0")
        let runtime = try #require(document["runtime"] as? [String: Any])
        #expect(runtime["running_version"] as? String == "1.0.0")
        #expect((runtime["containers"] as? [[String: Any]])?.first?["name"] as? String == name)
        #expect(document["drift"] == nil)

        // The ledger says 1.0.1 went live, but docker still runs 1.0.0.
        try recordDeploy("1.0.1")
        let drifted = try await opsctl.run("status", "production")
        #expect(drifted.stdout.contains("DRIFT: the ledger says 1.0.1 is live, but docker runs 1.0.0"), "\(drifted.stdout)")

        try await shell("docker", ["stop", "-t", "1", name])
        let stopped = try await opsctl.run("status", "production")
        #expect(stopped.stdout.contains("DRIFT: the ledger says 1.0.1 is live, but no \(app) container runs"), "\(stopped.stdout)")
        #expect(stopped.stdout.contains("kept for rollback: 1.0.0"))
    }

    @Test func reconcilesARunLeftByAKilledProcess() async throws {
        let ledger = try Ledger(path: directory.path + "/.opsctl/state.db")
        try ledger.database.query("""
            INSERT INTO deployments (env, version, status, started_at, host, pid) VALUES ('production', '3.0.0', 'running', 1, ?, 2147483646)
            """, [.text(ProcessInfo.processInfo.hostName)])
        let result = try await opsctl.run("status", "production")
        #expect(result.stdout.contains("marked interrupted: deployment #1 of 3.0.0"))
        #expect(try ledger.lastDeployment(env: "production")?.status == .interrupted)
    }

    @Test func aDeadDaemonIsExit69AndStillShowsTheLedger() async throws {
        try recordDeploy("1.0.0")
        var dead = opsctl
        dead.environment["DOCKER_HOST"] = "unix:///tmp/opsctl-no-daemon.sock"
        let text = try await dead.run("status", "production")
        #expect(text.exitCode == 69)
        #expect(text.stdout.contains("live (ledger):   1.0.0"))
        #expect(text.stdout.contains("running (docker): UNKNOWN: the Docker daemon is not reachable"))
        let json = try await dead.run("status", "production", "--json")
        #expect(json.exitCode == 69)
        let document = try json.json()
        #expect(document["ok"] as? Bool == false)
        #expect((document["runtime"] as? [String: Any])?["reachable"] as? Bool == false)
    }
}
