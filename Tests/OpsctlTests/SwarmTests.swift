// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `driver: swarm` on a real 3-node swarm (one per suite, Tests/Fixtures/swarm/swarm.sh): each
/// test deploys its own app on its own port, through the manager, as an operator would.
@Suite(.serialized, .enabled(if: SwarmCluster.canRun, "needs root, ip, nsenter and a Docker engine (always required under CI=true)"),
       .swarmCluster())
struct SwarmTests {
    @Test func createThenRollingUpdateOnEveryNodeWithSecretsAndStatus() async throws {
        let app = try await SwarmApp(parallelism: 1)

        let create = try await app.run("deploy", "production", "1.0.0", "--json")
        #expect(create.exitCode == 0, "\(create.stdout)\(create.stderr)")
        #expect(try create.json()["outcome"] as? String == "succeeded")
        let created = try #require(try create.json()["swarm"] as? [String: Any])
        #expect(created["created"] as? Bool == true)
        await app.expectEveryNode("1.0.0")

        let update = try await app.run("deploy", "production", "1.0.1", "--json")
        #expect(update.exitCode == 0, "\(update.stdout)\(update.stderr)")
        let swarm = try #require(try update.json()["swarm"] as? [String: Any])
        #expect(swarm["update_state"] as? String == "completed")
        let tasks = try #require(swarm["tasks"] as? [[String: Any]])
        #expect(tasks.count == 3 && tasks.allSatisfy { $0["version"] as? String == "1.0.1" && $0["current_state"] as? String == "running" })
        let nodes = Set(tasks.compactMap { ($0["node"] as? [String: Any])?["address"] as? String })
        #expect(nodes == Set((1...3).map(app.cluster.address)), "one task on each node (host-mode port): \(nodes)")
        await app.expectEveryNode("1.0.1")

        // Secrets are Docker secrets, never plain env in the spec `docker service inspect` shows.
        let spec = try await app.inspectService()
        #expect(spec.contains("JWT_SECRET_FILE=/run/secrets/JWT_SECRET") && spec.contains("API_TOKEN_FILE=/run/secrets/API_TOKEN"))
        #expect(spec.contains("DATABASE_URL_FILE=/run/secrets/DATABASE_URL") && !spec.contains(SwarmApp.databasePassword), "a URL with a password from the env file")
        #expect(try await app.secretNames().count == 3)
        let container = try await app.cluster.docker(["ps", "-q", "--filter", "label=com.docker.swarm.service.name=\(app.service)"], host: app.cluster.host(2))
        let inside = try await app.cluster.docker(["exec", container.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines), "cat", "/run/secrets/JWT_SECRET"],
                                                  host: app.cluster.host(2))
        #expect(inside.standardOutput == app.jwtSecret, "the app reads the secret from its file")

