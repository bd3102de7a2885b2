// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One checklist item's outcome. `fix` is the one line that makes it pass.
public struct PreflightCheck: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case pass, warn, fail }
    public var id: PreflightCheckID
    public var status: Status
    public var summary: String
    public var fix: String?
    /// Part of the subset `opsctl deploy` runs first (`preflight.fatal`).
    public var fatal: Bool = false
}

public struct PreflightReport: Report {
    public var env: String
    public var checks: [PreflightCheck]
    public var passed: Int { checks.filter { $0.status == .pass }.count }
    public var warned: Int { checks.filter { $0.status == .warn }.count }
    public var failed: Int { checks.filter { $0.status == .fail }.count }

    enum CodingKeys: String, CodingKey { case env, checks, passed, warned, failed }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(env, forKey: .env)
        try container.encode(checks, forKey: .checks)
        try container.encode(passed, forKey: .passed)
        try container.encode(warned, forKey: .warned)
        try container.encode(failed, forKey: .failed)
    }

    public var exitCode: Int32 { failed == 0 ? 0 : OpsError.Kind.checkFailed.exitCode }

    public func renderText() -> String {
        var lines = checks.map { check in
            "\(check.status.rawValue.uppercased().padding(toLength: 4, withPad: " ", startingAt: 0))  \(check.id.rawValue.padding(toLength: 24, withPad: " ", startingAt: 0))  \(check.summary)"
                + (check.status == .pass ? "" : check.fix.map { "\n" + String(repeating: " ", count: 32) + "fix: \($0)" } ?? "")
        }
        lines.append("\(failed == 0 ? "ok" : "FAILED"): \(passed) passed, \(warned) warning(s), \(failed) failed for \(env)")
        return lines.joined(separator: "\n")
    }
}

/// `opsctl preflight ENV`: the runbook's pre-deployment checklist, for real. Secret values are
/// read to be checked, never printed: a check names the key and the file, not the value.
public struct PreflightService: Sendable {
    public let config: OpsConfig
    public let environment: EnvironmentConfig
    public let context: OpsContext
    /// Secret commands that failed (`opsctl preflight` goes on without their values and says
    /// so; deploy never gets here with one: it stops first).
    public var unresolvedSecrets: [OpsError] = []

    public init(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext) {
        self.config = config
        self.environment = environment
        self.context = context
    }

    var settings: PreflightSettings { environment.preflight }

    /// Every check, or only the fatal subset (what deploy runs before touching anything).
    public func run(fatalOnly: Bool = false) async -> PreflightReport {
        let wanted = { (id: PreflightCheckID) in !settings.skip.contains(id) && (!fatalOnly || settings.fatal.contains(id)) }
        let variables = environmentVariables()
        var checks: [PreflightCheck] = []
        if wanted(.secretStrength) { checks += secretStrength(variables) }
        if wanted(.secretCommands) { checks += secretCommands() }
        if wanted(.secretFileMode) { checks += secretFileModes() }
        if wanted(.secretsInGit) { checks.append(await secretsTracked()) }
        if wanted(.secretsInRepository) { checks.append(await secretsInRepository(variables)) }
        if wanted(.gitignore) { checks.append(await gitignoreCoversSecrets()) }
        if wanted(.dockerClient) || wanted(.dockerDaemon) || wanted(.dockerImage) { checks += await docker() }
        if wanted(.database) || wanted(.tmpfs) { checks += databaseChecks() }
        if wanted(.databaseWAL) || wanted(.databaseFreelist) { checks += databaseMaintenanceChecks() }
        if wanted(.backupSpace) || wanted(.backupVerified) { checks += backupChecks() }
        if wanted(.offsiteReachable) || wanted(.offsiteFresh) { checks += await offsiteChecks() }
        if wanted(.encryptionIdentity) { checks += encryptionChecks() }
        if wanted(.replicaLag), let replica = environment.backup?.replica { checks.append(Self.replicaCheck(ReplicaHealth.read(replica, now: context.now()), env: environment.name)) }
        if wanted(.health) { checks.append(healthConfigured()) }
        if wanted(.smoke) { checks.append(smokeConfigured()) }
        if wanted(.allowedPaths) { checks.append(allowedPaths(variables)) }
        if wanted(.clock) { checks.append(await clock()) }
        checks += await proxyChecks(wanted: wanted)
        checks += await swarmChecks(wanted: wanted)
        return PreflightReport(env: environment.name, checks: checks.filter { wanted($0.id) }.map { check in
            var check = check
            check.fatal = settings.fatal.contains(check.id)
            return check
        })
    }

