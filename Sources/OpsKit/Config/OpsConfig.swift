// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// The typed form of `opsctl.yml` (docs/reference.md, "opsctl.yml"). Every value is resolved:
/// `${VAR}` expanded, `*_file` secrets read, durations parsed, defaults applied.
public struct OpsConfig: Sendable, Encodable {
    /// The file this came from, as the user named it.
    public var sourcePath: String
    public var app: String
    public var image: String
    public var git: GitSettings
    /// The ledger database, resolved against the config file's directory.
    public var state: String
    public var environments: [EnvironmentConfig]

    public func environment(named name: String) throws(OpsError) -> EnvironmentConfig {
        if let environment = environments.first(where: { $0.name == name }) { return environment }
        let names = environments.map(\.name)
        let suggestion = Suggestion.closest(to: name, among: names)
        throw OpsError(.usage, code: "env.unknown",
                       "unknown environment \"\(name)\"" + (suggestion.map { "; did you mean \"\($0)\"?" } ?? ""),
                       details: ["environments in \(sourcePath): " + names.joined(separator: ", ")])
    }

    /// Every secret value in the config, for scrubbing free text (logs, stderr tails).
    public var redactor: Redactor {
        Redactor(secretValues: environments.flatMap(\.secretValues))
    }
}

public struct GitSettings: Sendable, Encodable {
    public var dir: String = "."
    public var tagPrefix: String = "v"
    public func tag(for version: SemVer) -> String { tagPrefix + version.description }
}

public enum DriverKind: String, Sendable, Codable, CaseIterable { case docker, compose, swarm }
public enum RollbackMode: String, Sendable, Codable, CaseIterable { case auto, manual }

/// How traffic moves from the live release to a new one (the driver says where releases run).
public enum DeployStrategy: String, Sendable, Codable, CaseIterable {
    /// Stop the live release, start the new one: a short outage on every deploy.
    case stopStart = "stop-start"
    /// The new release on the idle slot behind the proxy, checked there, then one upstream switch.
    case blueGreen = "blue-green"
    /// The new release on the idle slot, then weighted steps of live traffic through the same
    /// upstream file, each judged from nginx's access log, then the whole switch.
    case canary

    /// Whether the strategy needs a `proxy:` section.
    public var needsProxy: Bool { self != .stopStart }
}

public struct EnvironmentConfig: Sendable, Encodable {
    public var name: String
    public var driver: DriverKind = .docker
    public var strategy: DeployStrategy = .stopStart
    public var proxy: ProxySettings?
    /// strategy canary: the steps and the limits that withdraw the new release.
    public var canary: CanarySettings?
    public var run: RunSettings = RunSettings()
    public var compose: ComposeSettings?
    public var swarm: SwarmSettings?
    public var build: BuildSettings?
    public var health: HealthSettings?
    public var smoke: SmokeSettings?
    public var rollback: RollbackMode = .auto
    public var keepReleases: Int = 5
    public var hooks: HookSettings = HookSettings()
    public var database: DatabaseSettings?
    public var backup: BackupSettings?
    public var handoff: HandoffSettings = HandoffSettings()
    public var metrics: MetricsSettings?
    public var preflight: PreflightSettings = PreflightSettings()
    public var secrets: SecretCommandSettings = SecretCommandSettings()

    /// The values known so far: a command secret counts once `SecretResolver` fetched it.
    var secretValues: [String] {
        var values = secretSettings.compactMap(\.secret.valueIfResolved)
        // The env file goes to docker as is; its secrets can come back through container logs.
        values += EnvFile.secretValues(run.envFile)
        return values
    }
}

/// One environment variable; a secret one (by name, from a `NAME_FILE` file or a
/// `NAME_COMMAND` command) is never shown.
public struct EnvVar: Sendable, Encodable {
    public var name: String
    public var value: String?
    public var secret: Secret?
    /// For `NAME_FILE` entries: the file the value was read from.
    public var fromFile: String?
    /// For `NAME_COMMAND` entries: the argv that prints the value.
    public var fromCommand: [String]?

    public var resolvedValue: String { secret?.value ?? value ?? "" }
}

