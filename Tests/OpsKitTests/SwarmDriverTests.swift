// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// The swarm driver's pure parts: its config, the argv it builds, how it splits secrets from
/// plain variables, and the rules that read Swarm's state. The real swarm is in
/// Tests/OpsctlTests/SwarmTests.swift.
struct SwarmDriverTests {
    let directory = TemporaryDirectory("opsctl-swarm-unit")

    func parse(_ yaml: String) throws(OpsError) -> OpsConfig {
        try ConfigLoader.parse(yaml, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: [:])
    }

    func message(_ yaml: String) -> String {
        opsError { () throws(OpsError) in _ = try parse(yaml) }?.message ?? "(no error)"
    }

    static func yaml(swarm: String = "", run: String = "{network: host, env: {PORT: \"3000\"}}", extra: String = "") -> String {
        """
        app: dashboard
        image: dashboard
        environments:
          production:
            driver: swarm
            run: \(run)
            health: {url: "http://node1.internal:3000/health"}
        \(swarm.isEmpty ? "" : "    swarm:\n" + swarm.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
        \(extra)
        """
    }

    static let contract = """
        service: dashboard
        mode: replicated
        replicas: 3
        update_parallelism: 1
        update_delay: 5s
        update_order: start-first
        monitor: 10s
        health_cmd: "wget -q -O /dev/null http://127.0.0.1:3000/health || exit 1"
        constraints: ["node.role==worker"]
        publish: ["mode=host,target=3000,published=3000"]
        """

    // MARK: - config

    @Test func theContractKeysParse() throws {
        let settings = try #require(try parse(Self.yaml(swarm: Self.contract)).environments[0].swarm)
        #expect(settings.service == "dashboard" && settings.mode == .replicated && settings.replicas == 3)
        #expect(settings.updateParallelism == 1 && settings.updateDelay == .seconds(5) && settings.updateOrder == .startFirst && settings.monitor == .seconds(10))
        #expect(settings.healthCmd == "wget -q -O /dev/null http://127.0.0.1:3000/health || exit 1")
        #expect(settings.constraints == ["node.role==worker"])
        #expect(settings.publish == [SwarmPublish(parsing: "mode=host,target=3000,published=3000")!])
        #expect(settings.publish[0].mode == .host && settings.publish[0].target == 3000 && settings.publish[0].published == 3000)
    }

    @Test func driverSwarmWithoutASectionGetsDefaults() throws {
        let settings = try #require(try parse(Self.yaml()).environments[0].swarm)
        #expect(settings.serviceName(app: "dashboard", env: "production") == "dashboard-production")
        #expect(settings.mode == .replicated && settings.replicas == 1 && settings.updateOrder == .stopFirst && settings.healthCmd == nil)
        #expect(try parse(Self.yaml().replacingOccurrences(of: "driver: swarm", with: "driver: docker")).environments[0].swarm == nil)
    }

    @Test func badSwarmSettingsAreRefusedWithTheKey() {
        #expect(message(Self.yaml(swarm: "mode: global\nreplicas: 3")).contains("swarm.replicas: mode global runs one task on every eligible node"))
        #expect(message(Self.yaml(swarm: "update_order: rolling")).contains("\"rolling\" is not one of start-first, stop-first"))
        #expect(message(Self.yaml(swarm: "publish: [\"mode=host,target=70000\"]")).contains("swarm.publish[0]"))
        #expect(message(Self.yaml(swarm: "constraints: [\"node.role\"]")).contains("is not a placement constraint"))
        #expect(message(Self.yaml(swarm: "service: \"-web\"")).contains("is not a service name"))
        #expect(message(Self.yaml(swarm: "health_cmd: \"\"")).contains("must not be empty"))
        #expect(message(Self.yaml(swarm: "monitr: 5s")).contains("did you mean \"monitor\""))
        #expect(message(Self.yaml(run: "{network: host, ports: [\"3000:3000\"]}")).contains("remove run.ports"))
        #expect(message(Self.yaml(run: "{network: host, args: [--init]}")).contains("remove run.args"))
        #expect(message(Self.yaml(extra: "    build: {context: .}")).contains("push the image to a registry"))
    }

