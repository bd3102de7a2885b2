// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

struct UpstreamTests {
    @Test func rendersOneServerForASwitchAndWeightsForSteps() {
        #expect(Upstream.routing("dashboard", to: "127.0.0.1:3002").render().hasSuffix("upstream dashboard {\n    server 127.0.0.1:3002;\n}\n"))
        let steps = Upstream(name: "dashboard", servers: [.init(address: "127.0.0.1:3001", weight: 90), .init(address: "127.0.0.1:3002", weight: 10)])
        #expect(steps.render().contains("    server 127.0.0.1:3001 weight=90;\n    server 127.0.0.1:3002 weight=10;\n"))
        // nginx refuses weight=0: no traffic is `down`.
        let withdrawn = Upstream(name: "dashboard", servers: [.init(address: "127.0.0.1:3001"), .init(address: "127.0.0.1:3002", weight: 0)])
        #expect(withdrawn.render().contains("server 127.0.0.1:3002 down;"))
        #expect(withdrawn.liveAddresses == ["127.0.0.1:3001"])
    }

    @Test func parsesWhatItWritesAndWhatPeopleWrite() {
        let written = Upstream(name: "app", servers: [.init(address: "127.0.0.1:3001", weight: 90), .init(address: "127.0.0.1:3002", weight: 10)])
        #expect(Upstream.parse(written.render(), name: "app") == written)
        let byHand = """
            # the team's own file
            upstream other { server 10.0.0.1:80; }
            upstream app{
                keepalive 8;   # not ours to keep, but harmless to read
                server 127.0.0.1:3001 max_fails=3 down;
                server [::1]:3002 weight=2;
            }
            """
        #expect(Upstream.parse(byHand, name: "app")?.servers == [.init(address: "127.0.0.1:3001", weight: 0), .init(address: "[::1]:3002", weight: 2)])
        #expect(Upstream.parse(byHand, name: "missing") == nil)
        #expect(Upstream.parse("upstream app { server 127.0.0.1:1;", name: "app") == nil, "an unterminated block is not read")
        #expect(Upstream.parse("# upstream app { server 127.0.0.1:1; }", name: "app") == nil, "comments are not config")
    }
}

struct ProxyRouteTests {
    @Test func beforeTheSwitchToTheSlotAfterItThroughTheProxy() {
        let slot = ProxySlot(name: "green", host: "127.0.0.1", port: 3002)
        #expect(ProxyRoute.url("http://app.example.com:3000/health?deep=1", at: slot) == "http://127.0.0.1:3002/health?deep=1")
        #expect(ProxyRoute.url("http://127.0.0.1:3000/health", through: "http://127.0.0.1:80") == "http://127.0.0.1:80/health")
        #expect(ProxyRoute.url("http://127.0.0.1:3000/health", through: "https://proxy.internal/app/") == "https://proxy.internal/app/health")
        #expect(ProxyRoute.url("http://user:pw@127.0.0.1:3000/health", at: slot) == "http://127.0.0.1:3002/health", "no credentials travel to a slot")
        var smoke = SmokeSettings()
        smoke.baseURL = "http://127.0.0.1:3000"
        smoke.checks = [SmokeCheck(name: "a", path: "/"), SmokeCheck(name: "b", path: "http://127.0.0.1:3000/x")]
        let routed = ProxyRoute.smoke(smoke, at: slot)
        #expect(routed.baseURL == "http://127.0.0.1:3002" && routed.checks.map(\.path) == ["/", "http://127.0.0.1:3002/x"])
    }

    @Test func aSlotPortInUseIsTaken() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(bound == 0 && listen(listener, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        #expect(!SlotPort.isFree(ProxySlot(name: "blue", host: "127.0.0.1", port: port)))
        close(listener)
        #expect(SlotPort.isFree(ProxySlot(name: "blue", host: "127.0.0.1", port: port)))
    }
}

struct NginxProxyTests {
    let directory = TemporaryDirectory("opsctl-proxy")

    func proxy(checkExit: Int32 = 0, reloadExit: Int32 = 0) -> (NginxProxy, RecordingRunner) {
        let runner = RecordingRunner { request in
            request.arguments.last == "-t" ? RecordingRunner.result(request, exit: checkExit, stderr: checkExit == 0 ? "" : "nginx: [emerg] invalid port in \"x\"")
                                           : RecordingRunner.result(request, exit: reloadExit, stderr: reloadExit == 0 ? "" : "nginx: [error] open() \"/run/nginx.pid\" failed")
        }
        let settings = ProxySettings(upstreamFile: directory.file("upstream.conf"), upstreamName: "app", url: "http://127.0.0.1:80",
                                     slots: [ProxySlot(name: "blue", host: "127.0.0.1", port: 3001), ProxySlot(name: "green", host: "127.0.0.1", port: 3002)])
        return (NginxProxy(settings: settings, runner: runner), runner)
    }