public struct RunSettings: Sendable, Encodable {
    public var network: String?
    public var ports: [String] = []
    public var envFile: String?
    public var env: [EnvVar] = []
    public var volumes: [String] = []
    public var args: [String] = []
    /// `docker pull` the release image when it is not present locally (off: no registry traffic by surprise).
    public var pull: Bool = false
    /// How long `docker stop` waits after SIGTERM before SIGKILL.
    public var stopTimeout: OpsDuration = .seconds(10)
}

public struct ComposeSettings: Sendable, Encodable {
    public var files: [String] = ["docker-compose.yml"]
    public var project: String?
    public var service: String
    public var tagVariable: String = "IMAGE_TAG"
}

public struct BuildSettings: Sendable, Encodable {
    public var context: String = "."
    public var dockerfile: String?
    public var args: [EnvVar] = []
}

/// A JSON scalar an assertion compares against (`json: {status: healthy, db.ok: true}`).
public enum JSONScalar: Sendable, Hashable, Encodable, CustomStringConvertible {
    case string(String), number(Double), bool(Bool), null

    public var description: String {
        switch self {
        case .string(let text): "\"\(text)\""
        case .number(let number): number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag): String(flag)
        case .null: "null"
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        case .bool(let flag): try container.encode(flag)
        case .null: try container.encodeNil()
        }
    }
}

public struct JSONExpectation: Sendable, Encodable {
    public var path: String
    public var equals: JSONScalar
}

public struct HealthSettings: Sendable, Encodable {
    public var url: String
    public var status: Int = 200
    public var json: [JSONExpectation] = []
    public var timeout: OpsDuration = .seconds(60)
    public var interval: OpsDuration = OpsDuration(milliseconds: 250)
    public var successes: Int = 2
    public var insecure: Bool = false
}

public struct HeaderValue: Sendable, Encodable {
    public var name: String
    public var value: String?
    public var secret: Secret?

    public init(name: String, value: String? = nil, secret: Secret? = nil) {
        self.name = name
        self.value = value
        self.secret = secret
    }

    public var resolvedValue: String { secret?.value ?? value ?? "" }
}

public struct SmokeExpectation: Sendable, Encodable {
    /// Empty: any status.
    public var status: [Int] = [200]
    public var json: [JSONExpectation] = []
    /// Header name to expected value; `~regex` matches, `*` means present, `!` means absent.
    public var headers: [HeaderValue] = []
    public var bodyContains: String?
    public var bodyRegex: String?
    public var maxMs: Int?
    /// Limits on libcurl's timings (ms from the start of the transfer, like curl's `time_*`):
    /// keys dns, connect, tls, ttfb, total.
    public var phases: [PhaseLimit] = []
    /// The server certificate must stay valid at least this many more days.
    public var certDays: Int?
}

public struct PhaseLimit: Sendable, Encodable, Equatable {
    public enum Phase: String, Sendable, Encodable, CaseIterable { case dns, connect, tls, ttfb, total }
    public var phase: Phase
    public var maxMs: Int
}

public struct SmokeCheck: Sendable, Encodable {
    public var name: String
    public var method: String = "GET"
    public var path: String
    public var headers: [HeaderValue] = []
    public var body: String?
    public var timeout: OpsDuration = .seconds(10)
    public var insecure: Bool = false
    public var expect: SmokeExpectation = SmokeExpectation()

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }
}

public struct SmokeSettings: Sendable, Encodable {
    public var baseURL: String?
    public var concurrency: Int = 8
    /// `HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT` (curl's --connect-to) for every check.
    public var connectTo: [String] = []
    /// A CA bundle for https checks against an internal CA.
    public var caFile: String?
    public var checks: [SmokeCheck] = []

    public init() {}

    /// The seed's smoke-tests.sh: health, login rejects a bad password, security headers.
    public static func runbookDefaults(baseURL: String) -> SmokeSettings {
        var settings = SmokeSettings()
        settings.baseURL = baseURL
        var health = SmokeCheck(name: "health", path: "/health")
        health.expect.status = [200]
        var login = SmokeCheck(name: "login rejects a bad password", path: "/api/auth/login")
        login.method = "POST"
        login.headers = [HeaderValue(name: "Content-Type", value: "application/json")]
        login.body = #"{"username":"admin","password":"wrong"}"#
        login.expect.status = [400, 401, 403]
        var headers = SmokeCheck(name: "security headers", path: "/")
        headers.expect.status = []   // as the seed's `curl -I | grep`: any answer, the header is what counts
        headers.expect.headers = [HeaderValue(name: "X-Content-Type-Options", value: "nosniff")]
        settings.checks = [health, login, headers]
        return settings
    }
}

