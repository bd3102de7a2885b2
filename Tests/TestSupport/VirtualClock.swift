// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import OpsKit

/// Virtual time: sleeping advances it instantly.
public final class VirtualClock: WaitClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current = ContinuousClock.now

    public init() {}
    /// What happens in the world while time passes (canary tests: users' requests through nginx).
    public var onSleep: (@Sendable (Duration) -> Void)?
    public func now() -> ContinuousClock.Instant { lock.withLock { current } }
    public func sleep(for duration: Duration) async {
        onSleep?(duration)
        lock.withLock { current += duration }
    }
    public func advance(_ duration: Duration) { lock.withLock { current += duration } }
}
