// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// The sample app in every behaviour deploy must handle, built once per test run under its own
/// repository name so the tags mean the same thing everywhere: 1.0.0 and 1.0.1 healthy, 1.0.2
/// unhealthy, 1.0.3 crashes at start, 1.0.4 needs 2 s to start, 1.0.5 lacks the security header.
enum DeployImages {
    static let repository = "opsctl-deploy-test-\(SampleApp.fixtureHash)"
    static let releases: [(version: String, behaviour: String)] = [
        ("1.0.0", "healthy"), ("1.0.1", "healthy"), ("1.0.2", "unhealthy"), ("1.0.3", "crash"), ("1.0.4", "slow"), ("1.0.5", "no-security-header"),
    ]
    static let built = Task<Void, any Error> {
        for release in releases {
            try await setUp("env", ["IMAGE=\(repository)", repositoryRoot + "/Tests/Fixtures/sample-app/build.sh", release.version, release.behaviour, "2"])
        }
    }

    /// A commit and its `vVERSION` tag per release in the git repository at `git`, as a team
    /// tags what it ships (deploy refuses a version without its tag).
    static func tag(_ versions: [String], in git: String) async throws {
        for version in versions {
            try await setUp("git", ["-C", git, "commit", "-q", "--allow-empty", "-m", "release \(version)"])
            try await setUp("git", ["-C", git, "tag", "v\(version)"])
        }
    }
}

/// A release repository (real git, tags v1.0.0 … v1.0.5), an env file holding a secret and an
/// opsctl.yml for one app on its own port; its containers are removed afterwards.
final class DeployFixture {
    let directory = TemporaryDirectory("opsctl-deploy")
    let app = "dt\(UInt32.random(in: 0...UInt32.max))"
    let port = freeTestPorts(1)[0]
    static let jwtSecret = "jwt-\(UUID().uuidString)-secret"
    static let apiToken = "tok-\(UUID().uuidString)"

    var opsctl: Opsctl { Opsctl(directory: directory.path, environment: ["USER": "alice"]) }
    var ledger: Ledger { get throws { try Ledger(path: directory.path + "/.opsctl/state.db") } }

    /// `timeout`: health.timeout, unless a run sets HEALTH_TIMEOUT. Where a test expects a
    /// release to become healthy it is generous: a loaded machine stretches every start.
    init(timeout: String = "120s", extra: String = "") async throws {
        try await DeployImages.built.value
        let git = directory.path
        try await setUp("git", ["init", "-q", git])
        try await DeployImages.tag(DeployImages.releases.map(\.version), in: git)
        // The app logs its environment at start in real life; here a hook and the env file carry secrets.
        try directory.write(".env.production", "JWT_SECRET=\(Self.jwtSecret)\nNODE_ENV=production\n", mode: 0o600)
        try directory.write("opsctl.yml", """
            app: \(app)
            image: \(DeployImages.repository)
            state: .opsctl/state.db
            environments:
              production:
                run:
                  network: host
                  env_file: .env.production
                  env: {PORT: "\(port)", API_TOKEN: "\(Self.apiToken)"}
                  stop_timeout: 5s
                health:
                  url: http://127.0.0.1:\(port)/health
                  json: {status: healthy}
                  timeout: ${HEALTH_TIMEOUT:-\(timeout)}
                  interval: 250ms
                smoke:
                  base_url: http://127.0.0.1:\(port)
                  checks:
                    - {name: health, path: /health, expect: {json: {status: healthy}}}
                    - {name: security headers, path: /, expect: {headers: {X-Content-Type-Options: nosniff}}}
                keep_releases: 2
                metrics: {textfile_dir: metrics}
            \(extra)
            """)
        try FileManager.default.createDirectory(atPath: directory.path + "/metrics", withIntermediateDirectories: true)
    }

