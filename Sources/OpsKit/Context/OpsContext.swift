// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging

/// What every operation needs from the outside world, injected so tests can replace the
/// process runner, the clock and the environment.
public struct OpsContext: Sendable {
    public var runner: any ProcessRunning
    public var environment: [String: String]
    public var logger: Logger
    public var now: @Sendable () -> Date
    /// The ledgers this command opened: each state database once per command (copies of a
    /// context share them; they close when the last copy goes).
    public let ledgers = LedgerConnections()

    public init(runner: any ProcessRunning = SubprocessRunner(),
                environment: [String: String] = ProcessInfo.processInfo.environment,
                logger: Logger = Logger(label: "opsctl"),
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.runner = runner
        self.environment = environment
        self.logger = logger
        self.now = now
    }

    public var docker: DockerClient { DockerClient(runner: runner) }

    /// The ledger at `path`, opened (and migrated) the first time this command asks for it.
    public func ledger(_ path: String) throws(OpsError) -> Ledger { try ledgers.ledger(path) }

    /// Who is acting, for the ledger and the handoff: `$OPSCTL_ACTOR`, `$USER` or `$LOGNAME`,
    /// else the uid's login name: cron and systemd run jobs without `$USER`.
    public var actor: String {
        for name in ["OPSCTL_ACTOR", "USER", "LOGNAME"] {
            if let value = environment[name], !value.isEmpty { return value }
        }
        return Self.loginName(uid: getuid()) ?? "uid \(getuid())"
    }

    /// The passwd entry's name for a uid (nil when it has none, e.g. an arbitrary container uid).
    static func loginName(uid: uid_t) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, let result, let name = result.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}

/// The opsctl release, reported by `opsctl --version` and `opsctl version` and written into
/// manifests: `git describe` at build time (see Plugins/OpsKitCodegen).
public enum OpsctlVersion {
    public static let current = GitDescribe.version
}
