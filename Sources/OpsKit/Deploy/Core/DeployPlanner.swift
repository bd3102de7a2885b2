// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Validation, before anything changes: the version, its tag and commit, the image, the
/// runtime's own config, preflight's fatal checks; then what serves now. Its output is a plan,
/// and for `--dry-run` the plan in words, with every command exactly as it would run.
struct DeployPlanner {
    let deps: DeployDependencies
    let releaseSwitch: any ReleaseSwitch

    var environment: EnvironmentConfig { deps.environment }
    var config: OpsConfig { deps.config }

    /// A malformed version is a usage error (64) before anything else is looked at.
    static func release(_ versionText: String) throws(OpsError) -> SemVer {
        do { return try SemVer(parsing: versionText) } catch {
            throw OpsError(.usage, code: "semver.invalid", error.description, details: ["releases are strict semantic versions, e.g. 1.0.1 or 2.0.0-rc.1"])
        }
    }

    func deploy(_ versionText: String, options: DeployOptions) async throws(OpsError) -> DeployPlan {
        let version = try Self.release(versionText)
        let tag = config.git.tag(for: version)
        let commit = try await commit(of: tag)
        let versionString = version.description
        _ = try await deps.context.docker.version()   // exit 69 before anything changes when the daemon is down
        try await ensureImage(versionString, tag: tag, dryRun: options.dryRun)
        try await deps.driver.validate(version: versionString)
        try await requirePreflight()
        _ = try deps.context.ledger(config.state).markOrphanedRuns(host: ProcessInfo.processInfo.hostName)
        return DeployPlan(action: .deploy, version: versionString, tag: tag, commit: commit, image: deps.imageReference(versionString),
                          live: try await releaseSwitch.liveRelease(), options: options)
    }

    func rollback(to requested: String?, options: DeployOptions) async throws(OpsError) -> DeployPlan {
        _ = try await deps.context.docker.version()
        let ledger = try deps.context.ledger(config.state)
        _ = try ledger.markOrphanedRuns(host: ProcessInfo.processInfo.hostName)
        let live = try await releaseSwitch.liveRelease()
        let target = try rollbackTarget(requested, live: live, succeeded: try ledger.succeededVersions(env: environment.name))
        let plan = DeployPlan(action: .rollback, version: target, image: deps.imageReference(target), live: live, options: options)
        if plan.isLive(live) { return plan }
        let kept = try await deps.driver.releases().contains { $0.version == target }
        if !kept { try await ensureImage(target, tag: nil, dryRun: options.dryRun) }
        try await deps.driver.validate(version: target)
        return plan
    }

    /// `--to VERSION`, else the newest succeeded release older than the live one.
    func rollbackTarget(_ requested: String?, live: DeployedRelease?, succeeded: [String]) throws(OpsError) -> String {
        if let requested {
            let parsed: SemVer
            do { parsed = try SemVer(parsing: requested) } catch {
                throw OpsError(.usage, code: "semver.invalid", error.description)
            }
            guard succeeded.contains(parsed.description) else {
                throw OpsError(.usage, code: "rollback.unknown_version", "\(parsed) was never deployed successfully to \(environment.name)",
                               details: ["releases that were: " + (succeeded.isEmpty ? "none" : succeeded.joined(separator: ", "))])
            }
            return parsed.description
        }
        let liveVersion = live.flatMap { try? SemVer(parsing: $0.version) }
        guard let older = succeeded.first(where: { candidate in
            guard let version = try? SemVer(parsing: candidate) else { return false }
            return liveVersion.map { version < $0 } ?? true
        }) else {
            throw OpsError(.usage, code: "rollback.nothing_older", "no release older than \(live?.version ?? "the live one") succeeded in \(environment.name)",
                           details: ["see opsctl history \(environment.name); --to VERSION picks one"])
        }
        return older
    }

    // MARK: - checks