        let status = try await app.run("status", "production", "--json")
        #expect(status.exitCode == 0, "\(status.stderr)")
        let view = try #require(try status.json()["swarm"] as? [String: Any])
        let statusTasks = try #require(view["tasks"] as? [[String: Any]])
        #expect(statusTasks.count == 3)
        for task in statusTasks {
            let node = try #require(task["node"] as? [String: Any])
            #expect(node["id"] as? String != nil && node["hostname"] as? String != nil && node["address"] as? String != nil)
            #expect(task["desired_state"] as? String == "running" && task["current_state"] as? String == "running" && task["version"] as? String == "1.0.1")
        }
        #expect((view["nodes"] as? [[String: Any]])?.count == 3)
        #expect(try status.json()["drift"] == nil)
        let text = try await app.run("status", "production")
        for node in 1...3 { #expect(text.stdout.contains("node\(node)") && text.stdout.contains(app.cluster.address(node))) }

        let preflight = try await app.run("preflight", "production", "--json")
        let checks = try #require(try preflight.json()["checks"] as? [[String: Any]])
        #expect(checks.first { $0["id"] as? String == "swarm.nodes" }?["status"] as? String == "pass")

        // An incident's bundle reads every task's logs, on every node, through the manager.
        let incident = try await app.run("incident", "open", "production", "slow checkout", "--json")
        #expect(incident.exitCode == 0, "\(incident.stdout)\(incident.stderr)")
        let bundle = try #require(try incident.json()["bundle"] as? [String: Any])
        #expect(IncidentEndToEndTests.outcomes(bundle)["logs"] == "ok", "\(incident.stdout)")
        let bundled = try await IncidentEndToEndTests.extract(try #require(bundle["file"] as? String))
        for slot in 1...3 {
            #expect(bundled.keys.contains { $0.contains("/logs/\(app.service).\(slot)-") }, "task \(slot): \(bundled.keys.sorted())")
        }
        #expect(IncidentEndToEndTests.file(bundled, "docker-service-inspect.json").contains("JWT_SECRET_FILE=/run/secrets/JWT_SECRET"))
        try app.assertNoSecrets([spec] + bundled.values)
    }

    @Test func unhealthyAndCrashingReleasesAreRolledBackBySwarmOnEveryNode() async throws {
        let app = try await SwarmApp(parallelism: 3)
        #expect(try await app.run("deploy", "production", "1.0.1").exitCode == 0)

        let unhealthy = try await app.run("deploy", "production", "1.0.2", "--json")
        #expect(unhealthy.exitCode == 3, "\(unhealthy.stdout)\(unhealthy.stderr)")
        let report = try unhealthy.json()
        #expect((report["reason"] as? String)?.contains("Swarm rolled the update back") == true, "\(report["reason"] ?? "")")
        let swarm = try #require(report["swarm"] as? [String: Any])
        #expect(swarm["update_state"] as? String == "rollback_completed")
        #expect(((swarm["failing_tasks"] as? [[String: Any]])?.count ?? 0) >= 1)
        #expect((report["failed_logs"] as? String)?.contains("GET /health 503") == true, "the failing tasks' last lines: \(report["failed_logs"] ?? "")")
        await app.expectEveryNode("1.0.1")

        // The docker CLI alone reports success for the same update Swarm rolled back.
        let image = "\(DeployImages.repository):1.0.2"
        let bare = try await app.cluster.docker(["service", "update", "--detach=false", "--quiet", "--no-resolve-image", "--image", image, app.service], timeout: .seconds(120))
        let state = try await app.cluster.docker(["service", "inspect", "--format", "{{.UpdateStatus.State}}", app.service])
        #expect(bare.succeeded && state.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "rollback_completed",
                "docker service update exits 0 (\(bare.termination)) although Swarm rolled back (\(state.standardOutput))")

        let crash = try await app.run("deploy", "production", "1.0.3", "--json")
        #expect(crash.exitCode == 3, "\(crash.stdout)\(crash.stderr)")
        let crashed = try crash.json()
        let failing = try #require((crashed["swarm"] as? [String: Any])?["failing_tasks"] as? [[String: Any]])
        #expect(failing.contains { ($0["error"] as? String)?.contains("non-zero exit") == true })
        let logs = try #require(crashed["failed_logs"] as? String)
        #expect(logs.contains("cannot open database") && logs.contains("JWT_SECRET=<redacted>"), "\(logs)")
        await app.expectEveryNode("1.0.1")

        let rows = try app.ledger.deployments(env: "production", limit: 10)
        #expect(rows.map(\.status) == [.rolledBack, .rolledBack, .succeeded])
        try app.assertNoSecrets()
    }