    // MARK: - secrets

    /// One variable the app will see, and where it was set.
    struct AppVariable {
        var key: String
        var value: String
        var source: String
        /// A `NAME_FILE` or `NAME_COMMAND` entry of run.env: the value comes from a file or a
        /// secret manager, so it is a secret by intent, whatever its name.
        var secretByIntent = false
        /// Its secret command failed: there is no value to check.
        var unavailable = false
    }

    /// Every variable the app will see: the env file, then `run.env` (later wins, as docker does).
    func environmentVariables() -> [AppVariable] {
        var variables: [AppVariable] = []
        if let path = environment.run.envFile {
            variables += (EnvFile.read(path) ?? []).map { AppVariable(key: $0.key, value: $0.value, source: path) }
        }
        variables += environment.run.env.map {
            let unavailable = $0.secret?.isResolved == false
            return AppVariable(key: $0.name, value: unavailable ? "" : $0.resolvedValue, source: Self.source(of: $0, in: config.sourcePath),
                               secretByIntent: $0.fromFile != nil || $0.fromCommand != nil, unavailable: unavailable)
        }
        return variables
    }

    /// Names that hold a credential by convention. `_CREDENTIALS` (Redactor scrubs it too) is
    /// left out: it usually names a file path, which no length rule fits.
    static let secretSuffixes = ["_SECRET", "_TOKEN", "_PASSWORD", "_KEY"]

    /// Where a run.env value came from, for a check's summary (never the value).
    static func source(of variable: EnvVar, in configPath: String) -> String {
        if let file = variable.fromFile { return file }
        if let argv = variable.fromCommand { return "the output of `\(ProcessRequest(argv[0], Array(argv.dropFirst())).displayCommand)`" }
        return "run.env in \(configPath)"
    }

    static func looksSecret(_ variable: AppVariable) -> Bool {
        variable.secretByIntent || secretSuffixes.contains { variable.key.uppercased().hasSuffix($0) }
    }

    /// What secrets.strength checks: the keys `preflight.secret_keys` names (each must be set),
    /// then every secret-looking key the environment really has, each once, in order.
    func secretKeys(_ variables: [AppVariable]) -> [String] {
        var keys: [String] = []
        for key in settings.secretKeys + variables.filter(Self.looksSecret).map(\.key) where !keys.contains(key) { keys.append(key) }
        return keys
    }

    static let builtInPlaceholders = ["your-super-secret", "changeme", "change-me", "change_me", "dev_secret", "secret", "password", "example",
                                      "placeholder", "replace-me", "replaceme", "todo", "xxx", "test", "default", "<use strong random string"]

    func isPlaceholder(_ value: String) -> Bool {
        let lowered = value.lowercased()
        let placeholders = Self.builtInPlaceholders + settings.placeholders.map { $0.lowercased() }
        // Known defaults anywhere in the value; short generic words only as the whole value.
        return placeholders.contains { placeholder in
            placeholder.count >= 8 ? lowered.contains(placeholder) : lowered == placeholder
        } || Set(lowered).count <= 2
    }

    func secretStrength(_ variables: [AppVariable]) -> [PreflightCheck] {
        let keys = secretKeys(variables)
        guard !keys.isEmpty else {
            return [PreflightCheck(id: .secretStrength, status: .pass,
                                   summary: "no secrets configured: no *_SECRET, *_TOKEN, *_PASSWORD, *_KEY, NAME_FILE or NAME_COMMAND entry, none in preflight.secret_keys")]
        }
        return keys.map { key in strength(of: key, variables.last { $0.key == key }) }
    }

