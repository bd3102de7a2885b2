// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Logging

/// Logs every subprocess (argv, exit, duration) at debug level on stderr, secrets scrubbed.
/// `-v` shows them; an operator can replay any step by hand.
public struct LoggingRunner: ProcessRunning {
    public let base: any ProcessRunning
    public let logger: Logger
    public var redactor: Redactor

    public init(_ base: any ProcessRunning, logger: Logger, redactor: Redactor = Redactor()) {
        self.base = base
        self.logger = logger
        self.redactor = redactor
    }

    public func run(_ request: ProcessRequest) async throws(OpsError) -> ProcessResult {
        logger.debug("run: \(redactor.scrub(request.displayCommand))")
        let result = try await base.run(request)
        if result.succeeded {
            logger.trace("done in \(result.duration): \(redactor.scrub(request.displayCommand))")
        } else {
            logger.debug("\(redactor.scrub(result.failureSummary)) (after \(result.duration))")
        }
        return result
    }
}