    @Test func aSwitchWritesChecksReloadsAndCanBeUndone() async throws {
        let (proxy, runner) = proxy()
        #expect(try proxy.liveSlot() == nil, "no file yet")
        let change = try await proxy.apply(proxy.routing(to: proxy.settings.slots[1]))
        #expect(try proxy.liveSlot()?.name == "green")
        #expect(runner.requests.map(\.arguments) == [["-t"], ["-s", "reload"]])
        try await proxy.revert(change)
        #expect(!FileManager.default.fileExists(atPath: proxy.path), "there was no file before: there is none after")
    }

    @Test func aRefusedCheckPutsTheOldFileBackAndReloadsNothing() async throws {
        let (proxy, runner) = proxy(checkExit: 1)
        try directory.write("upstream.conf", "upstream app { server 127.0.0.1:3001; }\n")
        let error = await #expect(throws: OpsError.self) { try await proxy.apply(proxy.routing(to: proxy.settings.slots[1])) }
        #expect(error?.code == "proxy.check_failed")
        #expect(error?.message.contains("nginx: [emerg] invalid port in \"x\"") == true)
        #expect(try directory.read("upstream.conf") == "upstream app { server 127.0.0.1:3001; }\n")
        #expect(runner.requests.count == 1)
    }

    @Test func aFailedReloadAlsoPutsTheOldFileBack() async throws {
        let (proxy, _) = proxy(reloadExit: 1)
        try directory.write("upstream.conf", "upstream app { server 127.0.0.1:3001; }\n")
        let error = await #expect(throws: OpsError.self) { try await proxy.apply(proxy.routing(to: proxy.settings.slots[1])) }
        #expect(error?.code == "proxy.reload_failed")
        #expect(try proxy.liveSlot()?.name == "blue")
    }

    @Test func theUpstreamFileMustBeWritableInAnExistingDirectory() {
        var settings = proxy().0.settings
        #expect(ProxyReadiness.upstreamFileProblem(settings) == nil)
        settings.upstreamFile = directory.path + "/missing/upstream.conf"
        #expect(ProxyReadiness.upstreamFileProblem(settings)?.contains("does not exist") == true)
        #expect(ProxyReadiness.upstreamContentProblem(settings, text: "worker_processes 1;\n")?.contains("holds no `upstream app") == true,
                "a file that is not ours is never taken over")
    }
}

struct DockerDriverCommandTests {
    let directory = TemporaryDirectory("opsctl-driver")

    func driver(_ runner: RecordingRunner) throws -> DockerReleaseDriver {
        let config = try ConfigLoader.parse("""
            app: shop
            image: shop
            state: .opsctl/state.db
            environments:
              production:
                strategy: blue-green
                run: {network: host, env: {API_TOKEN: tok-very-secret, MODE: live}}
                proxy:
                  upstream_file: upstream.conf
                  upstream_name: shop
                  url: http://127.0.0.1:80
                  slots: {blue: "127.0.0.1:3001", green: "127.0.0.1:3002"}
                  port_env: PORT
                health: {url: "http://127.0.0.1:3000/health"}
            """, fileName: directory.file("opsctl.yml"), baseDirectory: URL(fileURLWithPath: directory.path), environment: [:])
        try FileManager.default.createDirectory(atPath: directory.file(".opsctl"), withIntermediateDirectories: true)
        return DockerReleaseDriver(config: config, environment: try config.environment(named: "production"), docker: DockerClient(runner: runner))
    }

    @Test func whatTheDryRunPrintsIsWhatRunsAndSecretsGoThroughAPrivateFile() async throws {
        let seen = Recorded()
        let runner = RecordingRunner { request in
            if request.arguments.first == "container", request.arguments.dropFirst().first == "inspect" {
                return RecordingRunner.result(request, exit: 1, stderr: "Error: No such container")
            }
            if request.arguments.first == "run", let index = request.arguments.lastIndex(of: "--env-file") {
                let path = request.arguments[index + 1]
                var info = stat()
                stat(path, &info)
                seen.set((try? String(contentsOfFile: path, encoding: .utf8)) ?? "", mode: info.st_mode & 0o777)
            }
            return RecordingRunner.result(request)
        }
        let driver = try driver(runner)
        let target = ReleaseTarget(version: "1.2.0", slot: ProxySlot(name: "green", host: "127.0.0.1", port: 3002))
        let commands = try await driver.startCommands(target, fresh: true)
        let printed = commands.map { $0.display(redactor: Redactor(secretValues: ["tok-very-secret"])) }
        #expect(printed[1].contains("--name shop-production-1.2.0-green --label opsctl.app=shop --label opsctl.env=production --label opsctl.slot=green"))
        #expect(printed[1].contains("--network host --env-file \(directory.path)/.opsctl/.opsctl-env-") && printed[1].contains("--env PORT=3002 shop:1.2.0"))
        #expect(!printed.joined().contains("tok-very-secret"))
        try await DriverCommand.run(commands, runner: runner)
        let ran = runner.requests.filter { $0.arguments.first != "container" || $0.arguments.dropFirst().first != "inspect" }
        #expect(ran == commands.map(\.request), "the commands run are the commands the dry run prints")
        #expect(seen.contents == "API_TOKEN=tok-very-secret\nMODE=live\n" && seen.mode == 0o600)
        #expect(!FileManager.default.fileExists(atPath: commands[1].privateFile!.path), "removed after the start")
    }
}