public struct HookSettings: Sendable, Encodable {
    /// Each hook is an argv list, run without a shell.
    public var preDeploy: [[String]] = []
    public var postDeploy: [[String]] = []
}

public struct DatabaseSettings: Sendable, Encodable {
    public var path: String
    /// `database.maintenance`: the WAL and freelist limits, the busy timeout of maintenance steps.
    public var maintenance = DatabaseMaintenance()

    public init(path: String) { self.path = path }
}

public struct RetentionPolicy: Sendable, Encodable, Equatable {
    public var keepLast: Int?
    public var keepHourly: Int?
    public var keepDaily: Int?
    public var keepWeekly: Int?
    public var keepMonthly: Int?
    public var keepYearly: Int?
    public var keepWithin: OpsDuration?

    public init(keepLast: Int? = nil, keepHourly: Int? = nil, keepDaily: Int? = nil, keepWeekly: Int? = nil,
                keepMonthly: Int? = nil, keepYearly: Int? = nil, keepWithin: OpsDuration? = nil) {
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.keepYearly = keepYearly
        self.keepWithin = keepWithin
    }
}

public struct BackupSettings: Sendable, Encodable {
    public var dir: String
    public var name: String?
    public var level: Int = 6
    public var beforeDeploy: Bool = false
    public var retention: RetentionPolicy = RetentionPolicy()
    /// A copy of every backup on S3-compatible storage.
    public var offsite: OffsiteSettings?
    /// Every backup encrypted to age recipients (`<name>_<stamp>.db.gz.age`).
    public var encryption: BackupEncryption?
    /// Continuous replication for point-in-time restores (`opsctl replicate`).
    public var replica: ReplicaSettings?
}

public struct SQLFact: Sendable, Encodable {
    public var name: String
    public var sql: String
}

public struct HandoffSettings: Sendable, Encodable {
    public var since: OpsDuration = .hours(8)
    public var disks: [String] = []
    public var facts: [SQLFact] = []
    public var webhook: Secret?
    /// Set when the webhook came from `webhook_file` (preflight checks its mode).
    public var webhookFile: String?
    public var template: String?
    /// What counts as an error line in `docker logs` (a regular expression).
    public var logPattern: String = "ERROR"
    public var thresholds: HandoffThresholds = HandoffThresholds()
}

/// The Warning rules' limits (see runbooks/handoff.md for every rule).
public struct HandoffThresholds: Sendable, Encodable, Equatable {
    /// Warning when the newest good backup is older than this.
    public var backupMaxAge: OpsDuration = .hours(26)
    /// Warning when a disk in `handoff.disks` is at least this full.
    public var diskPercent: Int = 85
    /// Warning when the app logged more error lines than this in the window.
    public var errors: Int = 10
    /// Warning when the newest off-site copy holds a backup older than this.
    public var offsiteMaxAge: OpsDuration = .hours(26)

    public init() {}
}

/// `opsctl preflight` (and the subset deploy runs first).
public struct PreflightSettings: Sendable, Encodable {
    /// Keys that must be set, at least `minSecretLength` long and not a placeholder, on top of
    /// the secret-looking keys the environment really has (see `PreflightService.secretKeys`).
    /// Empty by default: no app's key names belong in a default.
    public var secretKeys: [String] = []
    public var minSecretLength: Int = 32
    /// Added to the built-in list (your-super-secret, changeme, dev_secret, …).
    public var placeholders: [String] = []
    /// Settings that must not open the whole filesystem (`*` suffix: a prefix).
    public var pathSettings: [String] = ["ALLOWED_*"]
    /// The checks whose failure stops a deploy before it starts.
    public var fatal: [PreflightCheckID] = PreflightCheckID.defaultFatal
    /// Checks not run at all here (e.g. clock.ntp inside a container).
    public var skip: [PreflightCheckID] = []
}

/// How secret commands (`NAME_COMMAND`, `key_command`) run.
public struct SecretCommandSettings: Sendable, Encodable {
    /// Each command is killed after this long, and the run stops before anything changes.
    public var timeout: OpsDuration = .seconds(30)
}

public struct MetricsSettings: Sendable, Encodable {
    public var textfileDir: String
}