    func commit(of tag: String) async throws(OpsError) -> String {
        let git = GitClient(runner: deps.context.runner, directory: config.git.dir)
        guard let commit = try await git.commit(for: "refs/tags/\(tag)") else {
            let known = (try? await git.releaseTags(prefix: config.git.tagPrefix).prefix(5).map(\.tag)) ?? []
            throw OpsError(.usage, code: "git.tag_missing", "tag \(tag) does not exist in \(config.git.dir): release \(tag.dropFirst(config.git.tagPrefix.count)) was never tagged",
                           details: known.isEmpty ? ["no release tags there yet"] : ["newest tags: " + known.joined(separator: ", ")])
        }
        return commit
    }

    /// The runbook's checklist, the part that must never be skipped (preflight.fatal): a
    /// placeholder secret or a world-readable env file stops the deploy before anything changes.
    func requirePreflight() async throws(OpsError) {
        let preflight = await PreflightService(config: config, environment: environment, context: deps.context).run(fatalOnly: true)
        let failing = preflight.checks.filter { $0.status == .fail }
        guard failing.isEmpty else {
            throw OpsError(.checkFailed, code: "preflight.failed",
                           "preflight failed, nothing was changed: " + failing.map { "\($0.id): \($0.summary)" }.joined(separator: "; "),
                           details: failing.compactMap { $0.fix.map { "fix: \($0)" } } + ["opsctl preflight \(environment.name) runs the whole checklist"])
        }
    }

    /// The release image must be here before anything changes: present, pulled (`run.pull`), or built from the tag (`build:`).
    func ensureImage(_ version: String, tag: String?, dryRun: Bool) async throws(OpsError) {
        guard deps.driver.needsLocalImage else { return }
        let reference = deps.imageReference(version)
        if try await deps.context.docker.imageExists(reference) { return }
        if dryRun { return }
        if let build = environment.build, let tag {
            var builder = ImageBuilder(runner: deps.context.runner, git: config.git.dir, scratch: URL(fileURLWithPath: config.state).deletingLastPathComponent().path)
            builder.redactor = deps.redactor
            try await builder.build(reference: reference, tag: tag, settings: build)
            return
        }
        if environment.run.pull {
            try await deps.context.docker.checked(["image", "pull", "--", reference], code: "docker.pull", timeout: .seconds(600))
            return
        }
        throw OpsError(.unavailable, code: "image.missing", "image \(reference) is not present on this host",
                       details: ["build it, load it (docker load), set run.pull: true to pull it, or add a build: section to build it from the tag"])
    }

    // MARK: - the dry run

    func dryRun(_ plan: DeployPlan) async throws(OpsError) -> [String] {
        let redactor = deps.redactor
        let deploying = plan.action == .deploy
        var lines: [String] = []
        for (setting, secret) in environment.secretSettings {
            guard let argv = secret.command else { continue }
            lines.append("secret: \(setting) = output of \(redactor.scrub(ProcessRequest(argv[0], Array(argv.dropFirst())).displayCommand))   # fetched, value never shown")
        }
        if let tag = plan.tag { lines.append("git -C \(config.git.dir) rev-parse --verify refs/tags/\(tag)^{commit}   # ok") }
        if deps.driver.needsLocalImage { lines.append("docker image inspect \(plan.image)") }
        lines.append("lock \(deps.lockPath)")
        lines.append("ledger: \(plan.options.message.map { "row running (\($0))" } ?? "row running") in \(config.state)")
        if environment.backup?.beforeDeploy == true, deploying { lines.append("backup \(environment.name) (backup.before_deploy)") }
        for hook in environment.hooks.preDeploy where deploying { lines.append("hook: " + redactor.scrub(ProcessRequest(hook[0], Array(hook.dropFirst())).displayCommand)) }
        let target = try await releaseSwitch.target(for: plan, live: plan.live)
        lines += try await releaseSwitch.planLines(plan, target: target, live: plan.live)
        if deps.driver.keepsStoppedReleases { lines.append("on success: keep \(environment.keepReleases) stopped release(s), remove older ones") }
        for hook in environment.hooks.postDeploy where deploying { lines.append("hook: " + redactor.scrub(ProcessRequest(hook[0], Array(hook.dropFirst())).displayCommand)) }
        return lines
    }
}
