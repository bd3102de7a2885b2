// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Yams

/// Reads and validates `opsctl.yml`. Every failure is an `OpsError` of kind `.config` (exit 78)
/// whose message starts with `file:line:column: key.path:`.
public enum ConfigLoader {
    public static let defaultFileName = "opsctl.yml"

    /// `--config`, else `$OPSCTL_CONFIG`, else `./opsctl.yml`.
    public static func resolvePath(explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = environment["OPSCTL_CONFIG"], !fromEnvironment.isEmpty { return fromEnvironment }
        return defaultFileName
    }

    public static func load(path: String, environment: [String: String]) throws(OpsError) -> OpsConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = YAMLReader.reason(error)
            let hint = FileManager.default.fileExists(atPath: path) ? [] : ["create one with `opsctl init`, or pass --config FILE"]
            throw OpsError(.config, code: "config.unreadable", "\(path): cannot read config: \(reason)", details: hint)
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        return try parse(text, fileName: path, baseDirectory: base, environment: environment)
    }

    public static func parse(_ text: String, fileName: String, baseDirectory: URL, environment: [String: String]) throws(OpsError) -> OpsConfig {
        let reader = YAMLReader(fileName: fileName, environment: environment, baseDirectory: baseDirectory)
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else {
                throw reader.error(at: nil, path: "", "the file is empty")
            }
            root = composed
        } catch let error as OpsError {
            throw error
        } catch let error as YamlError {
            throw yamlSyntaxError(error, fileName: fileName)
        } catch {
            throw OpsError(.config, code: "config.invalid", "\(fileName): \(error)")
        }
        return try ConfigSchema(reader: reader, baseDirectory: baseDirectory).config(from: root, sourcePath: fileName)
    }

    static func yamlSyntaxError(_ error: YamlError, fileName: String) -> OpsError {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let contextText = context.map { " (\($0.text))" } ?? ""
            return OpsError(.config, code: "config.syntax", "\(fileName):\(mark.line):\(mark.column): YAML syntax error: \(problem)\(contextText)")
        case .reader(let problem, let offset, _, _):
            return OpsError(.config, code: "config.syntax", "\(fileName): cannot read YAML: \(problem)" + (offset.map { " at byte \($0)" } ?? ""))
        default:
            return OpsError(.config, code: "config.syntax", "\(fileName): YAML error: \(error)")
        }
    }
}

/// The schema: which keys exist where, their types, and their defaults.
struct ConfigSchema {
    let reader: YAMLReader
    let baseDirectory: URL

    static let rootKeys = ["app", "image", "git", "state", "environments"]
    static let environmentKeys = ["driver", "strategy", "proxy", "run", "compose", "swarm", "build", "health", "smoke", "rollback",
                                  "keep_releases", "hooks", "database", "backup", "handoff", "metrics", "preflight", "secrets", "canary"]

    func config(from root: Node, sourcePath: String) throws(OpsError) -> OpsConfig {
        let map = try MappingReader(root, path: "", reader: reader, allowedKeys: Self.rootKeys)
        let app = try map.requiredString("app")
        guard Self.isName(app) else {
            throw reader.error(at: map.value("app"), path: "app", "\"\(app)\" must be lowercase letters, digits, '-', '_' or '.', starting with a letter or digit (it names containers)")
        }
        var git = GitSettings()
        if let gitMap = try map.mapping("git", allowedKeys: ["dir", "tag_prefix"]) {
            git.dir = try gitMap.string("dir") ?? git.dir
            git.tagPrefix = try gitMap.string("tag_prefix") ?? git.tagPrefix
        }
        let environments = try self.environments(map)
        git.dir = resolvePath(git.dir)
        let state = try map.string("state") ?? ".opsctl/state.db"
        return OpsConfig(
            sourcePath: sourcePath,
            app: app,
            image: try map.requiredString("image"),
            git: git,
            state: resolvePath(state),
            environments: environments)
    }