    @Test func smokeFailingAfterSwarmConvergedIsRolledBackThenRollbackAndRotatedSecrets() async throws {
        let app = try await SwarmApp(parallelism: 3)
        #expect(try await app.run("deploy", "production", "1.0.0").exitCode == 0)
        #expect(try await app.run("deploy", "production", "1.0.1").exitCode == 0)

        let plan = try await app.run("deploy", "production", "1.0.5", "--dry-run")
        #expect(plan.exitCode == 0 && plan.stdout.contains("docker service update --detach --image \(DeployImages.repository):1.0.5"), "\(plan.stdout)")
        #expect(plan.stdout.contains("--update-failure-action rollback") && plan.stdout.contains("--no-resolve-image"))

        let smoke = try await app.run("deploy", "production", "1.0.5", "--json")
        #expect(smoke.exitCode == 3, "\(smoke.stdout)\(smoke.stderr)")
        let report = try smoke.json()
        #expect((report["reason"] as? String)?.hasPrefix("smoke failed") == true)
        let steps = (report["steps"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(steps.contains("swarm rollback to 1.0.1"), "\(steps)")
        #expect((report["swarm"] as? [String: Any])?["update_state"] as? String == "rollback_completed")
        await app.expectEveryNode("1.0.1")

        let back = try await app.run("rollback", "production")
        #expect(back.exitCode == 0, "\(back.stdout)\(back.stderr)")
        await app.expectEveryNode("1.0.0")
        let forward = try await app.run("rollback", "production", "--to", "1.0.1")
        #expect(forward.exitCode == 0, "\(forward.stdout)\(forward.stderr)")
        await app.expectEveryNode("1.0.1")

        // A new secret value is a new Docker secret; the old one stays while the previous spec
        // (what docker service rollback returns to) names it, and goes after the next deploy.
        let before = try await app.secretNames()
        let oldSecret = app.jwtSecret
        app.jwtSecret = "jwt-\(UUID().uuidString)-rotated"
        try app.writeEnvFile()
        #expect(try await app.run("deploy", "production", "1.0.0").exitCode == 0)
        let during = try await app.secretNames()
        #expect(during.count == 4 && Set(before).isSubset(of: Set(during)), "\(before) -> \(during)")
        #expect(try await app.run("deploy", "production", "1.0.1").exitCode == 0)
        let after = try await app.secretNames()
        #expect(after.count == 3 && !after.contains { before.contains($0) && $0.contains("JWT_SECRET") }, "\(during) -> \(after)")
        try app.assertNoSecrets()
        #expect(!app.outputs.contains { $0.contains(oldSecret) })
    }
}

/// A node lost in the middle of a rolling update: its own swarm, since the node stays down.
@Suite(.serialized, .enabled(if: SwarmCluster.canRun, "needs root, ip, nsenter and a Docker engine (always required under CI=true)"),
       .swarmCluster())
struct SwarmNodeLossTests {
    @Test func aNodeKilledDuringAnUpdateIsReportedAndTheDeployEnds() async throws {
        // One task at a time with a long pause between them: the node is killed while the update
        // is still under way however busy the machine is (with no pause a loaded run once saw the
        // update finish between "updating" and the kill).
        let app = try await SwarmApp(parallelism: 1, updateDelay: "20s")
        #expect(try await app.run("deploy", "production", "1.0.0").exitCode == 0)

        let opsctl = app.opsctl
        // Ends on its own: were it to hang, the run's own bound records it.
        let deploy = Task { try await opsctl.run(["deploy", "production", "1.0.1", "--json"]) }
        // Kill the worker once the rolling update is under way.
        let underWay = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < underWay {
            let state = try await app.cluster.docker(["service", "inspect", "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}", app.service])
            if state.standardOutput.contains("updating") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await app.cluster.kill(node: 3)
        let result = try await deploy.value
        #expect([3, 4].contains(result.exitCode), "\(result.stdout)\(result.stderr)")
        let report = try result.json()
        let reason = try #require(report["reason"] as? String)
        #expect(reason.contains("node3") && reason.contains("down"), "\(reason)")
        if result.exitCode == 3 {
            // Back on 1.0.0 wherever a task can run; node3's answer is not counted (its daemon is gone).
            let versions = app.cluster.versions(port: app.port).prefix(2)
            #expect(versions.allSatisfy { $0 == "1.0.0" }, "\(versions)")
        }

        let status = try await app.run("status", "production", "--json")
        let nodes = try #require((try status.json()["swarm"] as? [String: Any])?["nodes"] as? [[String: Any]])
        #expect(nodes.first { $0["hostname"] as? String == "node3" }?["state"] as? String == "down")
        let preflight = try await app.run("preflight", "production", "--json")
        let check = try #require((try preflight.json()["checks"] as? [[String: Any]])?.first { $0["id"] as? String == "swarm.nodes" })
        #expect(check["status"] as? String == "warn" && (check["summary"] as? String)?.contains("node3") == true)
    }
}