final class Recorded: @unchecked Sendable {
    private let lock = NSLock()
    private var _contents = ""
    private var _mode: mode_t = 0
    var contents: String { lock.withLock { _contents } }
    var mode: mode_t { lock.withLock { _mode } }
    func set(_ contents: String, mode: mode_t) { lock.withLock { _contents = contents; _mode = mode } }
}

struct StrategyConfigTests {
    let directory = TemporaryDirectory("opsctl-strategy")

    func yaml(strategy: String = "blue-green", driver: String = "docker", proxy: String? = nil, run: String = "{network: host}") -> String {
        let proxy = proxy ?? """
            {kind: nginx, upstream_file: conf.d/up.conf, upstream_name: dashboard, check: [nginx, -t], reload: [systemctl, reload, nginx],
                   url: "http://127.0.0.1:80", slots: {blue: "127.0.0.1:3001", green: "127.0.0.1:3002"}, port_env: PORT, standby: 5m}
            """
        return """
            app: dashboard
            image: dashboard
            environments:
              production:
                driver: \(driver)
                strategy: \(strategy)
                run: \(run)
                proxy: \(proxy)
                health: {url: "http://127.0.0.1:3000/health"}
            """
    }

    func parse(_ text: String) throws(OpsError) -> EnvironmentConfig {
        try ConfigLoader.parse(text, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: [:])
            .environment(named: "production")
    }

    func message(_ text: String) -> String {
        opsError { () throws(OpsError) in _ = try parse(text) }?.message ?? "(no error)"
    }

    @Test func theContractKeysParse() throws {
        let environment = try parse(yaml())
        let proxy = try #require(environment.proxy)
        #expect(environment.strategy == .blueGreen)
        #expect(proxy.kind == .nginx && proxy.upstreamName == "dashboard" && proxy.upstreamFile == directory.path + "/conf.d/up.conf")
        #expect(proxy.check == ["nginx", "-t"] && proxy.reload == ["systemctl", "reload", "nginx"])
        #expect(proxy.slots.map(\.address) == ["127.0.0.1:3001", "127.0.0.1:3002"] && proxy.portEnv == "PORT" && proxy.standby == .minutes(5))
        #expect(try parse(yaml(strategy: "stop-start")).strategy == .stopStart)
        #expect(try ConfigLoader.parse("app: a\nimage: a\nenvironments: {p: {health: {url: \"http://h/\"}}}", fileName: "x", baseDirectory: URL(fileURLWithPath: "/"), environment: [:])
            .environments[0].strategy == .stopStart, "stop-start is the default")
    }

    @Test func refusedBeforeAnythingStartsWithTheKeyThatIsWrong() {
        #expect(message(yaml().replacingOccurrences(of: "    proxy:", with: "    proxy_off:")).contains("unknown key"))
        #expect(message(yaml(proxy: "~")).contains("production.strategy: strategy blue-green needs a proxy: section"))
        #expect(message(yaml().replacingOccurrences(of: "kind: nginx", with: "kind: traefik")).contains("\"traefik\" is not one of nginx"))
        #expect(message(yaml().replacingOccurrences(of: "127.0.0.1:3002", with: "127.0.0.1:3001")).contains("blue and green are the same place"))
        #expect(message(yaml().replacingOccurrences(of: "127.0.0.1:3002", with: "127.0.0.1")).contains("is not host:port"))
        #expect(message(yaml(driver: "swarm")).contains("runs two releases side by side on the docker driver"))
        #expect(message(yaml(run: "{network: host, ports: [\"3000:3000\"]}")).contains("remove run.ports"))
        #expect(message(yaml().replacingOccurrences(of: ", port_env: PORT", with: "")).contains("set port_env"))
        #expect(message(yaml().replacingOccurrences(of: "reload: [systemctl, reload, nginx]", with: "reload: \"nginx -s reload\"")).contains("never a shell string"))
        #expect(message(yaml().replacingOccurrences(of: "standby: 5m", with: "standby: 5")).contains("\"5\" is not a duration"))
        #expect(message(yaml().replacingOccurrences(of: "strategy: blue-green", with: "strategy: blue_green")).contains("did you mean \"blue-green\""))
    }
}
