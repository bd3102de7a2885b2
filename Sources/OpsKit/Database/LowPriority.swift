// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Reading a whole database (`quick_check`, the copy a full ANALYZE works on) yields the CPU to
/// the app: it runs on a thread of its own at nice 10, with connections of its own. opsctl's
/// write transactions stay on the calling thread at normal priority, so a niced thread never
/// holds a lock the app waits for.
enum LowPriority {
    static let niceness: Int32 = 10

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws(OpsError) -> T) throws(OpsError) -> T {
        let outcome = Outcome<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            // Linux keeps a nice value per thread, and `who` 0 is the calling thread: this one only.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
            do throws(OpsError) { outcome.result = .success(try body()) } catch { outcome.result = .failure(error) }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        done.wait()
        guard let result = outcome.result else { throw OpsError(.software, code: "database.thread", "the reading thread ended without a result") }
        return try result.get()
    }

    /// Written by the thread before it signals, read after the wait: the semaphore orders them.
    private final class Outcome<T>: @unchecked Sendable {
        var result: Result<T, OpsError>?
    }
}
