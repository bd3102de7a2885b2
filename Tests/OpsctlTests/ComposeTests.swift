// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `driver: compose` with Debian's docker-compose (v1) against the sample-app images: the
/// team's two compose files and tag variable, as the seed's deploy.sh used them.
@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct ComposeTests {
    final class Fixture {
        let deploy: DeployFixture
        let project = "ct\(UInt32.random(in: 0...UInt32.max))"
        var path: String { deploy.directory.path }

        init() async throws {
            deploy = try await DeployFixture()
            try deploy.directory.write("docker-compose.yml", """
                version: "2.4"
                services:
                  app:
                    image: \(DeployImages.repository):${DOCKER_IMAGE_TAG:-1.0.0}
                    network_mode: host
                    env_file: .env.production
                    environment:
                      PORT: "\(deploy.port)"

                """)
            try deploy.directory.write("docker-compose.prod.yml", "version: \"2.4\"\nservices:\n  app:\n    restart: \"no\"\n")
            let config = try deploy.directory.read("opsctl.yml").replacingOccurrences(of: "    run:\n", with: """
                    driver: compose
                    compose: {files: [docker-compose.yml, docker-compose.prod.yml], project: \(project), service: app, tag_variable: DOCKER_IMAGE_TAG}
                    run:

                """)
            try deploy.directory.write("opsctl.yml", config)
        }

        deinit {
            let script = "docker ps -aq --filter label=com.docker.compose.project=\(project) | xargs -r docker rm -f >/dev/null 2>&1"
            _ = try? Process.run(URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", script]).waitUntilExit()
        }

        func containers() async throws -> [DockerClient.ContainerState] {
            try await DockerClient(runner: SubprocessRunner()).containers(labels: ["com.docker.compose.project": project])
        }
    }

    @Test func composeIsInstalledWhereTheTestsRun() async throws {
        // Under CI=true the setup script must have installed it: fail loudly, never skip.
        let command = try await ComposeReleaseDriver.detect(runner: SubprocessRunner())
        #expect(command == ["docker", "compose"] || command == ["docker-compose"])
    }

    @Test func upgradeUnhealthyRolledBackAndRollbackTo() async throws {
        let fixture = try await Fixture()
        let opsctl = fixture.deploy.opsctl

        let plan = try await opsctl.run("deploy", "production", "1.0.0", "--dry-run")
        #expect(plan.exitCode == 0, "\(plan.stdout)\(plan.stderr)")
        #expect(plan.stdout.contains("DOCKER_IMAGE_TAG=1.0.0 "))
        #expect(plan.stdout.contains("--file \(fixture.path)/docker-compose.yml --file \(fixture.path)/docker-compose.prod.yml --project-name \(fixture.project) up --detach --no-deps app"))
        #expect(try await fixture.containers().isEmpty, "a dry run starts nothing")

        let first = try await opsctl.run("deploy", "production", "1.0.0")
        #expect(first.exitCode == 0, "\(first.stdout)\(first.stderr)")
        let upgrade = try await opsctl.run("deploy", "production", "1.0.1")
        #expect(upgrade.exitCode == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        #expect(fixture.deploy.serving() == "1.0.1")
        let running = try await fixture.containers()
        #expect(running.count == 1 && running[0].image == "\(DeployImages.repository):1.0.1", "compose replaced the container")

        var shortTimeout = opsctl
        shortTimeout.environment["HEALTH_TIMEOUT"] = "3s"
        let broken = try await shortTimeout.run("deploy", "production", "1.0.2", "--json")
        #expect(broken.exitCode == 3, "\(broken.stdout)")
        #expect((try broken.json()["reason"] as? String)?.hasPrefix("not healthy after 3s: HTTP 503") == true)
        #expect(fixture.deploy.serving() == "1.0.1")
        #expect(try fixture.deploy.rows().first?.status == .rolledBack)

        let back = try await opsctl.run("rollback", "production", "--to", "1.0.0")
        #expect(back.exitCode == 0, "\(back.stdout)\(back.stderr)")
        #expect(fixture.deploy.serving() == "1.0.0")

        let status = try await opsctl.run("status", "production", "--json")
        let document = try status.json()
        #expect(document["driver"] as? String == "compose")
        #expect(((document["runtime"] as? [String: Any])?["running_version"] as? String) == "1.0.0", "status asks compose's containers")
        #expect(document["drift"] == nil)
        try fixture.deploy.assertNoSecrets([first.stdout, upgrade.stdout, broken.stdout, back.stdout, status.stdout])
    }

    @Test func composeFileErrorsAreRefusedWithComposesMessage() async throws {
        let fixture = try await Fixture()
        #expect(try await fixture.deploy.opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        try fixture.deploy.directory.write("docker-compose.prod.yml", "version: \"2.4\"\nservices:\n  app:\n    restart: \"no\"\n   image: [oops\n")
        let broken = try await fixture.deploy.opsctl.run("deploy", "production", "1.0.1")
        #expect(broken.exitCode == 78)
        #expect(broken.stderr.contains("the compose files do not load"))
        #expect(broken.stderr.contains("docker-compose.prod.yml\", line 5"), "compose's own words, with the line: \(broken.stderr)")
        #expect(fixture.deploy.serving() == "1.0.0", "refused before the live release was touched")

        try fixture.deploy.directory.write("docker-compose.prod.yml", "version: \"2.4\"\nservices:\n  app:\n    restart: \"no\"\n")
        let config = try fixture.deploy.directory.read("opsctl.yml").replacingOccurrences(of: "service: app,", with: "service: web,")
        try fixture.deploy.directory.write("opsctl.yml", config)
        let noService = try await fixture.deploy.opsctl.run("deploy", "production", "1.0.1")
        #expect(noService.exitCode == 78 && noService.stderr.contains("define no service \"web\""))
        #expect(try fixture.deploy.rows().count == 1)
    }

    /// Restore asks the same runtime deploy uses: a running compose container blocks it like a
    /// docker one, a drill does not.
    @Test func restoreRefusesWhileTheComposeServiceRuns() async throws {
        let fixture = try await Fixture()
        let config = try fixture.deploy.directory.read("opsctl.yml").replacingOccurrences(of: "    keep_releases: 2\n", with: """
                keep_releases: 2
                database: {path: data/app.db}
                backup: {dir: backups}

            """)
        try fixture.deploy.directory.write("opsctl.yml", config)
        try FileManager.default.createDirectory(atPath: fixture.path + "/data", withIntermediateDirectories: true)
        try SQLiteDatabase(path: fixture.path + "/data/app.db").execute("CREATE TABLE t (x); INSERT INTO t VALUES (1)")
        let opsctl = fixture.deploy.opsctl
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        #expect(try await opsctl.run("backup", "production").exitCode == 0)
        #expect(try await opsctl.run("verify", "production").exitCode == 0)

        let refused = try await opsctl.run("restore", "production", "--json")
        #expect(refused.exitCode == 1, "\(refused.stdout)\(refused.stderr)")
        let error = try refused.json()["error"] as? [String: Any]
        #expect(error?["code"] as? String == "restore.app_running")
        #expect((error?["message"] as? String)?.contains("\(fixture.project)") == true, "names compose's container: \(refused.stdout)")
        #expect(try await opsctl.run("restore", "production", "--to", "drill.db").exitCode == 0, "a drill never asks the runtime")
    }
}