    @Test func publishForms() {
        let short = SwarmPublish(parsing: "8080:3000")
        #expect(short?.mode == .ingress && short?.published == 8080 && short?.target == 3000 && short?.proto == "tcp")
        #expect(SwarmPublish(parsing: "3000/udp")?.proto == "udp")
        #expect(SwarmPublish(parsing: "mode=host,target=53,published=53,protocol=udp")?.proto == "udp")
        for bad in ["", "x:3000", "mode=bridge,target=1", "target=1,target=2", "published=3000", "3000/icmp", "1:2:3"] {
            #expect(SwarmPublish(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func theWaitBoundGrowsWithTheBatches() {
        var settings = SwarmSettings()
        settings.healthCmd = "true"
        settings.replicas = 6
        let one = settings.convergeBudget(tasks: 6, stopTimeout: .seconds(10))
        settings.updateParallelism = 3
        let three = settings.convergeBudget(tasks: 6, stopTimeout: .seconds(10))
        #expect(one > three && three >= .seconds(60))
        settings.timeout = .seconds(20)
        #expect(settings.convergeBudget(tasks: 6, stopTimeout: .seconds(10)) == .seconds(20))
    }

    // MARK: - secrets and argv

    func environment(_ yaml: String, envFile: String = "JWT_SECRET=0123456789abcdef0123456789abcdef\nNODE_ENV=production\n") throws -> (OpsConfig, EnvironmentConfig) {
        try directory.write(".env.production", envFile, mode: 0o600)
        let config = try parse(yaml)
        return (config, config.environments[0])
    }

    @Test func secretsBecomeDockerSecretsNeverPlainEnv() throws {
        let (config, environment) = try environment(Self.yaml(run: """
            {network: host, env_file: .env.production, env: {PORT: "3000", API_TOKEN: tok-0123456789012345678901234567890, DATABASE_URL: "postgres://u:pw0123456789@db/x", MODE: fast}}
            """))
        let split = SwarmEnvironment.make(config: config, environment: environment, context: OpsContext(), service: "dashboard")
        #expect(split.plain.map(\.key) == ["NODE_ENV", "PORT", "MODE"])
        #expect(split.secrets.map(\.key) == ["JWT_SECRET", "API_TOKEN", "DATABASE_URL"])
        #expect(split.specEnv.contains("JWT_SECRET_FILE=/run/secrets/JWT_SECRET"))
        #expect(!split.specEnv.joined().contains("0123456789abcdef") && !split.specEnv.joined().contains("pw0123456789"))
        let commands = split.createCommands(existing: [split.secrets[1].name], labels: ["opsctl.app": "dashboard"])
        #expect(commands.count == 2, "only secrets Swarm lacks are created")
        #expect(commands[0].request.arguments.suffix(2) == [split.secrets[0].name, "-"] && commands[0].request.standardInput == "0123456789abcdef0123456789abcdef")
        #expect(!commands.map(\.request.displayCommand).joined().contains("0123456789abcdef"))
    }

    @Test func aURLWithAPasswordInTheEnvFileIsASecretToo() throws {
        let (config, environment) = try environment(Self.yaml(run: "{network: host, env_file: .env.production, env: {PORT: \"3000\"}}"),
                                                    envFile: "DATABASE_URL=postgres://u:pw0123456789@db/x\nCACHE_URL=redis://cache:6379/0\n")
        let split = SwarmEnvironment.make(config: config, environment: environment, context: OpsContext(), service: "dashboard")
        #expect(split.secrets.map(\.key) == ["DATABASE_URL"] && split.plain.map(\.key) == ["CACHE_URL", "PORT"])
        let spec = SwarmServiceSpec(name: "dashboard", settings: environment.swarm!, run: environment.run,
                                    identity: ReleaseIdentity(config: config, environment: environment), environment: split)
        let arguments = spec.createArguments(version: "1.0.1", failureAction: .rollback)
        #expect(!arguments.joined(separator: " ").contains("pw0123456789"), "\(arguments)")
        #expect(arguments.contains("DATABASE_URL_FILE=/run/secrets/DATABASE_URL") && arguments.contains("CACHE_URL=redis://cache:6379/0"))
        #expect(split.createCommands(existing: [], labels: [:]).first?.request.standardInput == "postgres://u:pw0123456789@db/x")
    }

    @Test func aSecretsNameFollowsItsContent() {
        let first = SwarmEnvironment.secretName(service: "web", key: "JWT_SECRET", value: "a")
        #expect(first.hasPrefix("web_JWT_SECRET_") && first.count == "web_JWT_SECRET_".count + 16)
        #expect(first == SwarmEnvironment.secretName(service: "web", key: "JWT_SECRET", value: "a"))
        #expect(first != SwarmEnvironment.secretName(service: "web", key: "JWT_SECRET", value: "b"))
        let long = SwarmEnvironment.secretName(service: String(repeating: "s", count: 63), key: "A_VERY_LONG_SECRET_NAME_TOKEN", value: "x")
        #expect(long.count <= 64)
    }

    func spec(_ yaml: String, secrets: [SwarmEnvironment.Secret] = []) throws -> SwarmServiceSpec {
        let config = try parse(yaml)
        let environment = config.environments[0]
        let plain = environment.run.env.map { SwarmEnvironment.Variable(key: $0.name, value: $0.resolvedValue) }
        return SwarmServiceSpec(name: "dashboard", settings: environment.swarm!, run: environment.run, identity: ReleaseIdentity(config: config, environment: environment),
                                environment: SwarmEnvironment(plain: plain, secrets: secrets))
    }

    @Test func createCarriesTheWholeServiceAndRollsBackOnFailure() throws {
        let secret = SwarmEnvironment.Secret(key: "JWT_SECRET", value: "v", name: "dashboard_JWT_SECRET_0000000000000000")
        let arguments = try spec(Self.yaml(swarm: Self.contract, run: "{network: host, env: {PORT: \"3000\"}, volumes: [\"/srv/data:/app/data:ro\"]}"),
                                 secrets: [secret]).createArguments(version: "1.0.1", failureAction: .rollback)
        let text = arguments.joined(separator: " ")
        #expect(arguments.prefix(5) == ["service", "create", "--detach", "--name", "dashboard"] && arguments.last == "dashboard:1.0.1")
        for expected in ["--mode replicated --replicas 3", "--network host", "--env PORT=3000", "--env JWT_SECRET_FILE=/run/secrets/JWT_SECRET",
                         "--secret source=dashboard_JWT_SECRET_0000000000000000,target=JWT_SECRET", "--mount type=bind,source=/srv/data,target=/app/data,readonly",
                         "--constraint node.role==worker", "--publish mode=host,target=3000,published=3000", "--update-failure-action rollback",
                         "--update-order start-first", "--update-monitor 10000ms", "--update-parallelism 1", "--update-delay 5000ms", "--health-retries 3",
                         "--container-label opsctl.version=1.0.1", "--label opsctl.app=dashboard", "--no-resolve-image", "--stop-grace-period 10000ms"] {
            #expect(text.contains(expected), "\(expected) in \(text)")
        }
    }

    @Test func updateChangesOnlyWhatDiffersAndKeepsHandAttachedSecrets() throws {
        let secret = SwarmEnvironment.Secret(key: "JWT_SECRET", value: "v2", name: "dashboard_JWT_SECRET_2222222222222222")
        let spec = try spec(Self.yaml(swarm: "replicas: 2\nconstraints: [\"node.role==worker\"]\npublish: [\"mode=host,target=3000,published=3000\"]",
                                      run: "{network: host, pull: true, env: {PORT: \"3000\"}}"), secrets: [secret])
        let current = SwarmService(
            id: "x", name: "dashboard", image: "dashboard:1.0.0", labels: [:], containerLabels: ["opsctl.version": "1.0.0"],
            env: ["PORT=3000", "OLD=1", "JWT_SECRET_FILE=/run/secrets/JWT_SECRET"],
            secrets: [SwarmSecretReference(name: "dashboard_JWT_SECRET_1111111111111111", target: "JWT_SECRET"), SwarmSecretReference(name: "tls", target: "tls.pem")],
            mounts: [], constraints: ["node.labels.old==1"], ports: [SwarmPort(target: 3000, published: 3000, proto: "tcp", mode: "host")], replicas: 3)
        let arguments = spec.updateArguments(version: "1.0.1", current: current, ownSecrets: ["dashboard_JWT_SECRET_1111111111111111"], failureAction: .pause)
        let text = arguments.joined(separator: " ")
        #expect(arguments.prefix(5) == ["service", "update", "--detach", "--image", "dashboard:1.0.1"] && arguments.last == "dashboard")
        for expected in ["--env-rm OLD", "--secret-rm dashboard_JWT_SECRET_1111111111111111", "--secret-add source=dashboard_JWT_SECRET_2222222222222222,target=JWT_SECRET",
                         "--constraint-rm node.labels.old==1", "--constraint-add node.role==worker", "--replicas 2", "--update-failure-action pause",
                         "--container-label-add opsctl.version=1.0.1"] {
            #expect(text.contains(expected), "\(expected) in \(text)")
        }
        for unexpected in ["--env-add PORT", "--secret-rm tls", "--publish-rm", "--no-resolve-image", "--force"] { #expect(!text.contains(unexpected), "\(unexpected) in \(text)") }
        #expect(!arguments.contains("--health-cmd"), "no health_cmd, and none in the spec")
        var checked = current
        checked.healthCheck = ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:3000/health || exit 1"]
        let reset = spec.updateArguments(version: "1.0.1", current: checked, ownSecrets: [], failureAction: .pause).joined(separator: " ")
        #expect(reset.contains("--health-cmd  --health-interval 0s --health-timeout 0s --health-retries 0 --health-start-period 0s"), "health_cmd removed: \(reset)")
        var same = current
        same.containerLabels["opsctl.version"] = "1.0.1"
        #expect(spec.updateArguments(version: "1.0.1", current: same, ownSecrets: [], failureAction: .rollback).contains("--force"), "the same release again: new tasks")
    }

    @Test func aFailedFirstDeploySaysWhatHappenedToTheService() throws {
        let config = try parse(Self.yaml(swarm: "mode: global"))
        let global = SwarmReleaseDriver(config: config, environment: config.environments[0], context: OpsContext())
        #expect(global.stopped == "removed" && global.stopCommands(ReleaseRef(version: "1.0.0")).first?.request.arguments.prefix(2) == ["service", "rm"])
        let replicated = try parse(Self.yaml())
        #expect(SwarmReleaseDriver(config: replicated, environment: replicated.environments[0], context: OpsContext()).stopped == "scaled to 0")
    }

    /// The real runner, with a `docker` that prints a line and then hangs, as `docker service
    /// logs` does while a node that is down never answers.
    struct HangingDockerRunner: ProcessRunning {
        let bin: String
        func run(_ request: ProcessRequest) async throws(OpsError) -> ProcessResult {
            var request = request
            request.environment["PATH"] = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            return try await SubprocessRunner().run(request)
        }
    }

    @Test func logsThatRunOutOfTimeKeepWhatArrived() async throws {
        try directory.write("bin/docker", "#!/bin/sh\necho 'GET /health 503'\nexec sleep 30\n", mode: 0o755)
        let client = SwarmClient(docker: DockerClient(runner: HangingDockerRunner(bin: directory.path + "/bin")))
        // Had the runner's own backstop killed it instead of `timeout`, the line would be lost.
        #expect(await client.logs("web.1", lines: 30, timeout: .seconds(1)) == "GET /health 503")
        let (text, incomplete) = try await client.logs(service: "web", since: Self.t0, timeout: .seconds(1))
        #expect(text.contains("GET /health 503") && incomplete != nil)
    }

    // MARK: - reading Swarm

    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func node(_ id: String, _ state: SwarmNode.State = .ready) -> SwarmNode {
        SwarmNode(id: id, hostname: "host-\(id)", role: .worker, availability: .active, state: state, address: "10.0.0.\(id.count)", leader: false)
    }

    static func task(_ slot: Int, _ version: String, _ state: SwarmTaskState, desired: SwarmTaskState = .running, node: String? = "a",
                     created: Date = t0, error: String? = nil) -> SwarmTask {
        SwarmTask(id: "t\(slot)\(version)\(state)", slot: slot, nodeID: node, createdAt: created, state: state, desiredState: desired,
                  error: error, image: "app:\(version)", version: version)
    }

    static func snapshot(_ tasks: [SwarmTask], status: SwarmUpdateStatus? = nil, nodes: [SwarmNode] = [node("a"), node("bb"), node("ccc")],
                         replicas: Int? = 3) -> SwarmSnapshot {
        SwarmSnapshot(service: SwarmService(id: "s", name: "web", image: "app:x", labels: [:], containerLabels: [:], env: [], secrets: [], mounts: [],
                                            constraints: [], ports: [], replicas: replicas, updateStatus: status), tasks: tasks, nodes: nodes)
    }

    @Test func anUpdateIsDoneOnlyWhenItsOwnStatusSaysSo() {
        let old = SwarmUpdateStatus(state: .completed, startedAt: Self.t0, message: "update completed")
        let running = [Self.task(1, "1", .running), Self.task(2, "1", .running), Self.task(3, "1", .running)]
        #expect(SwarmVerdict.update(Self.snapshot(running, status: old), previous: nil, version: "2", before: Self.t0, downBefore: []) == nil, "the previous update's status")
        let ours = SwarmUpdateStatus(state: .completed, startedAt: Self.t0 + 5, message: "update completed")
        #expect(SwarmVerdict.update(Self.snapshot(running, status: ours), previous: nil, version: "2", before: Self.t0, downBefore: [])?.summary == "completed")
        let back = SwarmUpdateStatus(state: .rollbackCompleted, startedAt: Self.t0 + 5, message: "rollback completed")
        #expect(SwarmVerdict.update(Self.snapshot(running, status: back), previous: nil, version: "2", before: Self.t0, downBefore: [])?.summary == "rolled back by Swarm")
        let paused = SwarmUpdateStatus(state: .paused, startedAt: Self.t0 + 5, message: "update paused due to failure")
        #expect(SwarmVerdict.update(Self.snapshot(running, status: paused), previous: nil, version: "2", before: Self.t0, downBefore: [])?.reason?.contains("paused") == true)
    }

    @Test func aNodeIsLostWhenItHoldsATaskAndStaysDownForTwoLooks() {
        let updating = SwarmUpdateStatus(state: .updating, startedAt: Self.t0 + 5)
        let spread = [Self.task(1, "1", .running, node: "a"), Self.task(2, "1", .running, node: "bb"), Self.task(3, "1", .running, node: "ccc")]
        let nodes = { (state: SwarmNode.State) in [Self.node("a"), Self.node("bb"), Self.node("ccc", state)] }
        let lost = Self.snapshot(spread, status: updating, nodes: nodes(.down))
        #expect(SwarmVerdict.update(lost, previous: lost, version: "2", before: Self.t0, downBefore: [])?.reason == "host-ccc (10.0.0.3) went down during the update")
        #expect(SwarmVerdict.update(lost, previous: lost, version: "2", before: Self.t0, downBefore: ["ccc"]) == nil, "a node down before the deploy is not news")
        let ready = Self.snapshot(spread, status: updating)
        #expect(SwarmVerdict.update(lost, previous: ready, version: "2", before: Self.t0, downBefore: []) == nil, "one look is not enough")
        #expect(SwarmVerdict.update(lost, previous: nil, version: "2", before: Self.t0, downBefore: []) == nil)
        let disconnected = Self.snapshot(spread, status: updating, nodes: nodes(.disconnected))
        #expect(SwarmVerdict.update(disconnected, previous: lost, version: "2", before: Self.t0, downBefore: [])?.reason?.contains("host-ccc") == true)
        let unknown = Self.snapshot(spread, status: updating, nodes: nodes(.unknown))
        #expect(SwarmVerdict.update(unknown, previous: unknown, version: "2", before: Self.t0, downBefore: []) == nil, "unknown for a moment after a leader election")
        let elsewhere = [Self.task(1, "1", .running, node: "a"), Self.task(2, "1", .running, node: "bb"), Self.task(3, "1", .shutdown, desired: .shutdown, node: "ccc")]
        let idle = Self.snapshot(elsewhere, status: updating, nodes: nodes(.down))
        #expect(SwarmVerdict.update(idle, previous: idle, version: "2", before: Self.t0, downBefore: []) == nil, "no task of this service on it")
        let orphaned = [Self.task(1, "1", .running, node: "a"), Self.task(2, "1", .running, node: "bb"), Self.task(3, "1", .running, desired: .shutdown, node: "ccc")]
        let holding = Self.snapshot(orphaned, status: updating, nodes: nodes(.down))
        #expect(SwarmVerdict.update(holding, previous: holding, version: "2", before: Self.t0, downBefore: []) != nil, "Swarm moves its task away, but it still held one")
        #expect(SwarmVerdict.create(holding, previous: holding, version: "1", since: nil, downBefore: [])?.reason?.contains("went down while the service started") == true)
    }

    @Test func aForcedRedeployIsDoneOnlyOnceSwarmReplacedTheTasks() {
        func tasks(_ force: UInt64) -> [SwarmTask] {
            (1...3).map { var task = Self.task($0, "1", .running, node: ["a", "bb", "ccc"][$0 - 1]); task.forceUpdate = force; return task }
        }
        func snapshot(_ tasks: [SwarmTask], status: SwarmUpdateStatus? = nil) -> SwarmSnapshot {
            var snapshot = Self.snapshot(tasks, status: status)
            snapshot.service?.forceUpdate = 4
            return snapshot
        }
        let previousStatus = SwarmUpdateStatus(state: .completed, startedAt: Self.t0)
        // Right after `--force`: no UpdateStatus yet, the old tasks carry the same version.
        #expect(SwarmVerdict.update(snapshot(tasks(3)), previous: nil, version: "1", before: Self.t0, downBefore: []) == nil)
        #expect(SwarmVerdict.update(snapshot(tasks(3), status: previousStatus), previous: nil, version: "1", before: Self.t0, downBefore: []) == nil)
        #expect(!snapshot(tasks(3)).converged(on: "1") && snapshot(tasks(3)).notOn("1").count == 3)
        #expect(snapshot(Array(tasks(3).prefix(1)) + tasks(4).suffix(2)).progress(toward: "1").hasPrefix("2/3 task(s) run 1"))
        #expect(SwarmVerdict.update(snapshot(tasks(4)), previous: nil, version: "1", before: Self.t0, downBefore: [])?.summary == "running")
        let ours = SwarmUpdateStatus(state: .completed, startedAt: Self.t0 + 5)
        #expect(SwarmVerdict.update(snapshot(tasks(4), status: ours), previous: nil, version: "1", before: Self.t0, downBefore: [])?.summary == "completed")
    }

    @Test func aNewServiceFailsOnItsFirstTaskThatEnds() {
        let starting = Self.snapshot([Self.task(1, "1", .starting), Self.task(2, "1", .running), Self.task(3, "1", .pending, node: nil)])
        #expect(SwarmVerdict.create(starting, previous: nil, version: "1", since: nil, downBefore: []) == nil)
        let crashed = Self.snapshot([Self.task(1, "1", .failed, desired: .shutdown, error: "task: non-zero exit (1)"), Self.task(1, "1", .ready, desired: .ready),
                                     Self.task(2, "1", .running), Self.task(3, "1", .running)])
        #expect(SwarmVerdict.create(crashed, previous: nil, version: "1", since: nil, downBefore: [])?.reason?.contains("web.1 on host-a (10.0.0.1): failed (task: non-zero exit (1))") == true)
        let up = Self.snapshot([Self.task(1, "1", .running), Self.task(2, "1", .running), Self.task(3, "1", .running)])
        #expect(SwarmVerdict.create(up, previous: nil, version: "1", since: nil, downBefore: [])?.summary == "running")
        #expect(SwarmVerdict.create(Self.snapshot(Array(up.tasks.prefix(2))), previous: nil, version: "1", since: nil, downBefore: []) == nil, "2 of 3 replicas")
    }

    @Test func aRollbackWithANodeDownIsDoneWhenEveryLiveNodeRunsThePreviousRelease() {
        let nodes = [Self.node("a"), Self.node("bb"), Self.node("ccc", .down)]
        let started = SwarmUpdateStatus(state: .rollbackStarted, startedAt: Self.t0 + 5)
        let back = [Self.task(1, "1", .running, node: "a"), Self.task(2, "1", .running, node: "bb"), Self.task(3, "1", .running, node: "ccc")]
        #expect(SwarmVerdict.rollback(Self.snapshot(back, status: started, nodes: nodes), version: "1", before: Self.t0) != nil)
        let leaving = back + [Self.task(1, "2", .running, desired: .shutdown, node: "a")]
        #expect(SwarmVerdict.rollback(Self.snapshot(leaving, status: started, nodes: nodes), version: "1", before: Self.t0) == nil, "a task still on its way out")
        let unplacedSilently = [Self.task(1, "1", .running, node: "a"), Self.task(3, "1", .pending, node: nil)]
        #expect(SwarmVerdict.rollback(Self.snapshot(unplacedSilently, status: started, nodes: nodes), version: "1", before: Self.t0) == nil)
        let unplaceable = [Self.task(1, "1", .running, node: "a"), Self.task(3, "1", .pending, node: nil, error: "no suitable node (host-mode port already in use on 2 nodes)")]
        #expect(SwarmVerdict.rollback(Self.snapshot(unplaceable, status: started, nodes: nodes), version: "1", before: Self.t0) != nil)
        let healthy = [Self.node("a"), Self.node("bb"), Self.node("ccc")]
        #expect(SwarmVerdict.rollback(Self.snapshot(back, status: started, nodes: healthy), version: "1", before: Self.t0) == nil, "all nodes up: Swarm's word decides")
        let done = SwarmUpdateStatus(state: .rollbackCompleted, startedAt: Self.t0 + 5)
        #expect(SwarmVerdict.rollback(Self.snapshot(back, status: done, nodes: healthy), version: "1", before: Self.t0) != nil)
    }

    @Test func goingBackWaitsForSwarmsOwnRollbackInsteadOfAskingForAnother() {
        let running = [Self.task(1, "1", .running), Self.task(2, "2", .running, node: "bb")]
        let previous = SwarmService.PreviousSpec(image: "app:1", version: "1", secrets: [])
        func snapshot(_ state: SwarmUpdateState?, previous: SwarmService.PreviousSpec?, nodes: [SwarmNode] = [Self.node("a"), Self.node("bb")]) -> SwarmSnapshot {
            var snapshot = Self.snapshot(running, status: state.map { SwarmUpdateStatus(state: $0, startedAt: Self.t0) }, nodes: nodes)
            snapshot.service?.previous = previous
            return snapshot
        }
        #expect(SwarmGoingBack.choose(snapshot(.rollbackStarted, previous: nil)) == .awaitSwarm, "Swarm is rolling back: its previous spec is gone")
        #expect(SwarmGoingBack.choose(snapshot(.rollbackCompleted, previous: nil)) == .awaitSwarm)
        #expect(SwarmGoingBack.choose(snapshot(.updating, previous: previous)) == .rollback)
        #expect(SwarmGoingBack.choose(snapshot(.completed, previous: previous)) == .rollback, "smoke failed after Swarm completed")
        #expect(SwarmGoingBack.choose(snapshot(nil, previous: previous)) == .rollback)
        #expect(SwarmGoingBack.choose(snapshot(.rollbackPaused, previous: nil)) == .updateBack(allAtOnce: false), "no previous spec left to roll back to")
        #expect(SwarmGoingBack.choose(snapshot(.updating, previous: previous, nodes: [Self.node("a"), Self.node("bb", .down)])) == .updateBack(allAtOnce: true))
        #expect(SwarmGoingBack.choose(nil) == .rollback)
        #expect(SwarmGoingBack.choose(snapshot(.rollbackStarted, previous: nil, nodes: [Self.node("a"), Self.node("bb", .down)])) == .updateBack(allAtOnce: true),
                "Swarm's own rollback, batch by batch, would wait for the lost node's task")
        #expect(SwarmGoingBack.swarmIsGoingBack(snapshot(.rollbackStarted, previous: nil)) && !SwarmGoingBack.swarmIsGoingBack(snapshot(.updating, previous: previous)))
        let paused = snapshot(.rollbackPaused, previous: nil)
        #expect(SwarmVerdict.settled(paused, version: "1")?.reason?.contains("Swarm paused its rollback") == true, "waiting for Swarm ends when it gives up")
    }

    @Test func withoutALookBeforeGoingBackOnlyTheTasksSayItIsBack() {
        // The failed update's own status (smoke failed after Swarm completed it), tasks still on 2.
        let failedOwn = SwarmUpdateStatus(state: .completed, startedAt: Self.t0 + 5)
        let still = Self.snapshot([Self.task(1, "2", .running), Self.task(2, "2", .running, node: "bb"), Self.task(3, "2", .running, node: "ccc")], status: failedOwn)
        #expect(SwarmVerdict.rollback(still, version: "1", before: nil) != nil, "an unknown start time takes the failed update's status for the rollback's")
        #expect(SwarmVerdict.settled(still, version: "1") == nil)
        let back = Self.snapshot([Self.task(1, "1", .running), Self.task(2, "1", .running, node: "bb"), Self.task(3, "1", .running, node: "ccc")], status: nil)
        #expect(SwarmVerdict.settled(back, version: "1")?.summary == "running")
    }

    @Test func aFailedCommandThatReachedSwarmIsUndone() {
        let service = Self.snapshot([]).service!
        var created = service
        created.containerLabels["opsctl.version"] = "1"
        var same = service
        #expect(!SwarmVerdict.reachedSwarm(before: nil, after: nil, version: "1") && SwarmVerdict.reachedSwarm(before: nil, after: created, version: "1"), "created after all")
        #expect(!SwarmVerdict.reachedSwarm(before: nil, after: service, version: "1"), "a service someone else made meanwhile is not undone")
        #expect(!SwarmVerdict.reachedSwarm(before: service, after: same, version: "2"))
        same.updateStatus = SwarmUpdateStatus(state: .updating, startedAt: Self.t0)
        #expect(SwarmVerdict.reachedSwarm(before: service, after: same, version: "2"), "an update started")
        var released = service
        released.containerLabels["opsctl.version"] = "2"
        #expect(SwarmVerdict.reachedSwarm(before: service, after: released, version: "2"))
        var forced = service
        forced.forceUpdate = 1
        #expect(SwarmVerdict.reachedSwarm(before: service, after: forced, version: "2"))
        var finished = service
        finished.updateStatus = SwarmUpdateStatus(state: .updating, startedAt: Self.t0)
        var later = finished
        later.updateStatus?.state = .completed
        #expect(!SwarmVerdict.reachedSwarm(before: finished, after: later, version: "2"), "an earlier update that went on is not ours")
    }

    @Test func swarmTimestampsAndTasks() {
        #expect(SwarmTime.parse("2026-11-25T21:24:10.34570739Z")?.timeIntervalSince1970 ?? 0 > 1_795_000_000)
        #expect(SwarmTime.parse("2026-11-25T21:24:10Z") != nil && SwarmTime.parse("0001-01-01T00:00:00Z") == nil && SwarmTime.parse("yesterday") == nil)
        let fraction = SwarmTime.parse("2026-11-25T21:24:10.5Z")!.timeIntervalSince(SwarmTime.parse("2026-11-25T21:24:10Z")!)
        #expect(abs(fraction - 0.5) < 0.001)
        #expect(SwarmNames.tag(of: "registry:5000/app:1.0.1") == "1.0.1" && SwarmNames.tag(of: "registry:5000/app") == nil && SwarmNames.tag(of: "app:1.0@sha256:ab") == "1.0")
        #expect(Self.task(1, "1", .complete, desired: .shutdown).stateText == "complete, exit 0")
    }

    @Test func statusDriftNamesWhatDisagrees() {
        let snapshot = Self.snapshot([Self.task(1, "1", .running), Self.task(2, "2", .running, node: "bb")])
        var view = SwarmView(service: "web", exists: true, mode: .replicated, replicas: 3, version: "2", updateState: .completed, tasks: snapshot.tasks.map { SwarmTaskView($0, in: snapshot) },
                             nodes: snapshot.nodes)
        let drift = view.drift(ledgerLive: "1") ?? ""
        #expect(drift.contains("the ledger says 1 is live, but service web asks for 2") && drift.contains("mixed versions") && drift.contains("2 of 3 task(s) running"), "\(drift)")
        view.exists = false
        #expect(view.drift(ledgerLive: "1") == "the ledger says 1 is live, but there is no service web")
        #expect(view.drift(ledgerLive: nil) == nil)
    }
}

extension SwarmWaitOutcome {
    var reason: String? {
        if case .stuck(let reason, _) = self { return reason }
        return nil
    }
}