    func strength(of key: String, _ variable: AppVariable?) -> PreflightCheck {
        guard let variable else {
            return PreflightCheck(id: .secretStrength, status: .fail, summary: "\(key) is not set (env_file or run.env) but preflight.secret_keys names it",
                                  fix: "add \(key)=$(openssl rand -base64 48) to \(environment.run.envFile ?? "the env file")")
        }
        if variable.unavailable {
            return PreflightCheck(id: .secretStrength, status: .fail, summary: "\(key) could not be checked: \(variable.source) failed (see secrets.commands)",
                                  fix: "make the secret command work for this user, then run opsctl preflight again")
        }
        if variable.value.isEmpty {
            return PreflightCheck(id: .secretStrength, status: .fail, summary: "\(key) in \(variable.source) is empty", fix: "set it: openssl rand -base64 48")
        }
        if isPlaceholder(variable.value) {
            return PreflightCheck(id: .secretStrength, status: .fail, summary: "\(key) in \(variable.source) is a known placeholder/default value",
                                  fix: "replace it: openssl rand -base64 48")
        }
        if variable.value.count < settings.minSecretLength {
            return PreflightCheck(id: .secretStrength, status: .fail,
                                  summary: "\(key) in \(variable.source) is \(variable.value.count) characters (at least \(settings.minSecretLength))",
                                  fix: "replace it: openssl rand -base64 48")
        }
        return PreflightCheck(id: .secretStrength, status: .pass, summary: "\(key) is \(variable.value.count) characters and not a placeholder")
    }

    /// Each `NAME_COMMAND` / `*_command` secret of the environment was fetched (by the caller,
    /// before the checks: a failure is here, not an abort).
    func secretCommands() -> [PreflightCheck] {
        let commands = environment.secretSettings.filter { $0.secret.command != nil }
        guard unresolvedSecrets.isEmpty else {
            return unresolvedSecrets.map { failure in
                PreflightCheck(id: .secretCommands, status: .fail, summary: ([failure.message] + failure.details).joined(separator: "; "),
                               fix: "run the command as this user (same environment) and fix what it says; timeouts: secrets.timeout")
            }
        }
        guard !commands.isEmpty else {
            return [PreflightCheck(id: .secretCommands, status: .pass, summary: "no secret commands configured")]
        }
        let names = commands.map { $0.setting.split(separator: ".").suffix(1).joined() }
        return [PreflightCheck(id: .secretCommands, status: .pass, summary: "\(commands.count) secret(s) fetched from their commands: " + names.joined(separator: ", "))]
    }

    func secretFileModes() -> [PreflightCheck] {
        var files = [environment.run.envFile].compactMap { $0 }
        for file in environment.secretSettings.compactMap(\.secret.file) where !files.contains(file) { files.append(file) }
        guard !files.isEmpty else {
            return [PreflightCheck(id: .secretFileMode, status: .pass, summary: "no env or secret files configured")]
        }
        return files.map { path in
            var info = stat()
            guard stat(path, &info) == 0 else {
                return PreflightCheck(id: .secretFileMode, status: .fail, summary: "\(path) does not exist", fix: "create it, mode 600")
            }
            let mode = info.st_mode & 0o777
            if mode & 0o077 != 0 {
                return PreflightCheck(id: .secretFileMode, status: .fail, summary: "\(path) is mode \(String(mode, radix: 8)): group or others can read it",
                                      fix: "chmod 600 \(path)")
            }
            if info.st_uid != getuid() {
                return PreflightCheck(id: .secretFileMode, status: .fail, summary: "\(path) is owned by uid \(info.st_uid), not the running user (uid \(getuid()))",
                                      fix: "chown \(getuid()) \(path)")
            }
            return PreflightCheck(id: .secretFileMode, status: .pass, summary: "\(path) is mode \(String(mode, radix: 8)), owned by the running user")
        }
    }

    var git: GitClient { GitClient(runner: context.runner, directory: config.git.dir) }

    func gitRun(_ arguments: [String], input: String? = nil) async -> ProcessResult? {
        var request = git.request(arguments)
        request.standardInput = input
        return try? await context.runner.run(request)
    }

    /// `.env.example` and friends are meant to be committed; real env files and `.secrets/` are not.
    static func isSecretPath(_ path: String) -> Bool {
        let name = URL(fileURLWithPath: path).lastPathComponent
        if path.hasPrefix(".secrets/") || path.contains("/.secrets/") { return true }
        guard name.hasPrefix(".env") else { return false }
        return !["example", "sample", "template", "dist"].contains { name.hasSuffix(".\($0)") }
    }

