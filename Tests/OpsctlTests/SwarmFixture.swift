// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// A real multi-node Docker Swarm on this machine (Tests/Fixtures/swarm/swarm.sh): each node a
/// dockerd in its own network namespace, node 1 the manager; the sample-app images copied to
/// every node. Started once per suite by the `.swarmCluster` trait, torn down after its last test.
final class SwarmCluster: Sendable {
    static let script = repositoryRoot + "/Tests/Fixtures/swarm/swarm.sh"
    /// The cluster of the suite running now (set by `SwarmClusterTrait`).
    @TaskLocal static var current: SwarmCluster?

    let directory: String
    let settings: [String: String]

    /// Root, ip, nsenter and unshare are what the fixture needs; under CI=true a machine without
    /// them fails the suite instead of skipping it.
    static var canRun: Bool {
        DockerEngine.isCI || (DockerEngine.answers && getuid() == 0 && ["ip", "nsenter", "unshare"].allSatisfy { RequiredTool.path($0) != nil })
    }

    init(nodes: Int, images: [String]) async throws {
        var template = Array("/tmp/opsctl-swarm.XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw OpsError(.io, code: "test.setup", "mkdtemp failed") }
        directory = String(cString: created)
        do {
            let output = try await setUp(Self.script, ["up", directory, String(nodes)], timeout: .seconds(120))
            settings = Self.parse(output)
            try await setUp(Self.script, ["load", directory] + images, timeout: .seconds(300))
        } catch {
            Self.down(directory)
            throw error
        }
    }

    deinit { Self.down(directory) }

    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let pair = line.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { values[pair[0]] = pair[1] }
        }
        return values
    }

    /// `swarm.sh down` stops the daemons, removes the namespaces, the bridge and the directory.
    static func down(_ directory: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", script, "down", directory]
        try? process.run()
        process.waitUntilExit()
    }

    var manager: String { settings["MANAGER_HOST"]! }
    var nodeCount: Int { Int(settings["NODES"] ?? "0") ?? 0 }
    func address(_ node: Int) -> String { settings["NODE\(node)_ADDR"]! }
    func host(_ node: Int) -> String { settings["NODE\(node)_HOST"]! }

    /// SIGKILL a node's dockerd: a node lost mid-deploy.
    func kill(node: Int) async throws { try await setUp(Self.script, ["kill", directory, String(node)]) }

    /// The docker CLI against the manager (or a node).
    @discardableResult
    func docker(_ arguments: [String], host: String? = nil, timeout: Duration = .seconds(60)) async throws -> ProcessResult {
        try await SubprocessRunner().run(ProcessRequest("docker", ["-H", host ?? manager] + arguments, timeout: timeout))
    }

    /// What each node's copy of the app answers on /health: its version, or nil.
    func versions(port: Int) -> [String?] {
        (1...nodeCount).map { node in
            guard case .success(let response) = CurlHTTP.perform(HTTPRequest(url: "http://\(address(node)):\(port)/health")),
                  response.status == 200, case .found(.string(let version)) = JSONPath.lookup("version", in: response.body) else { return nil }
            return version
        }
    }
}

/// Starts a swarm for the whole suite, shares it through `SwarmCluster.current`, and tears it
/// down after the suite's last test.
struct SwarmClusterTrait: SuiteTrait, TestScoping {
    var nodes = 3

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await DeployImages.built.value
        let cluster = try await SwarmCluster(nodes: nodes, images: DeployImages.releases.map { "\(DeployImages.repository):\($0.version)" })
        try await SwarmCluster.$current.withValue(cluster) { try await function() }
    }
}

extension Trait where Self == SwarmClusterTrait {
    static func swarmCluster(nodes: Int = 3) -> Self { SwarmClusterTrait(nodes: nodes) }
}

/// One app deployed to the swarm: a release repository (tags v1.0.0 … v1.0.5), an env file with
/// a secret, and an opsctl.yml with `driver: swarm` on its own port; its service and secrets
/// are removed afterwards.
final class SwarmApp {
    let cluster: SwarmCluster
    let directory = TemporaryDirectory("opsctl-swarm-app")
    let app = "sw\(UInt32.random(in: 0...UInt32.max))"
    let port = Int.random(in: 21_000...29_000)
    var service: String { "\(app)-production" }
    var jwtSecret = "jwt-\(UUID().uuidString)-secret"
    static let apiToken = "tok-\(UUID().uuidString)"
    /// In the env file under a plain name: only the URL's password makes it a secret.
    static let databasePassword = "pw\(UInt64.random(in: 1 << 40...1 << 50))"
    var outputs: [String] = []

    var opsctl: Opsctl { Opsctl(directory: directory.path, environment: ["USER": "alice", "DOCKER_HOST": cluster.manager]) }
    var ledger: Ledger { get throws { try Ledger(path: directory.path + "/.opsctl/state.db") } }

