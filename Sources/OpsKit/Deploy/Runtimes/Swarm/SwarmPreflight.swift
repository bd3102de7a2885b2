// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `swarm.*`: can opsctl deploy this environment through Swarm? The engine DOCKER_HOST names is
/// a manager, and every node is ready and active (a down or drained node is a warning: Swarm
/// places tasks elsewhere, or cannot place them at all with host-mode ports); and Swarm has a
/// container health check to roll back on.
extension PreflightService {
    func swarmChecks(wanted: (PreflightCheckID) -> Bool) async -> [PreflightCheck] {
        guard environment.driver == .swarm else { return [] }
        var checks: [PreflightCheck] = []
        if wanted(.swarmNodes) { checks.append(await swarmNodes()) }
        if wanted(.swarmHealthCmd) { checks.append(swarmHealthCmd()) }
        return checks
    }

    func swarmNodes() async -> PreflightCheck {
        let client = SwarmClient(docker: context.docker)
        do {
            let membership = try await client.membership()
            guard membership.state == .active, membership.isManager else {
                return PreflightCheck(id: .swarmNodes, status: .fail,
                                      summary: "the engine opsctl talks to is " + (membership.state == .active ? "a swarm worker, not a manager" : "not in a swarm (\(membership.stateName))"),
                                      fix: "point DOCKER_HOST (or docker context use) at a manager node")
            }
            return Self.nodesCheck(try await client.nodes())
        } catch {
            return PreflightCheck(id: .swarmNodes, status: .fail, summary: error.message, fix: "check DOCKER_HOST and that the manager's daemon runs")
        }
    }

    static func nodesCheck(_ nodes: [SwarmNode]) -> PreflightCheck {
        let problems = nodes.compactMap(\.problem)
        let usable = nodes.filter(\.isUsable).count
        guard problems.isEmpty else {
            return PreflightCheck(id: .swarmNodes, status: .warn, summary: "\(usable) of \(nodes.count) node(s) take tasks; " + problems.joined(separator: ", "),
                                  fix: "bring the node back (its daemon, its network), or docker node update --availability active NODE; docker node rm one that is gone")
        }
        let names = nodes.map { $0.hostname + ($0.role == .manager ? ($0.leader ? " (leader)" : " (manager)") : "") }
        return PreflightCheck(id: .swarmNodes, status: .pass, summary: "\(nodes.count) node(s) ready and active: " + names.joined(separator: ", "))
    }

    func swarmHealthCmd() -> PreflightCheck {
        guard let command = environment.swarm?.healthCmd else {
            return PreflightCheck(id: .swarmHealthCmd, status: .warn,
                                  summary: "no swarm.health_cmd: Swarm cannot tell an unhealthy task (only one that exits) unless the image has a HEALTHCHECK; opsctl's health-wait after the update still rolls back",
                                  fix: "set swarm.health_cmd, e.g. \"wget -q -O /dev/null http://127.0.0.1:3000/health || exit 1\"")
        }
        return PreflightCheck(id: .swarmHealthCmd, status: .pass, summary: "Swarm runs `\(command)` in each task")
    }
}