    deinit {
        let script = "docker ps -aq --filter label=opsctl.app=\(app) | xargs -r docker rm -f >/dev/null 2>&1"
        let process = try? Process.run(URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", script])
        process?.waitUntilExit()
    }

    func container(_ version: String) -> String { "\(app)-production-\(version)" }

    var lockPath: String { directory.path + "/.opsctl/.deploy-production.lock" }

    /// Whether process `pid` has the deploy lock file open: holding it or waiting for it.
    func holdsLock(_ pid: pid_t) -> Bool {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return descriptors.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) == lockPath }
    }

    /// What docker runs for this app: version -> running?
    func releases() async throws -> [String: Bool] {
        let states = try await DockerClient(runner: SubprocessRunner()).containers(labels: ["opsctl.app": app])
        return Dictionary(uniqueKeysWithValues: states.compactMap { state in state.version.map { ($0, state.running) } })
    }

    /// The version answering on the health endpoint right now.
    func serving() -> String? {
        guard case .success(let response) = CurlHTTP.perform(HTTPRequest(url: "http://127.0.0.1:\(port)/health")),
              case .found(.string(let version)) = JSONPath.lookup("version", in: response.body) else { return nil }
        return version
    }

    func rows() throws -> [DeploymentRecord] { try ledger.deployments(env: "production", limit: 100) }

    /// Everything a secret could leak into: the ledger file, the metrics and the given outputs.
    func assertNoSecrets(_ outputs: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ledgerDump = try String(decoding: Data(contentsOf: URL(fileURLWithPath: directory.path + "/.opsctl/state.db")), as: UTF8.self)
        let wal = (try? Data(contentsOf: URL(fileURLWithPath: directory.path + "/.opsctl/state.db-wal"))).map { String(decoding: $0, as: UTF8.self) } ?? ""
        for text in outputs + [ledgerDump, wal] {
            #expect(!text.contains(Self.jwtSecret), sourceLocation: sourceLocation)
            #expect(!text.contains(Self.apiToken), sourceLocation: sourceLocation)
        }
    }

    /// opsctl in the background, as an operator with `USER=alice` (see `Opsctl.background`).
    func background(_ arguments: [String], name: String = "bg") async throws -> Opsctl.Background {
        var runner = opsctl
        runner.environment = ["USER": "alice"]
        return try await runner.background(arguments, name: name)
    }

    func eventually(_ what: String, limit: Duration = .seconds(120), _ condition: () async throws -> Bool) async throws {
        try await OpsctlTests.eventually(what, limit: limit, condition)
    }
}

