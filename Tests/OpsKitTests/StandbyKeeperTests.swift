// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization
import Testing
@testable import OpsKit

/// The release on standby is stopped by whichever command comes after its time is up. A deploy
/// may finish, with a standby of its own, between that command's first look and its lock:
/// the newer record must survive.
@Suite struct StandbyKeeperTests {
    /// The blue/green environment and ledger of the switch tests; the keeper gets its own runner.
    let fixture: SwitchFixture
    var now: Date { fixture.now }

    init() throws { fixture = try SwitchFixture() }

    var config: OpsConfig { fixture.config }

    func record(_ container: String, expiresIn seconds: TimeInterval) -> StandbyRecord {
        StandbyRecord(env: "production", version: container, slot: "blue", container: container, since: now - 600, expiresAt: now + seconds)
    }

    /// No release container runs (docker answers an empty list); `onFirstList` runs inside the
    /// keeper's first look, which is where a deploy finishing elsewhere would land.
    func keeper(onFirstList: @escaping @Sendable () -> Void) throws -> StandbyKeeper {
        let listed = Mutex(false)
        let runner = RecordingRunner { request in
            if request.arguments.first == "ps", !listed.withLock({ done in defer { done = true }; return done }) { onFirstList() }
            return RecordingRunner.result(request)
        }
        let context = OpsContext(runner: runner, environment: [:], now: { [now] in now })
        return StandbyKeeper(config: config, environment: try config.environment(named: "production"), context: context)
    }

    @Test func aStandbyRecordedBetweenTheLookAndTheLockIsKept() async throws {
        try Ledger(path: config.state).setStandby(record("unit-production-1.0.0-blue", expiresIn: -60))
        let newer = record("unit-production-1.0.1-green", expiresIn: 300)
        let ledgerPath = config.state
        let keeper = try keeper { try! Ledger(path: ledgerPath).setStandby(newer) }
        let state = await keeper.stopIfExpired()
        #expect(state?.container == newer.container, "reports the standby that is there now")
        #expect(try Ledger(path: config.state).standby(env: "production") == newer, "the newer record is never cleared")
    }

    @Test func anExpiredStandbyNobodyReplacedIsCleared() async throws {
        try Ledger(path: config.state).setStandby(record("unit-production-1.0.0-blue", expiresIn: -60))
        let keeper = try keeper {}
        #expect(await keeper.stopIfExpired()?.container == "unit-production-1.0.0-blue")
        #expect(try Ledger(path: config.state).standby(env: "production") == nil)
    }
}
