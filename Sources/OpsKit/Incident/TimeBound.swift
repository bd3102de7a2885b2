// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// Runs work with a time limit that holds even when the work does not cooperate: the caller
/// gets nil when time is up, whatever the work is still doing. A bundle part that waits on a
/// daemon that accepted the connection and never answers, or a quick_check stuck behind a
/// lock, must not hold up the others.
public enum TimeBound {
    /// `work` in a task of its own; nil after `limit`, and the task is cancelled (a subprocess it
    /// waits on is killed with its process group).
    public static func run<T: Sendable>(within limit: Duration, _ work: @escaping @Sendable () async -> T) async -> T? {
        await withCheckedContinuation { continuation in
            let first = FirstResult(continuation)
            let worker = Task { first.deliver(await work()) }
            let timer = Task {
                try? await Task.sleep(for: limit)
                first.deliver(nil)
            }
            first.whenDelivered { worker.cancel(); timer.cancel() }
        }
    }

    /// Blocking work (SQLite, statvfs on a hung mount) on a thread of its own: a call that never
    /// returns keeps that thread, never the caller or the shared task pool.
    public static func blocking<T: Sendable>(within limit: Duration, _ work: @escaping @Sendable () -> T) async -> T? {
        await withCheckedContinuation { continuation in
            let first = FirstResult(continuation)
            let thread = Thread { first.deliver(work()) }
            thread.start()
            let timer = Task {
                try? await Task.sleep(for: limit)
                first.deliver(nil)
            }
            first.whenDelivered { timer.cancel() }
        }
    }
}

/// Resumes a continuation once, with whichever value arrives first.
final class FirstResult<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T?, Never>?
        var cleanups: [@Sendable () -> Void] = []
    }

    private let state: Mutex<State>

    init(_ continuation: CheckedContinuation<T?, Never>) {
        state = Mutex(State(continuation: continuation))
    }

    func deliver(_ value: T?) {
        let (continuation, cleanups) = state.withLock { state -> (CheckedContinuation<T?, Never>?, [@Sendable () -> Void]) in
            let taken = state.continuation
            state.continuation = nil
            let cleanups = taken == nil ? [] : state.cleanups
            if taken != nil { state.cleanups = [] }
            return (taken, cleanups)
        }
        continuation?.resume(returning: value)
        for cleanup in cleanups { cleanup() }
    }

    /// Runs `cleanup` once a value was delivered (at once when one already was).
    func whenDelivered(_ cleanup: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            guard state.continuation != nil else { return true }
            state.cleanups.append(cleanup)
            return false
        }
        if runNow { cleanup() }
    }
}

/// A runner whose every subprocess ends by one deadline: each request's timeout is cut to the
/// time left. It remembers whether it had to kill one, so a part that failed because time ran
/// out is told apart from one that failed for another reason.
public final class DeadlineRunner: ProcessRunning {
    public let base: any ProcessRunning
    public let deadline: ContinuousClock.Instant
    private let killedOne = Mutex(false)

    public init(_ base: any ProcessRunning, deadline: ContinuousClock.Instant) {
        self.base = base
        self.deadline = deadline
    }

    public var ranOutOfTime: Bool { killedOne.withLock { $0 } || ContinuousClock.now >= deadline }

    public func run(_ request: ProcessRequest) async throws(OpsError) -> ProcessResult {
        let left = deadline - ContinuousClock.now
        guard left > .zero else {
            killedOne.withLock { $0 = true }
            throw OpsError(.unavailable, code: "incident.part_timeout", "\(request.displayCommand): no time left to run it")
        }
        var bounded = request
        // Whole seconds, rounded up: "did not finish within 10.0 seconds" reads better than
        // 9.999762879, and the part's own bound a second later still holds.
        bounded.timeout = min(request.timeout, .seconds(max(1, Int64((Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18).rounded(.up)))))
        let result = try await base.run(bounded)
        if result.termination == .timedOut { killedOne.withLock { $0 = true } }
        return result
    }
}