@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct DeployTests {
    @Test func firstDeployUpgradeNoOpRollbackAndPruning() async throws {
        let fixture = try await DeployFixture()
        let opsctl = fixture.opsctl

        let first = try await opsctl.run("deploy", "production", "1.0.0", "--json", "--message", "first release")
        #expect(first.exitCode == 0, "\(first.stdout)\(first.stderr)")
        let report = try first.json()
        #expect(report["outcome"] as? String == "succeeded")
        #expect((report["git_commit"] as? String)?.count == 40)
        #expect(fixture.serving() == "1.0.0")

        let upgrade = try await opsctl.run("deploy", "production", "1.0.1")
        #expect(upgrade.exitCode == 0, "\(upgrade.stdout)\(upgrade.stderr)")
        #expect(upgrade.stdout.contains("ok: deploy production 1.0.0 -> 1.0.1"))
        #expect(fixture.serving() == "1.0.1")
        #expect(try await fixture.releases() == ["1.0.0": false, "1.0.1": true], "the old release is kept, stopped, for rollback")

        let again = try await opsctl.run("deploy", "production", "1.0.1")
        #expect(again.exitCode == 0 && again.stdout.contains("already live"))
        #expect(try fixture.rows().count == 2, "a no-op is not a deploy")

        let back = try await opsctl.run("rollback", "production")
        #expect(back.exitCode == 0, "\(back.stdout)\(back.stderr)")
        #expect(fixture.serving() == "1.0.0")
        let nothingOlder = try await opsctl.run("rollback", "production")
        #expect(nothingOlder.exitCode == 64 && nothingOlder.stderr.contains("no release older than 1.0.0"))
        let forward = try await opsctl.run("rollback", "production", "--to", "1.0.1")
        #expect(forward.exitCode == 0)
        #expect(fixture.serving() == "1.0.1")
        let never = try await opsctl.run("rollback", "production", "--to", "1.0.4")
        #expect(never.exitCode == 64 && never.stderr.contains("1.0.4 was never deployed successfully to production"))

        // keep_releases: 2 -> after deploying 1.0.4 the stopped ones are 1.0.1 (previous good) and the newest other.
        let slow = try await opsctl.run("deploy", "production", "1.0.4", "--json")
        #expect(slow.exitCode == 0, "slow start within the timeout succeeds: \(slow.stdout)")
        #expect(try await fixture.releases() == ["1.0.0": false, "1.0.1": false, "1.0.4": true])
        // 1.0.5 passes health (its smoke would fail): stopped now 1.0.4 (previous good), 1.0.1, 1.0.0 -> the oldest goes.
        let pruning = try await opsctl.run("deploy", "production", "1.0.5", "--skip-smoke", "--json")
        #expect(pruning.exitCode == 0)
        #expect(try pruning.json()["pruned"] as? [String] == [fixture.container("1.0.0")])
        #expect(try await fixture.releases() == ["1.0.1": false, "1.0.4": false, "1.0.5": true])

        let history = try await opsctl.run("history", "production")
        #expect(history.stdout.contains("rollback") && history.stdout.contains("alice"))
        let rows = try fixture.rows()
        #expect(rows.last?.message == "first release")
        #expect(rows.map(\.version) == ["1.0.5", "1.0.4", "1.0.1", "1.0.0", "1.0.1", "1.0.0"])
        #expect(rows.allSatisfy { $0.status == .succeeded })
        let metrics = try fixture.directory.read("metrics/opsctl_production.prom")
        #expect(metrics.contains(#"opsctl_release_info{env="production",version="1.0.5"} 1"#))
        try await setUp("sh", ["-c", "promtool check metrics < \"$1\"", "sh", fixture.directory.path + "/metrics/opsctl_production.prom"])
        try fixture.assertNoSecrets([first.stdout, first.stderr, upgrade.stdout, back.stdout, slow.stdout, history.stdout])
    }

    /// Each failure is told apart by its reason, never by how long it took: the unhealthy release
    /// waits out a short timeout; the crash, under a timeout far longer than any start, can only
    /// have been seen by docker inspect.
    @Test func unhealthyAndCrashingReleasesRollBackByThemselves() async throws {
        let fixture = try await DeployFixture()
        let opsctl = fixture.opsctl
        #expect(try await opsctl.run("deploy", "production", "1.0.1").exitCode == 0)

        var shortTimeout = opsctl
        shortTimeout.environment["HEALTH_TIMEOUT"] = "3s"
        let unhealthy = try await shortTimeout.run("deploy", "production", "1.0.2", "--json")
        #expect(unhealthy.exitCode == 3, "\(unhealthy.stdout)\(unhealthy.stderr)")
        let report = try unhealthy.json()
        #expect(report["outcome"] as? String == "rolled_back")
        #expect((report["reason"] as? String)?.hasPrefix("not healthy after 3s: HTTP 503") == true)
        #expect(fixture.serving() == "1.0.1")
        var row = try #require(try fixture.rows().first)
        #expect(row.status == .rolledBack && row.version == "1.0.2")

        let crash = try await opsctl.run("deploy", "production", "1.0.3", "--json")
        #expect(crash.exitCode == 3)
        let crashReport = try crash.json()
        #expect(crashReport["reason"] as? String == "container \(fixture.container("1.0.3")) exited with code 1")
        let crashLogs = try #require(crashReport["failed_logs"] as? String)
        #expect(crashLogs.contains("cannot open database"))
        #expect(crashLogs.contains("config: JWT_SECRET=<redacted> API_TOKEN=<redacted>"), "the app printed both secrets; opsctl scrubbed them: \(crashLogs)")
        #expect(fixture.serving() == "1.0.1")
        row = try #require(try fixture.rows().first)
        #expect(row.status == .rolledBack)

        // The smoke converges within what is left of the health budget: long enough for a
        // healthy start on a busy machine, short enough not to wait long for a check that fails.
        var smokeBudget = opsctl
        smokeBudget.environment["HEALTH_TIMEOUT"] = "20s"
        let noHeader = try await smokeBudget.run("deploy", "production", "1.0.5")
        #expect(noHeader.exitCode == 3)
        #expect(noHeader.stdout.contains("smoke failed: security headers: header X-Content-Type-Options missing"))
        #expect(fixture.serving() == "1.0.1")

        let status = try await opsctl.run("status", "production")
        #expect(status.stdout.contains("live (ledger):   1.0.1") && !status.stdout.contains("DRIFT"), "\(status.stdout)")
        #expect(status.stdout.contains("health now:      ok (HTTP 200"))
        #expect(try #require(try fixture.rows().first { $0.version == "1.0.3" }).status == .rolledBack)
        let storedLogs = try fixture.ledger.database.query("SELECT logs FROM deployments WHERE version = '1.0.3'").first?.string(0) ?? ""
        #expect(storedLogs.contains("JWT_SECRET=<redacted>"), "the ledger keeps the failed release's logs, scrubbed")
        try fixture.assertNoSecrets([unhealthy.stdout, crash.stdout, noHeader.stdout, status.stdout])
    }

    @Test func aFailedFirstDeployOrDisabledRollbackSaysTheServiceMayBeDown() async throws {
        let fixture = try await DeployFixture()
        let first = try await fixture.opsctl.run("deploy", "production", "1.0.3")
        #expect(first.exitCode == 4)
        #expect(first.stdout.contains("THE SERVICE MAY BE DOWN") && first.stdout.contains("no previous release"))
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.1").exitCode == 0)
        var shortTimeout = fixture.opsctl
        shortTimeout.environment["HEALTH_TIMEOUT"] = "2s"
        let kept = try await shortTimeout.run("deploy", "production", "1.0.2", "--no-rollback")
        #expect(kept.exitCode == 4)
        #expect(try await fixture.releases()["1.0.2"] == true, "--no-rollback leaves the failed release for inspection")
        #expect(try fixture.rows().first?.status == .failed)
    }

    @Test func badRequestsAreRefusedBeforeAnythingChanges() async throws {
        let fixture = try await DeployFixture()
        let opsctl = fixture.opsctl
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let before = try await fixture.releases()

        let semver = try await opsctl.run("deploy", "production", "1.0", "--json")
        #expect(semver.exitCode == 64)
        #expect((try semver.json()["error"] as? [String: Any])?["code"] as? String == "semver.invalid")
        let env = try await opsctl.run("deploy", "prodution", "1.0.1")
        #expect(env.exitCode == 64 && env.stderr.contains("did you mean \"production\""))
        let tag = try await opsctl.run("deploy", "production", "1.0.9")
        #expect(tag.exitCode == 64 && tag.stderr.contains("tag v1.0.9 does not exist"))
        try await setUp("git", ["-C", fixture.directory.path, "tag", "v1.0.6"])
        let image = try await opsctl.run("deploy", "production", "1.0.6")
        #expect(image.exitCode == 69 && image.stderr.contains("image \(DeployImages.repository):1.0.6 is not present"), "\(image.stderr)")
        var dead = opsctl
        dead.environment["DOCKER_HOST"] = "unix://\(fixture.directory.path)/no-docker.sock"
        let daemon = try await dead.run("deploy", "production", "1.0.1")
        #expect(daemon.exitCode == 69 && daemon.stderr.contains("Docker daemon is not reachable"), "\(daemon.stderr)")
        let rollbackDaemon = try await dead.run("rollback", "production")
        #expect(rollbackDaemon.exitCode == 69)

        let plan = try await opsctl.run("deploy", "production", "1.0.1", "--dry-run")
        #expect(plan.exitCode == 0)
        #expect(plan.stdout.contains("docker run --detach --name \(fixture.container("1.0.1"))"))
        #expect(plan.stdout.contains("docker container stop --time 5 -- \(fixture.container("1.0.0"))"))

        let multiline = try fixture.directory.read("opsctl.yml").replacingOccurrences(of: "stop_timeout: 5s", with: "stop_timeout: 5s\n      volumes: []\n      args: []")
            .replacingOccurrences(of: "env: {PORT:", with: "env: {PEM: \"line1\\nline2\", PORT:")
        try fixture.directory.write("opsctl.yml", multiline)
        let newline = try await opsctl.run("deploy", "production", "1.0.1")
        #expect(newline.exitCode == 78 && newline.stderr.contains("run.env.PEM: the value has a newline"), "\(newline.stderr)")

        #expect(try await fixture.releases() == before)
        #expect(try fixture.rows().count == 1, "refusals and dry runs write no deploy rows")
        #expect(fixture.serving() == "1.0.0")
        try fixture.assertNoSecrets([plan.stdout, plan.stderr, image.stderr])
    }

    @Test func preDeployBackupAndHooksWithTheReleaseInTheirEnvironmentAFailingPreHookChangesNothing() async throws {
        let fixture = try await DeployFixture(extra: """
                hooks:
                  pre_deploy: [["sh", "-c", "echo pre $OPSCTL_ENV $OPSCTL_VERSION from=$OPSCTL_PREVIOUS_VERSION >> hooks.log; test ! -e block"]]
                  post_deploy: [["sh", "-c", "echo post $OPSCTL_VERSION >> hooks.log"]]
                database: {path: data/app.db}
                backup: {dir: backups, before_deploy: true}
            """)
        try FileManager.default.createDirectory(atPath: fixture.directory.path + "/data", withIntermediateDirectories: true)
        try await setUp("sqlite3", [fixture.directory.path + "/data/app.db", "CREATE TABLE t(x); INSERT INTO t VALUES (1);"])
        let first = try await fixture.opsctl.run("deploy", "production", "1.0.0")
        #expect(first.exitCode == 0, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains("pre-deploy backup"))
        let backups = try FileManager.default.contentsOfDirectory(atPath: fixture.directory.path + "/backups").filter { $0.hasSuffix(".db.gz") }
        #expect(backups.count == 1)
        #expect(try fixture.ledger.lastBackup(env: "production")?.status == .succeeded)
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.1").exitCode == 0)
        #expect(try fixture.directory.read("hooks.log") == "pre production 1.0.0 from=\npost 1.0.0\npre production 1.0.1 from=1.0.0\npost 1.0.1\n")
        try fixture.directory.write("block", "")
        let blocked = try await fixture.opsctl.run("deploy", "production", "1.0.4")
        #expect(blocked.exitCode == 1 && blocked.stderr.contains("pre_deploy hook failed"))
        #expect(fixture.serving() == "1.0.1")
        #expect(try await fixture.releases()["1.0.4"] == nil)
    }

    static let buildSecret = "9.\(UInt16.random(in: 1...9999)).\(UInt16.random(in: 1...9999))"

    @Test func aBuildSectionBuildsTheImageFromTheTagNotTheWorkingTree() async throws {
        let image = "opsctl-build-test-\(UInt32.random(in: 0...UInt32.max))"
        // VERSION comes from a secret file: docker gets it through its environment, never argv.
        let fixture = try await DeployFixture(extra: "    build: {context: app, dockerfile: Dockerfile, args: {BEHAVIOUR: healthy, VERSION_FILE: .secrets/build-version}}")
        defer { _ = try? Process.run(URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", "docker rmi -f $(docker images -q \(image)) >/dev/null 2>&1"]) }
        try fixture.directory.write(".secrets/build-version", Self.buildSecret + "\n", mode: 0o600)
        let config = try fixture.directory.read("opsctl.yml").replacingOccurrences(of: "image: \(DeployImages.repository)", with: "image: \(image)")
        try fixture.directory.write("opsctl.yml", config)
        // Release 2.0.0 is the sample app as committed at the tag; the working tree changes afterwards.
        let fixtures = repositoryRoot + "/Tests/Fixtures/sample-app"
        try await setUp("cp", ["-R", fixtures, fixture.directory.path + "/app"])
        try await setUp("git", ["-C", fixture.directory.path, "add", "app"])
        try await setUp("git", ["-C", fixture.directory.path, "commit", "-q", "-m", "the app"])
        try await setUp("git", ["-C", fixture.directory.path, "tag", "v2.0.0"])
        try fixture.directory.write("app/Dockerfile", "this is not a Dockerfile\n")
        let deploy = try await fixture.opsctl.run("deploy", "production", "2.0.0", "-vv")
        #expect(deploy.exitCode == 0, "\(deploy.stdout)\(deploy.stderr)")
        #expect(try await DockerClient(runner: SubprocessRunner()).imageExists("\(image):2.0.0"))
        #expect(fixture.serving() == Self.buildSecret, "the secret build arg reached the build: the tag's Dockerfile passes VERSION on")
        #expect(deploy.stderr.contains("--build-arg VERSION ") && !deploy.stderr.contains(Self.buildSecret), "the argv names the arg, never its value")
    }

    /// The deploy of 1.0.4 holds the lock in its pre_deploy hook until the test lets it go, so
    /// the overlap is the test's doing, not a race against how fast the machine is.
    @Test func aSecondDeployWhileOneRunsExitsFiveNamingTheHolder() async throws {
        let fixture = try await DeployFixture(extra: """
                hooks:
                  pre_deploy: [["sh", "-c", "[ \\"$OPSCTL_VERSION\\" = 1.0.4 ] || exit 0; touch holding; while [ ! -e release ]; do sleep 0.05; done"]]
            """)
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let holder = try await fixture.background(["deploy", "production", "1.0.4"])
        try await fixture.eventually("the deploy of 1.0.4 to hold the lock") { FileManager.default.fileExists(atPath: fixture.directory.file("holding")) }
        let second = try await fixture.opsctl.run("deploy", "production", "1.0.1", "--json")
        #expect(second.exitCode == 5)
        let error = try #require(try second.json()["error"] as? [String: Any])
        #expect(error["code"] as? String == "lock.held")
        #expect((error["message"] as? String)?.contains("pid \(holder.pid)") == true, "\(error)")
        // A deploy queued behind it starts from what runs once the lock is free, not from what ran before.
        let queued = try await fixture.background(["deploy", "production", "1.0.1", "--wait-lock", "5m"], name: "queued")
        try await fixture.eventually("the queued deploy to wait on the lock") { fixture.holdsLock(queued.pid) }
        try fixture.directory.write("release", "")
        #expect(try await holder.finished() == 0)
        let queuedCode = try await queued.finished()
        let queuedOutput = (try? fixture.directory.read("queued.out")) ?? ""
        #expect(queuedCode == 0, "\(queuedOutput)")
        #expect(try await fixture.releases() == ["1.0.0": false, "1.0.4": false, "1.0.1": true])
        #expect(try fixture.rows().first { $0.version == "1.0.1" }?.previousVersion == "1.0.4")
    }

    /// A deploy queued behind --wait-lock 5m stops waiting on SIGTERM at once, changing nothing.
    @Test func sigtermStopsAQueuedDeployPromptly() async throws {
        let fixture = try await DeployFixture()
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let held = try FileLock.acquire(path: fixture.lockPath, what: "a deploy", command: "held by the test")
        defer { held.release() }
        let queued = try await fixture.background(["deploy", "production", "1.0.1", "--wait-lock", "5m"], name: "queued")
        try await fixture.eventually("the queued deploy to wait on the lock") { fixture.holdsLock(queued.pid) }
        let signalled = ContinuousClock.now
        kill(queued.pid, SIGTERM)
        #expect(try await queued.finished() == 5)
        #expect(ContinuousClock.now - signalled < .seconds(120), "noticed within a poll, not when the 5 minutes end")
        #expect(try fixture.directory.read("queued.err").contains("stopped waiting for the lock (interrupted by SIGTERM)"))
        #expect(fixture.serving() == "1.0.0")
        #expect(try fixture.rows().count == 1, "nothing was recorded: the deploy never started")
    }

    /// 1.0.2 never becomes healthy and the timeout is long: however late the signal lands, it
    /// lands during the health-wait.
    @Test func sigtermDuringTheHealthWaitRestoresThePreviousRelease() async throws {
        let fixture = try await DeployFixture()
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.1").exitCode == 0)
        let deploy = try await fixture.background(["deploy", "production", "1.0.2"])
        try await fixture.eventually("the new container to run") { try await fixture.releases()["1.0.2"] == true }
        kill(deploy.pid, SIGTERM)
        #expect(try await deploy.finished() == 3)
        #expect(fixture.serving() == "1.0.1")
        let row = try #require(try fixture.rows().first)
        #expect(row.status == .interrupted && row.reason?.hasPrefix("interrupted by SIGTERM") == true, "\(row)")
        #expect(try fixture.directory.read("bg.err").contains("caught SIGTERM"))
    }

    @Test func afterSigkillStatusMarksTheRunInterruptedAndShowsTheDrift() async throws {
        let fixture = try await DeployFixture()
        #expect(try await fixture.opsctl.run("deploy", "production", "1.0.1").exitCode == 0)
        let deploy = try await fixture.background(["deploy", "production", "1.0.2"])
        try await fixture.eventually("the new container to run") { try await fixture.releases()["1.0.2"] == true }
        kill(deploy.pid, SIGKILL)
        _ = try await deploy.finished()
        #expect(try fixture.rows().first?.status == .running, "nobody could write the end of the row")

        let status = try await fixture.opsctl.run("status", "production", "--json")
        let document = try status.json()
        let reconciled = try #require(document["reconciled"] as? [[String: Any]])
        #expect(reconciled.first?["version"] as? String == "1.0.2")
        #expect((document["drift"] as? String)?.contains("docker runs 1.0.2") == true, "\(document["drift"] ?? "none")")
        #expect(try fixture.rows().first?.status == .interrupted)

        // The next deploy starts from what really runs.
        let redeploy = try await fixture.opsctl.run("deploy", "production", "1.0.1")
        #expect(redeploy.exitCode == 0, "\(redeploy.stdout)\(redeploy.stderr)")
        #expect(fixture.serving() == "1.0.1")
    }
}
