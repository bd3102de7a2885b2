import Foundation
import Logging

/// What every operation needs from the outside world, injected so tests can replace the
/// process runner, the clock and the environment.
public struct OpsContext: Sendable {
    public var runner: any ProcessRunning
    public var environment: [String: String]
    public var logger: Logger
    public var now: @Sendable () -> Date

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

    /// Who is acting, for the ledger: `$OPSCTL_ACTOR`, else `$USER`, else the uid.
    public var actor: String {
        environment["OPSCTL_ACTOR"] ?? environment["USER"] ?? environment["LOGNAME"] ?? "uid \(getuid())"
    }
}

/// The opsctl release, reported by `opsctl --version` and `opsctl version` and written into
/// manifests: `git describe` at build time (see Plugins/OpsKitCodegen).
public enum OpsctlVersion {
    public static let current = GitDescribe.version
}