    /// `updateDelay`: swarm's pause between batches of an update.
    init(parallelism: Int = 3, updateDelay: String = "0s", extra: String = "") async throws {
        cluster = try #require(SwarmCluster.current, "no swarm: the suite needs the .swarmCluster() trait")
        let git = directory.path
        try await setUp("git", ["init", "-q", git])
        try await DeployImages.tag(DeployImages.releases.map(\.version), in: git)
        try writeEnvFile()
        try directory.write("opsctl.yml", """
            app: \(app)
            image: \(DeployImages.repository)
            state: .opsctl/state.db
            environments:
              production:
                driver: swarm
                run:
                  network: host
                  env_file: .env.production
                  env: {PORT: "\(port)", BIND_ADDRESS: 0.0.0.0, API_TOKEN: "\(Self.apiToken)"}
                  stop_timeout: 2s
                swarm:
                  replicas: 3
                  update_parallelism: \(parallelism)
                  update_delay: \(updateDelay)
                  update_order: stop-first
                  monitor: 1s
                  health_cmd: "wget -q -O /dev/null http://127.0.0.1:\(port)/health || exit 1"
                  health_interval: 500ms
                  # A check's exec can wait seconds to start on a busy host; a failing one answers at once.
                  health_timeout: 30s
                  health_retries: 3
                  publish: ["mode=host,target=\(port),published=\(port)"]
                  timeout: 180s
                health:
                  url: http://\(cluster.address(1)):\(port)/health
                  json: {status: healthy}
                  timeout: 30s
                  interval: 250ms
                smoke:
                  base_url: http://\(cluster.address(2)):\(port)
                  checks:
                    - {name: health, path: /health, expect: {json: {status: healthy}}}
                    - {name: security headers, path: /, expect: {headers: {X-Content-Type-Options: nosniff}}}
                metrics: {textfile_dir: metrics}
            \(extra)
            """)
        try FileManager.default.createDirectory(atPath: directory.path + "/metrics", withIntermediateDirectories: true)
    }

    func writeEnvFile() throws {
        try directory.write(".env.production", "JWT_SECRET=\(jwtSecret)\nNODE_ENV=production\nDATABASE_URL=postgres://app:\(Self.databasePassword)@db.internal/app\n", mode: 0o600)
    }

    deinit {
        // The swarm goes away with its suite; the service and secrets go now, so later tests see a clean swarm.
        let script = "docker -H \"$1\" service rm \"$2\" >/dev/null 2>&1; sleep 1; docker -H \"$1\" secret ls -q --filter label=opsctl.app=\"$3\" | xargs -r docker -H \"$1\" secret rm >/dev/null 2>&1"
        let process = try? Process.run(URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", script, "sh", cluster.manager, service, app])
        process?.waitUntilExit()
    }

    /// Runs opsctl and keeps its output for the secret checks at the end.
    @discardableResult
    func run(_ arguments: String..., timeout: Duration = .seconds(240)) async throws -> Opsctl.Run {
        let result = try await opsctl.run(arguments, timeout: timeout)
        outputs += [result.stdout, result.stderr]
        return result
    }

    /// What the app answers on every node: all `version`, and as many as there are nodes.
    func expectEveryNode(_ version: String, sourceLocation: SourceLocation = #_sourceLocation) async {
        let versions = cluster.versions(port: port)
        let expected = Array(repeating: Optional(version), count: cluster.nodeCount)
        // What Swarm says, for the failure message only.
        let tasks = versions == expected ? "" : ((try? await cluster.docker(["service", "ps", "--no-trunc", "--format", "{{.Name}} {{.Node}} {{.Image}} {{.DesiredState}} {{.CurrentState}} {{.Error}}", service]))?.standardOutput ?? "")
        #expect(versions == expected, "every node should answer \(version): \(versions)\n\(tasks)", sourceLocation: sourceLocation)
    }

    func inspectService() async throws -> String {
        let result = try await cluster.docker(["service", "inspect", service])
        return result.standardOutput
    }

    /// Secrets opsctl made for this app, by name.
    func secretNames() async throws -> [String] {
        try await cluster.docker(["secret", "ls", "--filter", "label=opsctl.app=\(app)", "--format", "{{.Name}}"]).standardOutput
            .split(separator: "\n").map(String.init).sorted()
    }

    /// No secret in any output, the ledger, the metrics or the service spec.
    func assertNoSecrets(_ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let state = directory.path + "/.opsctl/state.db"
        let ledgerDump = (try? Data(contentsOf: URL(fileURLWithPath: state))).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let wal = (try? Data(contentsOf: URL(fileURLWithPath: state + "-wal"))).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let metrics = (try? directory.read("metrics/opsctl_production.prom")) ?? ""
        for text in outputs + extra + [ledgerDump, wal, metrics] {
            #expect(!text.contains(jwtSecret), sourceLocation: sourceLocation)
            #expect(!text.contains(Self.apiToken), sourceLocation: sourceLocation)
            #expect(!text.contains(Self.databasePassword), sourceLocation: sourceLocation)
        }
    }
}
