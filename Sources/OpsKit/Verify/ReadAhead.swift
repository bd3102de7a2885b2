// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Runs a reader a few chunks ahead on a thread of its own, so reading, hashing and decrypting
/// a backup overlap with inflating it: the two halves of `age -d | gunzip` on two cores.
/// Whoever reads must call `stop()` before touching what `read` uses again.
final class ReadAhead: @unchecked Sendable {
    private let condition = NSCondition()
    private let read: () throws -> Data?
    private let depth: Int
    // Guarded by `condition`.
    private var ready: [Result<Data?, any Error>] = []
    private var stopping = false
    private var producing = true

    init(depth: Int = 4, _ read: @escaping () throws -> Data?) {
        self.read = read
        self.depth = depth
        Thread { self.produce() }.start()
    }

    /// The reader's next chunk, nil at the end; its error, when it threw.
    func next() throws -> Data? {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty { condition.wait() }
        let item = ready.removeFirst()
        condition.broadcast()
        return try item.get()
    }

    /// Returns once the reader is no longer running; chunks not taken are dropped.
    func stop() {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
        while producing { condition.wait() }
    }

    private func produce() {
        var finished = false
        while !finished {
            let item = Result { try read() }
            if case .success(.some) = item {} else { finished = true }
            condition.lock()
            while ready.count >= depth && !stopping { condition.wait() }
            if stopping { finished = true } else { ready.append(item) }
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        producing = false
        condition.broadcast()
        condition.unlock()
    }
}