    /// `environments:`, at least one, each under a name that can name containers.
    func environments(_ map: MappingReader) throws(OpsError) -> [EnvironmentConfig] {
        guard let environmentsMap = try map.openMapping("environments") else { throw map.missing("environments") }
        var environments: [EnvironmentConfig] = []
        for name in environmentsMap.keys {
            let path = environmentsMap.keyPath(name)
            guard Self.isName(name) else {
                throw reader.error(at: environmentsMap.keyNode(name), path: path, "environment names must be lowercase letters, digits, '-', '_' or '.'")
            }
            guard let node = environmentsMap.value(name) else {
                throw reader.error(at: environmentsMap.keyNode(name), path: path, "expected a mapping of settings, found nothing")
            }
            let environmentMap = try MappingReader(node, path: path, reader: reader, allowedKeys: Self.environmentKeys)
            environments.append(try environment(name: name, environmentMap))
        }
        guard !environments.isEmpty else { throw reader.error(at: environmentsMap.node, path: "environments", "define at least one environment") }
        return environments
    }

    /// Relative paths in the config mean relative to the config file, not to wherever cron runs us.
    func resolvePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: path, relativeTo: baseDirectory).standardizedFileURL.path
    }

    static func isName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first) || ("0"..."9").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }
    }

    /// One environment, section by section in the order the file's mistakes are reported; the
    /// rules between sections run as soon as the sections they compare are read.
    func environment(name: String, _ map: MappingReader) throws(OpsError) -> EnvironmentConfig {
        var environment = EnvironmentConfig(name: name)
        environment.driver = try map.choice("driver", DriverKind.self) ?? .docker
        environment.rollback = try map.choice("rollback", RollbackMode.self) ?? .auto
        environment.keepReleases = try map.int("keep_releases", range: 1...100) ?? 5
        environment.run = try map.mapping("run", allowedKeys: Self.runKeys).map(runSettings) ?? environment.run
        environment.compose = try composeSection(of: map, driver: environment.driver)
        environment.swarm = try swarmSection(of: map, driver: environment.driver)
        try checkDriverFits(environment, map)
        environment.build = try map.mapping("build", allowedKeys: Self.buildKeys).map(buildSettings)
        environment.health = try map.mapping("health", allowedKeys: Self.healthKeys).map(healthSettings)
        environment.smoke = try map.mapping("smoke", allowedKeys: Self.smokeKeys).map(smokeSettings)
        environment.preflight = try map.mapping("preflight", allowedKeys: Self.preflightKeys).map(preflightSettings) ?? environment.preflight
        environment.hooks = try map.mapping("hooks", allowedKeys: Self.hookKeys).map(hookSettings) ?? environment.hooks
        environment.database = try map.mapping("database", allowedKeys: Self.databaseKeys).map(databaseSettings)
        environment.backup = try map.mapping("backup", allowedKeys: Self.backupKeys).map(backupSettings)
        environment.secrets = try map.mapping("secrets", allowedKeys: Self.secretCommandKeys).map(secretCommandSettings) ?? environment.secrets
        environment.handoff = try map.mapping("handoff", allowedKeys: Self.handoffKeys).map(handoffSettings) ?? environment.handoff
        environment.metrics = try map.mapping("metrics", allowedKeys: Self.metricsKeys).map(metricsSettings)
        environment.strategy = try map.choice("strategy", DeployStrategy.self) ?? .stopStart
        environment.proxy = try map.mapping("proxy", allowedKeys: Self.proxyKeys).map(proxySettings)
        environment.canary = try canarySection(of: map, strategy: environment.strategy)
        try checkStrategyFits(environment, map)
        return environment
    }

    static let runKeys = ["network", "ports", "env_file", "env", "volumes", "args", "pull", "stop_timeout"]

    func runSettings(_ run: MappingReader) throws(OpsError) -> RunSettings {
        var settings = RunSettings()
        settings.pull = try run.bool("pull") ?? false
        settings.stopTimeout = try run.duration("stop_timeout") ?? settings.stopTimeout
        settings.network = try run.string("network")
        settings.ports = try run.stringList("ports") ?? []
        settings.envFile = try run.string("env_file").map(resolvePath)
        settings.env = try envVars(run, "env")
        settings.volumes = try run.stringList("volumes") ?? []
        settings.args = try run.stringList("args") ?? []
        return settings
    }

    static let composeKeys = ["files", "project", "service", "tag_variable"]

    /// The `compose:` section; driver compose cannot run without one.
    func composeSection(of map: MappingReader, driver: DriverKind) throws(OpsError) -> ComposeSettings? {
        guard let compose = try map.mapping("compose", allowedKeys: Self.composeKeys) else {
            if driver == .compose {
                throw reader.error(at: map.node, path: map.keyPath("compose"), "driver compose needs a compose: section (files, service)")
            }
            return nil
        }
        var settings = ComposeSettings(service: try compose.requiredString("service"))
        settings.files = try compose.stringList("files") ?? settings.files
        settings.project = try compose.string("project")
        settings.tagVariable = try compose.string("tag_variable") ?? settings.tagVariable
        return settings
    }

    static let buildKeys = ["context", "dockerfile", "args"]

    func buildSettings(_ build: MappingReader) throws(OpsError) -> BuildSettings {
        var settings = BuildSettings()
        settings.context = try build.string("context") ?? "."
        settings.dockerfile = try build.string("dockerfile")
        settings.args = try envVars(build, "args")
        return settings
    }

    static let healthKeys = ["url", "status", "json", "timeout", "interval", "successes", "insecure"]

    func healthSettings(_ health: MappingReader) throws(OpsError) -> HealthSettings {
        var settings = HealthSettings(url: try httpURL(health, "url", required: true)!)
        settings.status = try health.int("status", range: 100...599) ?? 200
        settings.json = try jsonExpectations(health, "json")
        settings.timeout = try health.duration("timeout") ?? settings.timeout
        settings.interval = try health.duration("interval") ?? settings.interval
        settings.successes = try health.int("successes", range: 1...100) ?? 2
        settings.insecure = try health.bool("insecure") ?? false
        guard settings.interval.milliseconds > 0 else {
            throw reader.error(at: health.value("interval"), path: health.keyPath("interval"), "must be greater than 0")
        }
        return settings
    }

    static let preflightKeys = ["secret_keys", "min_secret_length", "placeholders", "path_settings", "fatal", "skip"]

    func preflightSettings(_ preflight: MappingReader) throws(OpsError) -> PreflightSettings {
        var settings = PreflightSettings()
        settings.secretKeys = try preflight.stringList("secret_keys") ?? settings.secretKeys
        settings.minSecretLength = try preflight.int("min_secret_length", range: 1...4096) ?? settings.minSecretLength
        settings.placeholders = try preflight.stringList("placeholders") ?? []
        settings.pathSettings = try preflight.stringList("path_settings") ?? settings.pathSettings
        settings.fatal = try preflightChecks(preflight, "fatal") ?? settings.fatal
        settings.skip = try preflightChecks(preflight, "skip") ?? []
        return settings
    }

    static let hookKeys = ["pre_deploy", "post_deploy"]

    func hookSettings(_ hooks: MappingReader) throws(OpsError) -> HookSettings {
        HookSettings(preDeploy: try argvLists(hooks, "pre_deploy"), postDeploy: try argvLists(hooks, "post_deploy"))
    }

    static let secretCommandKeys = ["timeout"]

    /// `secrets:`: how the `NAME_COMMAND` and `key_command` secrets run.
    func secretCommandSettings(_ secrets: MappingReader) throws(OpsError) -> SecretCommandSettings {
        var settings = SecretCommandSettings()
        settings.timeout = try secrets.duration("timeout") ?? settings.timeout
        guard settings.timeout.milliseconds > 0 else {
            throw reader.error(at: secrets.value("timeout"), path: secrets.keyPath("timeout"), "must be greater than 0")
        }
        return settings
    }

    static let handoffKeys = ["since", "disks", "facts", "template", "log_pattern", "thresholds"] + secretForms("webhook")
    static let handoffThresholdKeys = ["backup_max_age", "disk_percent", "errors", "offsite_max_age"]

    func handoffSettings(_ handoff: MappingReader) throws(OpsError) -> HandoffSettings {
        var settings = HandoffSettings()
        settings.logPattern = try handoff.string("log_pattern") ?? settings.logPattern
        if (try? Regex(settings.logPattern)) == nil {
            throw reader.error(at: handoff.value("log_pattern"), path: handoff.keyPath("log_pattern"), "\"\(settings.logPattern)\" is not a valid regular expression")
        }
        settings.thresholds = try handoff.mapping("thresholds", allowedKeys: Self.handoffThresholdKeys).map(handoffThresholds) ?? settings.thresholds
        settings.since = try handoff.duration("since") ?? settings.since
        settings.disks = try handoff.stringList("disks") ?? []
        settings.facts = try handoff.stringPairs("facts")?.map { SQLFact(name: $0.key, sql: $0.value) } ?? []
        settings.template = try handoff.string("template").map(resolvePath)
        settings.webhook = try secret(handoff, "webhook")
        settings.webhookFile = settings.webhook?.file
        return settings
    }

    func handoffThresholds(_ thresholds: MappingReader) throws(OpsError) -> HandoffThresholds {
        var limits = HandoffThresholds()
        limits.offsiteMaxAge = try thresholds.duration("offsite_max_age") ?? limits.offsiteMaxAge
        limits.backupMaxAge = try thresholds.duration("backup_max_age") ?? limits.backupMaxAge
        limits.diskPercent = try thresholds.int("disk_percent", range: 1...100) ?? limits.diskPercent
        limits.errors = try thresholds.int("errors", range: 0...1_000_000_000) ?? limits.errors
        return limits
    }

    static let metricsKeys = ["textfile_dir"]

    func metricsSettings(_ metrics: MappingReader) throws(OpsError) -> MetricsSettings {
        MetricsSettings(textfileDir: resolvePath(try metrics.requiredString("textfile_dir")))
    }

    static let proxyKeys = ["kind", "upstream_file", "upstream_name", "check", "reload", "url", "slots", "port_env", "container_port",
                            "standby", "drain", "drain_timeout", "confirm_timeout", "access_log"]

    func proxySettings(_ map: MappingReader) throws(OpsError) -> ProxySettings {
        let kind = try map.choice("kind", ProxyKind.self) ?? .nginx
        let slots = try proxySlots(map)
        let name = try map.requiredString("upstream_name")
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }) else {
            throw reader.error(at: map.value("upstream_name"), path: map.keyPath("upstream_name"), "\"\(name)\" is not an nginx upstream name (letters, digits, _ - .)")
        }
        var settings = ProxySettings(upstreamFile: resolvePath(try map.requiredString("upstream_file")), upstreamName: name,
                                     url: try httpURL(map, "url", required: true)!, slots: slots)
        settings.kind = kind
        settings.check = try argv(map, "check") ?? settings.check
        settings.reload = try argv(map, "reload") ?? settings.reload
        settings.portEnv = try map.string("port_env")
        if let variable = settings.portEnv, !YAMLReader.isEnvironmentName(variable) {
            throw reader.error(at: map.value("port_env"), path: map.keyPath("port_env"), "\"\(variable)\" is not a valid environment variable name")
        }
        settings.containerPort = try map.int("container_port", range: 1...65_535)
        guard settings.portEnv != nil || settings.containerPort != nil else {
            throw reader.error(at: map.node, path: map.keyPath("port_env"),
                               "set port_env (host network: the slot's port reaches the app in this variable) or container_port (bridge network: -p <slot>:<container_port>); otherwise both slots would listen on the same port")
        }
        settings.standby = try map.duration("standby") ?? settings.standby
        settings.drain = try drain(map) ?? settings.drain
        settings.drainTimeout = try map.duration("drain_timeout") ?? settings.drainTimeout
        guard settings.drainTimeout.milliseconds > 0 else {
            throw reader.error(at: map.value("drain_timeout"), path: map.keyPath("drain_timeout"), "must be greater than 0")
        }
        settings.confirmTimeout = try map.duration("confirm_timeout") ?? settings.confirmTimeout
        settings.accessLog = try map.string("access_log").map(resolvePath)
        guard settings.confirmTimeout.milliseconds > 0 else {
            throw reader.error(at: map.value("confirm_timeout"), path: map.keyPath("confirm_timeout"), "must be greater than 0")
        }
        return settings
    }

    /// `slots: {blue: HOST:PORT, green: HOST:PORT}`, two different places.
    func proxySlots(_ map: MappingReader) throws(OpsError) -> [ProxySlot] {
        guard let slotsMap = try map.mapping("slots", allowedKeys: ProxySettings.slotNames) else { throw map.missing("slots") }
        var slots: [ProxySlot] = []
        for name in ProxySettings.slotNames {
            let text = try slotsMap.requiredString(name)
            guard let slot = ProxySlot(name: name, address: text) else {
                throw reader.error(at: slotsMap.value(name), path: slotsMap.keyPath(name), "\"\(text)\" is not host:port (e.g. 127.0.0.1:3001)")
            }
            slots.append(slot)
        }
        if slots[0].address == slots[1].address || (slots[0].port == slots[1].port && [slots[0].host, slots[1].host].contains("0.0.0.0")) {
            throw reader.error(at: slotsMap.value("green"), path: slotsMap.keyPath("green"),
                               "blue and green are the same place (\(slots[1].address)): the new release could never start beside the live one")
        }
        return slots
    }

    /// `proxy.drain`: `until-idle`, or a duration for a fixed wait.
    func drain(_ map: MappingReader) throws(OpsError) -> ProxyDrain? {
        guard let text = try map.string("drain") else { return nil }
        if text == ProxyDrain.untilIdleText { return .untilIdle }
        guard let duration = OpsDuration(parsing: text) else {
            let hint = Int(text) != nil ? "add a unit, e.g. \(text)s" : "a duration (250ms, 2s) waits that long; until-idle waits for the last request in flight (at most drain_timeout)"
            throw reader.error(at: map.value("drain"), path: map.keyPath("drain"), "\"\(text)\" is neither until-idle nor a duration", details: [hint])
        }
        return .fixed(duration)
    }

    /// A non-empty argv list (`[nginx, -t]`): run without a shell.
    func argv(_ map: MappingReader, _ key: String) throws(OpsError) -> [String]? {
        guard let node = map.value(key) else { return nil }
        guard case .sequence = node, let words = try map.stringList(key), !words.isEmpty, !words[0].isEmpty else {
            throw reader.error(at: node, path: map.keyPath(key), "an argv list such as [nginx, -s, reload], never a shell string")
        }
        return words
    }

    /// `env:` maps. `NAME_FILE: path` reads the secret NAME from a file, `NAME_COMMAND: [argv]`
    /// takes it from a command's output (run later, only by the commands that need the value);
    /// names that look secret are redacted.
    func envVars(_ map: MappingReader, _ key: String) throws(OpsError) -> [EnvVar] {
        guard let entries = try map.openMapping(key) else { return [] }
        var result: [EnvVar] = []
        for name in entries.keys {
            let path = entries.keyPath(name)
            guard YAMLReader.isEnvironmentName(name) else {
                throw reader.error(at: entries.keyNode(name), path: path, "\"\(name)\" is not a valid environment variable name")
            }
            let variable = try envVar(name, in: entries)
            if result.contains(where: { $0.name == variable.name }) {
                throw reader.error(at: entries.keyNode(name), path: path, "\(variable.name) is set twice: \(variable.name), \(variable.name)_FILE and \(variable.name)_COMMAND are alternatives, keep one")
            }
            result.append(variable)
        }
        return result
    }

    func envVar(_ name: String, in entries: MappingReader) throws(OpsError) -> EnvVar {
        let path = entries.keyPath(name)
        if let base = Self.secretBase(name, suffix: "_COMMAND") {
            let argv = try self.argv(entries.value(name) ?? entries.keyNode(name)!, path: path)
            return EnvVar(name: base, secret: .command(argv), fromCommand: argv)
        }
        let value = try entries.value(name).map { (node: Node) throws(OpsError) in try entries.scalarString(node, path: path) } ?? ""
        if let base = Self.secretBase(name, suffix: "_FILE") {
            let secret = try reader.readSecretFile(value, node: entries.value(name) ?? entries.keyNode(name)!, path: path)
            return EnvVar(name: base, secret: Secret(secret, source: .file(resolvePath(value))), fromFile: resolvePath(value))
        }
        if Redactor.isSecretName(name) { return EnvVar(name: name, secret: Secret(value)) }
        let hasCredentials = Redactor.redactURLCredentials(value) != value
        return EnvVar(name: name, value: hasCredentials ? nil : value, secret: hasCredentials ? Secret(value) : nil)
    }

    /// `JWT_SECRET` for `JWT_SECRET_COMMAND`; nil when the name does not end in the suffix.
    static func secretBase(_ name: String, suffix: String) -> String? {
        name.hasSuffix(suffix) && name.count > suffix.count ? String(name.dropLast(suffix.count)) : nil
    }

    /// The keys a secret-bearing setting may be written as: `key`, `key_file`, `key_command`.
    static func secretForms(_ key: String) -> [String] { [key, key + "_file", key + "_command"] }

    /// A secret-bearing key in any of its forms (`secretForms`): inline, read from a file now,
    /// or a command run later by `SecretResolver`. An empty inline value counts as unset, so
    /// `webhook: ${SLACK_WEBHOOK_URL:-}` can stand beside a file or a command.
    func secret(_ map: MappingReader, _ key: String) throws(OpsError) -> Secret? {
        let inline = try map.string(key).flatMap { $0.isEmpty ? nil : $0 }
        let file = try map.string(key + "_file").flatMap { $0.isEmpty ? nil : $0 }
        let command = map.value(key + "_command")
        // Which one before reading any: a missing file must not hide that two were set.
        let given = [(key, inline != nil), (key + "_file", file != nil), (key + "_command", command != nil)].filter(\.1).map(\.0)
        guard given.count <= 1 else {
            throw reader.error(at: map.value(given[1]), path: map.keyPath(given[1]), given.joined(separator: " and ") + " are alternatives: set one")
        }
        if let inline { return Secret(inline) }
        if let file {
            let text = try reader.readSecretFile(file, node: map.value(key + "_file")!, path: map.keyPath(key + "_file"))
            return Secret(text, source: .file(resolvePath(file)))
        }
        if let command { return .command(try argv(command, path: map.keyPath(key + "_command"))) }
        return nil
    }

    /// One argv list (`[pass, show, app/jwt]`), `${VAR}` expanded in each word. A plain string
    /// would need a shell, which opsctl never uses.
    func argv(_ node: Node, path: String) throws(OpsError) -> [String] {
        guard case .sequence(let words) = node else {
            throw reader.error(at: node, path: path, "expected an argv list such as [\"pass\", \"show\", \"app/jwt\"], never a shell string; found \(node.kindDescription)")
        }
        var argv: [String] = []
        for (index, word) in words.enumerated() {
            guard case .scalar(let scalar) = word else {
                throw reader.error(at: word, path: "\(path)[\(index)]", "expected a string, found \(word.kindDescription)")
            }
            argv.append(try reader.expand(scalar.string, node: word, path: "\(path)[\(index)]"))
        }
        guard let program = argv.first, !program.isEmpty else { throw reader.error(at: node, path: path, "needs at least a program") }
        return argv
    }

    func httpURL(_ map: MappingReader, _ key: String, required: Bool) throws(OpsError) -> String? {
        guard let text = required ? try map.requiredString(key) : try map.string(key) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw reader.error(at: map.value(key), path: map.keyPath(key), "\"\(text)\" is not an http(s) URL")
        }
        return text
    }

    func jsonExpectations(_ map: MappingReader, _ key: String) throws(OpsError) -> [JSONExpectation] {
        guard let json = try map.openMapping(key) else { return [] }
        var result: [JSONExpectation] = []
        for path in json.keys {
            let keyPath = json.keyPath(path)
            guard let node = json.value(path) else {
                result.append(JSONExpectation(path: path, equals: .null))
                continue
            }
            guard case .scalar(let scalar) = node else {
                throw reader.error(at: node, path: keyPath, "expected a string, number or boolean to compare with, found \(node.kindDescription)")
            }
            let value: JSONScalar
            if scalar.style != .plain {
                value = .string(try reader.expand(scalar.string, node: node, path: keyPath))
            } else if let flag = node.bool {
                value = .bool(flag)
            } else if let number = node.int {
                value = .number(Double(number))
            } else if let number = node.float {
                value = .number(number)
            } else {
                value = .string(try reader.expand(scalar.string, node: node, path: keyPath))
            }
            result.append(JSONExpectation(path: path, equals: value))
        }
        return result
    }

    /// Request (and expected) headers. `Name_FILE: path` and `Name_COMMAND: [argv]` take a
    /// secret header's value from a file or a command, as `env:` does.
    func headerValues(_ map: MappingReader, _ key: String) throws(OpsError) -> [HeaderValue] {
        guard let entries = try map.openMapping(key) else { return [] }
        var headers: [HeaderValue] = []
        for name in entries.keys {
            let path = entries.keyPath(name)
            let node = entries.value(name) ?? entries.keyNode(name)!
            if let base = Self.secretBase(name, suffix: "_COMMAND") {
                headers.append(HeaderValue(name: base, secret: .command(try argv(node, path: path))))
                continue
            }
            let value = try entries.value(name).map { (node: Node) throws(OpsError) in try entries.scalarString(node, path: path) } ?? ""
            if let base = Self.secretBase(name, suffix: "_FILE") {
                let text = try reader.readSecretFile(value, node: node, path: path)
                headers.append(HeaderValue(name: base, secret: Secret(text, source: .file(resolvePath(value)))))
                continue
            }
            let secret = Redactor.isSecretName(name.replacingOccurrences(of: "-", with: "_")) || ["authorization", "cookie"].contains(name.lowercased())
            headers.append(HeaderValue(name: name, value: secret ? nil : value, secret: secret ? Secret(value) : nil))
        }
        return headers
    }

    static let smokeKeys = ["base_url", "concurrency", "connect_to", "ca_file", "checks"]
    static let smokeCheckKeys = ["name", "method", "path", "url", "headers", "body", "timeout", "insecure", "expect"]
    static let smokeExpectKeys = ["status", "json", "headers", "body_contains", "body_regex", "max_ms", "phases", "cert_days"]

    func smokeSettings(_ map: MappingReader) throws(OpsError) -> SmokeSettings {
        var settings = SmokeSettings()
        settings.baseURL = try httpURL(map, "base_url", required: false)
        settings.concurrency = try map.int("concurrency", range: 1...256) ?? 8
        settings.connectTo = try map.stringList("connect_to") ?? []
        for (index, entry) in settings.connectTo.enumerated() where entry.split(separator: ":", omittingEmptySubsequences: false).count != 4 {
            throw reader.error(at: map.value("connect_to"), path: "\(map.keyPath("connect_to"))[\(index)]",
                               "\"\(entry)\" is not HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT")
        }
        settings.caFile = try map.string("ca_file").map { resolvePath($0) }
        for (node, path) in try map.sequence("checks") ?? [] {
            settings.checks.append(try smokeCheck(node, path: path, baseURL: settings.baseURL))
        }
        return settings
    }

    /// One entry of `smoke.checks`; a relative path needs `smoke.base_url`.
    func smokeCheck(_ node: Node, path: String, baseURL: String?) throws(OpsError) -> SmokeCheck {
        let checkMap = try MappingReader(node, path: path, reader: reader, allowedKeys: Self.smokeCheckKeys)
        let pathTarget = try checkMap.string("path")
        let urlTarget = try checkMap.string("url")
        guard let target = pathTarget ?? urlTarget else { throw checkMap.missing("path") }
        var check = SmokeCheck(name: try checkMap.requiredString("name"), path: target)
        check.method = try checkMap.string("method")?.uppercased() ?? "GET"
        guard check.method.allSatisfy({ $0.isLetter }) else {
            throw reader.error(at: checkMap.value("method"), path: checkMap.keyPath("method"), "\"\(check.method)\" is not an HTTP method")
        }
        check.headers = try headerValues(checkMap, "headers")
        check.body = try checkMap.string("body")
        check.timeout = try checkMap.duration("timeout") ?? check.timeout
        check.insecure = try checkMap.bool("insecure") ?? false
        check.expect = try checkMap.mapping("expect", allowedKeys: Self.smokeExpectKeys).map(smokeExpectation) ?? check.expect
        if baseURL == nil, !check.path.hasPrefix("http") {
            throw reader.error(at: node, path: path, "relative path \"\(check.path)\" needs smoke.base_url")
        }
        return check
    }

    func smokeExpectation(_ expect: MappingReader) throws(OpsError) -> SmokeExpectation {
        var expectation = SmokeExpectation()
        expectation.status = try statusList(expect)
        expectation.json = try jsonExpectations(expect, "json")
        expectation.headers = try headerValues(expect, "headers")
        expectation.bodyContains = try expect.string("body_contains")
        expectation.bodyRegex = try expect.string("body_regex")
        expectation.maxMs = try expect.int("max_ms", range: 1...3_600_000)
        expectation.certDays = try expect.int("cert_days", range: 0...36_500)
        if let phases = try expect.mapping("phases", allowedKeys: PhaseLimit.Phase.allCases.map(\.rawValue)) {
            for phase in PhaseLimit.Phase.allCases {
                if let limit = try phases.int(phase.rawValue, range: 1...3_600_000) { expectation.phases.append(PhaseLimit(phase: phase, maxMs: limit)) }
            }
        }
        try checkPatterns(expectation, expect)
        return expectation
    }

    /// `body_regex` and the `~regex` header values compile.
    func checkPatterns(_ expectation: SmokeExpectation, _ expect: MappingReader) throws(OpsError) {
        for (key, pattern) in [("body_regex", expectation.bodyRegex)] + expectation.headers.map({ ("headers.\($0.name)", $0.value) }) {
            guard var pattern, key == "body_regex" || pattern.hasPrefix("~") else { continue }
            if key != "body_regex" { pattern.removeFirst() }
            if (try? Regex(pattern)) == nil {
                throw reader.error(at: expect.value(key.components(separatedBy: ".").first!), path: expect.keyPath(key), "\"\(pattern)\" is not a valid regular expression")
            }
        }
    }

    /// `status: 200` or `status: [400, 401, 403]`.
    func statusList(_ map: MappingReader) throws(OpsError) -> [Int] {
        guard let node = map.value("status") else { return [200] }
        let items: [(Node, String)]
        if case .sequence(let sequence) = node {
            items = sequence.enumerated().map { ($0.element, "\(map.keyPath("status"))[\($0.offset)]") }
        } else {
            items = [(node, map.keyPath("status"))]
        }
        var statuses: [Int] = []
        for (item, path) in items {
            let text = try map.scalarString(item, path: path)
            guard let code = Int(text), (100...599).contains(code) else {
                throw reader.error(at: item, path: path, "\"\(text)\" is not an HTTP status (100-599)")
            }
            statuses.append(code)
        }
        return statuses
    }

    /// A list of preflight check names, each one checked against the checks that exist.
    func preflightChecks(_ map: MappingReader, _ key: String) throws(OpsError) -> [PreflightCheckID]? {
        guard let names = try map.stringList(key) else { return nil }
        let known = PreflightCheckID.allCases.map(\.rawValue)
        return try names.map { name throws(OpsError) in
            guard let id = PreflightCheckID(rawValue: name) else {
                let suggestion = Suggestion.closest(to: name, among: known).map { "; did you mean \"\($0)\"?" } ?? ""
                throw reader.error(at: map.value(key), path: map.keyPath(key), "\"\(name)\" is not a preflight check\(suggestion)")
            }
            return id
        }
    }

    /// Hooks are argv lists; a plain string would need a shell, which opsctl never uses.
    func argvLists(_ map: MappingReader, _ key: String) throws(OpsError) -> [[String]] {
        var lists: [[String]] = []
        for (node, path) in try map.sequence(key) ?? [] {
            guard case .sequence = node else {
                throw reader.error(at: node, path: path, "a hook is an argv list such as [\"./scripts/migrate\", \"--check\"], never a shell string")
            }
            lists.append(try argv(node, path: path))
        }
        return lists
    }
}
