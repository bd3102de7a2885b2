// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `--wait-lock` waits: they must end at once on a signal or a cancelled task, not when the wait
/// runs out, and take the lock as soon as it is free.
struct FileLockWaitTests {
    let directory = TemporaryDirectory("opsctl-lock")
    var path: String { directory.file("deploy.lock") }

    func holdLock() throws -> FileLock {
        try FileLock.acquire(path: path, what: "a deploy", command: "held by the test")
    }

    @Test func aSignalStopsTheWaitPromptly() async throws {
        let held = try holdLock()
        defer { held.release() }
        let interruption = Interruption()
        let path = path
        let waiting = Task { () async throws(OpsError) -> String in
            try await FileLock.acquire(path: path, what: "a deploy", command: "waiter", wait: .minutes(5), interruption: interruption).holder.command
        }
        try await Task.sleep(for: .milliseconds(300))
        let signalled = ContinuousClock.now
        interruption.trigger(SIGTERM)
        let error = await #expect(throws: OpsError.self) { try await waiting.value }
        #expect(error?.code == "lock.wait_stopped" && error?.exitCode == 5)
        #expect(error?.message.contains("interrupted by SIGTERM") == true && error?.message.contains("held by the test") == true, "\(error?.message ?? "")")
        // Within a poll of the signal; the bound leaves room for a loaded CI machine and still
        // tells "noticed" from "waited out the 5 minutes".
        #expect(ContinuousClock.now - signalled < .seconds(120))
    }

    @Test func cancellingTheTaskStopsTheWait() async throws {
        let held = try holdLock()
        defer { held.release() }
        let path = path
        let waiting = Task { () async throws(OpsError) -> String in
            try await FileLock.acquire(path: path, what: "a deploy", command: "waiter", wait: .minutes(5), interruption: nil).holder.command
        }
        try await Task.sleep(for: .milliseconds(300))
        let cancelled = ContinuousClock.now
        waiting.cancel()
        let error = await #expect(throws: OpsError.self) { try await waiting.value }
        #expect(error?.code == "lock.wait_stopped" && error?.message.contains("cancelled") == true)
        #expect(ContinuousClock.now - cancelled < .seconds(120))
    }

    @Test func theWaitEndsWhenTheHolderLetsGo() async throws {
        let held = try holdLock()
        let path = path
        let waiting = Task { () async throws(OpsError) -> String in
            let lock = try await FileLock.acquire(path: path, what: "a deploy", command: "waiter", wait: .minutes(5), interruption: Interruption())
            defer { lock.release() }
            return lock.holder.command
        }
        try await Task.sleep(for: .milliseconds(300))
        held.release()
        #expect(try await waiting.value == "waiter")
        // No wait at all: exit 5 at once, naming the holder.
        let again = try holdLock()
        defer { again.release() }
        let error = await #expect(throws: OpsError.self) {
            try await FileLock.acquire(path: path, what: "a deploy", command: "x", wait: nil, interruption: nil)
        }
        #expect(error?.code == "lock.held" && error?.message.contains("held by the test") == true)
    }
}
