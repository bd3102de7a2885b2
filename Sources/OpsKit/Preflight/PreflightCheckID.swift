// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// Every preflight check, spelled once: the config (`preflight.fatal`, `preflight.skip`), the
/// checks themselves and their JSON all use these names.
public enum PreflightCheckID: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case secretStrength = "secrets.strength"
    case secretCommands = "secrets.commands"
    case secretFileMode = "secrets.file_mode"
    case secretsInGit = "secrets.in_git"
    case secretsInRepository = "secrets.in_repository"
    case gitignore = "secrets.gitignore"
    case dockerClient = "docker.client"
    case dockerDaemon = "docker.daemon"
    case dockerImage = "docker.image"
    case database = "storage.database"
    case tmpfs = "storage.tmpfs"
    case databaseWAL = "database.wal"
    case databaseFreelist = "database.freelist"
    case backupSpace = "storage.backup_space"
    case backupVerified = "storage.backup_verified"
    case offsiteReachable = "offsite.reachable"
    case offsiteFresh = "offsite.fresh"
    case encryptionIdentity = "encryption.identity"
    case replicaLag = "replica.lag"
    case health = "config.health"
    case smoke = "config.smoke"
    case allowedPaths = "config.allowed_paths"
    case clock = "clock.ntp"
    case proxyUpstreamFile = "proxy.upstream_file"
    case proxySlots = "proxy.slots"
    case proxyCheck = "proxy.check"
    case proxyAccessLog = "proxy.access_log"
    case swarmNodes = "swarm.nodes"
    case swarmHealthCmd = "swarm.health_cmd"

    public var description: String { rawValue }

    /// What stops a deploy before it starts unless `preflight.fatal` says otherwise: the
    /// checks whose failure means a leaked or guessable secret, or a deploy that could not
    /// tell a broken release.
    public static let defaultFatal: [PreflightCheckID] = [.secretStrength, .secretFileMode, .secretsInGit, .secretsInRepository, .health, .allowedPaths]
}
