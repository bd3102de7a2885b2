// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import OpsKit

/// Records argv instead of running anything: for checking what the typed clients ask for.
public final class RecordingRunner: ProcessRunning, @unchecked Sendable {
    private let lock = NSLock()
    private var _requests: [ProcessRequest] = []
    public let respond: @Sendable (ProcessRequest) -> ProcessResult

    public init(respond: @escaping @Sendable (ProcessRequest) -> ProcessResult) { self.respond = respond }

    public var requests: [ProcessRequest] { lock.withLock { _requests } }

    public func run(_ request: ProcessRequest) async throws(OpsError) -> ProcessResult {
        lock.withLock { _requests.append(request) }
        return respond(request)
    }

    public static func result(_ request: ProcessRequest, exit: Int32 = 0, stdout: String = "", stderr: String = "") -> ProcessResult {
        ProcessResult(request: request, termination: .exited(exit), standardOutput: stdout, standardErrorTail: stderr, duration: .zero)
    }
}