    func secretsTracked() async -> PreflightCheck {
        guard let result = await gitRun(["ls-files", "-z"]), result.succeeded else {
            return PreflightCheck(id: .secretsInGit, status: .warn, summary: "\(config.git.dir) is not a git repository: could not check", fix: "set git.dir")
        }
        let tracked = result.standardOutput.split(separator: "\0").map(String.init).filter(Self.isSecretPath)
        guard tracked.isEmpty else {
            return PreflightCheck(id: .secretsInGit, status: .fail, summary: "tracked by git: " + tracked.prefix(5).joined(separator: ", "),
                                  fix: "git rm --cached \(tracked[0]) and rotate every secret it held (it is in the history)")
        }
        return PreflightCheck(id: .secretsInGit, status: .pass, summary: "no .env* or .secrets/ files tracked by git")
    }

    func secretsInRepository(_ variables: [AppVariable]) async -> PreflightCheck {
        var values = Set(variables.filter { Redactor.isSecretName($0.key) || settings.secretKeys.contains($0.key) || Self.looksSecret($0) }.map(\.value))
        values.formUnion(config.redactor.secretValues)
        // git grep -f takes one pattern per line: a multi-line secret (a PEM, a JSON key) is
        // searched line by line, and lines as common as "{" are not searched at all.
        values = Set(values.flatMap { $0.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) } }.filter { $0.count >= 8 })
        guard !values.isEmpty else {
            return PreflightCheck(id: .secretsInRepository, status: .pass, summary: "no configured secret values to look for")
        }
        // Patterns on stdin, never argv: argv shows in `ps` and in opsctl's own -v log.
        guard let result = await gitRun(["grep", "-I", "-l", "-F", "-f", "-", "--"], input: values.sorted().joined(separator: "\n") + "\n") else {
            return PreflightCheck(id: .secretsInRepository, status: .warn, summary: "git grep could not run", fix: "check git.dir")
        }
        switch result.termination {
        case .exited(0):
            let files = result.standardOutput.split(separator: "\n").map(String.init)
            return PreflightCheck(id: .secretsInRepository, status: .fail,
                                  summary: "a configured secret value appears in tracked file(s): " + files.prefix(5).joined(separator: ", "),
                                  fix: "remove it from \(files.first ?? "the file"), rotate the secret (it is in the history)")
        case .exited(1):
            return PreflightCheck(id: .secretsInRepository, status: .pass, summary: "no configured secret value appears in the repository (\(values.count) checked)")
        default:
            return PreflightCheck(id: .secretsInRepository, status: .warn, summary: "\(config.git.dir): git grep failed: could not check", fix: "set git.dir to the repository")
        }
    }

    func gitignoreCoversSecrets() async -> PreflightCheck {
        var missing: [String] = []
        for (probe, rule) in [(".env.production", ".env*"), (".secrets/probe", ".secrets/")] {
            guard let result = await gitRun(["check-ignore", "-q", "--no-index", "--", probe]) else { continue }
            if result.termination == .exited(1) { missing.append(rule) }
            if case .exited(let code) = result.termination, code > 1 {
                return PreflightCheck(id: .gitignore, status: .warn, summary: "\(config.git.dir) is not a git repository: could not check", fix: "set git.dir")
            }
        }
        guard missing.isEmpty else {
            return PreflightCheck(id: .gitignore, status: .fail, summary: ".gitignore does not cover " + missing.joined(separator: " and "),
                                  fix: "printf '%s\\n' " + missing.map { "'\($0)'" }.joined(separator: " ") + " >> .gitignore")
        }
        return PreflightCheck(id: .gitignore, status: .pass, summary: ".gitignore covers .env* and .secrets/")
    }

    // MARK: - docker

    func docker() async -> [PreflightCheck] {
        guard (try? SubprocessRunner.locate("docker")) != nil else {
            return [PreflightCheck(id: .dockerClient, status: .fail, summary: "the docker client is not installed", fix: "apt-get install docker.io")]
        }
        var checks = [PreflightCheck(id: .dockerClient, status: .pass, summary: "docker client found")]
        do {
            let version = try await context.docker.version()
            checks.append(PreflightCheck(id: .dockerDaemon, status: .pass, summary: "daemon \(version.server) answers"))
        } catch {
            checks.append(PreflightCheck(id: .dockerDaemon, status: .fail, summary: error.message, fix: "systemctl start docker"))
            return checks
        }
        let live = (try? context.ledger(config.state).lastDeployment(env: environment.name, status: .succeeded))??.version
        guard let live else {
            checks.append(PreflightCheck(id: .dockerImage, status: .pass, summary: "nothing deployed yet: no live image to keep"))
            return checks
        }
        guard environment.driver == .docker else {
            let source = environment.driver == .swarm ? "the image must be on every node (or in a registry with run.pull): Swarm reports a node that lacks it at deploy"
                : "the image comes from the compose files: compose config checks it at deploy"
            checks.append(PreflightCheck(id: .dockerImage, status: .pass, summary: source))
            return checks
        }
        let reference = ReleaseIdentity(config: config, environment: environment).imageReference(live)
        if (try? await context.docker.imageExists(reference)) == true {
            checks.append(PreflightCheck(id: .dockerImage, status: .pass, summary: "\(reference) (live) is present for a rollback"))
        } else {
            checks.append(PreflightCheck(id: .dockerImage, status: .fail, summary: "\(reference), the live release, is not on this host: a rollback could not start it",
                                         fix: "docker pull \(reference) (or docker load it)"))
        }
        return checks
    }

    // MARK: - storage

    func databaseChecks() -> [PreflightCheck] {
        guard let path = config.backupTarget(of: environment).databasePath else {
            return [PreflightCheck(id: .database, status: .warn, summary: "no database.path configured: storage not checked", fix: "set database.path")]
        }
        guard FileManager.default.fileExists(atPath: path) else {
            return [PreflightCheck(id: .database, status: .fail, summary: "\(path) does not exist", fix: "check database.path and the volume mount")]
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard access(path, W_OK) == 0, access(directory, W_OK) == 0 else {
            return [PreflightCheck(id: .database, status: .fail, summary: "\(path) or its directory is not writable", fix: "chown/chmod \(directory)")]
        }
        var checks = [PreflightCheck(id: .database, status: .pass, summary: "\(path) exists and is writable")]
        if let mount = Self.mount(containing: path), ["tmpfs", "ramfs"].contains(mount.type) {
            checks.append(PreflightCheck(id: .tmpfs, status: .fail, summary: "\(path) is on \(mount.type) (\(mount.point)): it vanishes on restart",
                                         fix: "move it to a persistent volume"))
        } else {
            checks.append(PreflightCheck(id: .tmpfs, status: .pass, summary: "\(path) is on persistent storage"))
        }
        return checks
    }

    /// The mount a path lives on, from /proc/mounts (longest matching mount point).
    static func mount(containing path: String, mounts: String? = ProcFile.read("/proc/mounts")) -> (point: String, type: String)? {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var best: (point: String, type: String)?
        for line in (mounts ?? "").split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { continue }
            let point = String(fields[1]).replacingOccurrences(of: "\\040", with: " ")
            let inside = point == "/" || resolved == point || resolved.hasPrefix(point + "/")
            if inside, point.count > (best?.point.count ?? -1) { best = (point, String(fields[2])) }
        }
        return best
    }

    func backupChecks() -> [PreflightCheck] {
        let target = config.backupTarget(of: environment)
        guard let directory = target.directory else {
            return [PreflightCheck(id: .backupSpace, status: .warn, summary: "no backup section: nothing backs the database up", fix: "add backup.dir")]
        }
        return [backupSpace(directory, database: target.databasePath), backupVerified(target, directory: directory)]
    }

    func backupSpace(_ directory: String, database: String?) -> PreflightCheck {
        let size = database.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int64 } ?? 0
        let probe = FileManager.default.fileExists(atPath: directory) ? directory : URL(fileURLWithPath: directory).deletingLastPathComponent().path
        guard let free = DiskUsage.of(probe)?.freeBytes else {
            return PreflightCheck(id: .backupSpace, status: .fail, summary: "\(directory): cannot stat", fix: "create the backup directory")
        }
        let text = "\(directory): \(ByteCount.format(free)) free, database \(ByteCount.format(size))"
        return free >= 2 * size
            ? PreflightCheck(id: .backupSpace, status: .pass, summary: text + " (at least 2x)")
            : PreflightCheck(id: .backupSpace, status: .fail, summary: text + ": less than 2x the database", fix: "free space or prune: opsctl prune \(environment.name)")
    }

    /// The newest backup of this environment (the files `opsctl backup` writes) verified recently.
    func backupVerified(_ target: BackupTarget, directory: String) -> PreflightCheck {
        guard let newest = (try? target.backups())?.first else {
            return PreflightCheck(id: .backupVerified, status: .fail, summary: "no backup in \(target.pattern ?? directory)", fix: "opsctl backup \(environment.name)")
        }
        let verification = try? context.ledger(config.state).lastVerification(env: environment.name)
        if let verification, verification.status == .ok, context.now().timeIntervalSince(verification.checkedAt) <= 26 * 3600,
           verification.file == newest.path {
            return PreflightCheck(id: .backupVerified, status: .pass,
                                  summary: "newest backup \(newest.file) verified \(TextFormat.age(of: verification.checkedAt, now: context.now()))")
        }
        return PreflightCheck(id: .backupVerified, status: .warn, summary: "the newest backup (\(newest.file)) has not passed verify within 26 h",
                              fix: "opsctl verify \(environment.name) --latest")
    }

    // MARK: - config

    func healthConfigured() -> PreflightCheck {
        environment.health == nil
            ? PreflightCheck(id: .health, status: .fail, summary: "health.url is not set: a deploy could not tell a broken release", fix: "set health.url")
            : PreflightCheck(id: .health, status: .pass, summary: "health.url set")
    }

    func smokeConfigured() -> PreflightCheck {
        (environment.smoke?.checks.isEmpty ?? true)
            ? PreflightCheck(id: .smoke, status: .warn, summary: "no smoke checks: a deploy only checks /health", fix: "add smoke.checks (opsctl init shows the runbook's three)")
            : PreflightCheck(id: .smoke, status: .pass, summary: "\(environment.smoke!.checks.count) smoke check(s)")
    }

    func allowedPaths(_ variables: [AppVariable]) -> PreflightCheck {
        let matching = variables.filter { variable in
            settings.pathSettings.contains { pattern in
                pattern.hasSuffix("*") ? variable.key.hasPrefix(String(pattern.dropLast())) : variable.key == pattern
            }
        }
        let open = matching.filter { variable in
            variable.value.split(whereSeparator: { $0 == "," || $0 == ":" || $0 == " " }).contains { $0 == "/" }
        }
        if let first = open.first {
            return PreflightCheck(id: .allowedPaths, status: .fail, summary: "\(first.key) in \(first.source) includes / (the whole filesystem)",
                                  fix: "restrict \(first.key) to the directories the app needs")
        }
        return PreflightCheck(id: .allowedPaths, status: .pass,
                              summary: matching.isEmpty ? "no \(settings.pathSettings.joined(separator: ", ")) settings" : matching.map(\.key).joined(separator: ", ") + " do not include /")
    }

    // MARK: - clock

    func clock() async -> PreflightCheck {
        if let result = try? await context.runner.run(ProcessRequest("timedatectl", ["show", "--property=NTPSynchronized", "--value"], timeout: .seconds(5))),
           result.succeeded {
            let value = result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            return value == "yes"
                ? PreflightCheck(id: .clock, status: .pass, summary: "NTP synchronised (timedatectl)")
                : PreflightCheck(id: .clock, status: .fail, summary: "the clock is not NTP-synchronised (timedatectl): JWT expiry and backup ages drift",
                                 fix: "timedatectl set-ntp true")
        }
        if let result = try? await context.runner.run(ProcessRequest("chronyc", ["tracking"], timeout: .seconds(5))), result.succeeded {
            return result.standardOutput.contains("Leap status     : Normal")
                ? PreflightCheck(id: .clock, status: .pass, summary: "NTP synchronised (chronyc)")
                : PreflightCheck(id: .clock, status: .fail, summary: "chrony is not synchronised", fix: "chronyc sources -v")
        }
        return PreflightCheck(id: .clock, status: .warn, summary: "could not check the clock (no timedatectl or chronyc answered)",
                              fix: "install chrony, or check NTP by hand")
    }
}
