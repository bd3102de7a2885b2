// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl restore ENV --pause 30s` (and a vacuum's swap behind the proxy): a pause around the
/// swap. Before it, users' new requests wait in nginx (`MaintenanceService.pause`), those on
/// their way finish, and every running release stops; after it, the live release starts again,
/// is health-waited at its slot, and `resume` lets the held requests through. Past the bound
/// they get the maintenance page, never a connection error; an app that does not come back
/// leaves them on that page.
public final class PausedRestart: RestorePause, @unchecked Sendable {
    let service: MaintenanceService
    let bound: OpsDuration
    let page: MaintenancePage
    /// What the app is stopped for: the messages, the error codes' area and the ledger's source.
    let purpose: DatabaseSwap.Purpose
    private let lock = NSLock()
    private var live: DeployedRelease?
    private var outcome: PauseOutcome
    private var pausedAt: Date?

    public init(service: MaintenanceService, bound: OpsDuration, page: MaintenancePage = MaintenancePage(), purpose: DatabaseSwap.Purpose = .restore) {
        var holding = service
        holding.source = purpose.pauseSource
        self.service = holding
        self.bound = bound
        self.page = page
        self.purpose = purpose
        outcome = PauseOutcome(bound: bound)
    }

    var driver: any SlotReleaseDriver { service.driver }

    public func stopApp() async throws(OpsError) {
        let releases = try await driver.releases()
        let slot = try service.proxy.liveSlot()
        let running = releases.filter(\.running)
        let live = running.first { $0.slot == slot?.name } ?? running.sorted { $0.created > $1.created }.first
        let paused = try await service.pause(bound: bound, page: page)
        pausedAt = service.context.now()
        record { $0.steps.append("held: new requests wait in nginx (gate pid \(paused.gatePid.map(String.init) ?? "?")); \(paused.drain?.detail ?? "")") }
        for release in running {
            do {
                try await driver.stop(release.ref)
            } catch {
                let back = await undoStop(live: live)
                throw OpsError(error.kind, code: "\(purpose.area).stop_failed",
                               "could not stop \(release.container) for \(purpose.task): \(error.message); \(purpose.untouched); " + back.afterUndo)
            }
            record { $0.stopped.append(release.container) }
        }
        if let standby = try? service.context.ledger(service.config.state).standby(env: service.env), running.contains(where: { $0.container == standby.container && $0.container != live?.container }) {
            try? service.context.ledger(service.config.state).clearStandby(env: service.env)
            record { $0.steps.append("\(standby.version) was on standby: stopped for \(self.purpose.task) (kept; opsctl rollback starts it afresh)") }
        }
        lock.withLock { self.live = live }
        record { $0.steps.append("stopped \($0.stopped.joined(separator: ", "))") }
    }

    /// Still the old database: the live release started again if it was already stopped, and
    /// everyone let through, before giving up.
    func undoStop(live: DeployedRelease?) async -> PauseOutcome {
        let stopped = lock.withLock { live.map { outcome.stopped.contains($0.container) } ?? false }
        lock.withLock { self.live = stopped ? live : nil }
        return await startApp()
    }

    public func startApp() async -> PauseOutcome {
        guard let live = lock.withLock({ self.live }) else { return await letThrough() }
        let target = ReleaseTarget(version: live.version, slot: service.settings.slot(named: live.slot))
        do {
            try await driver.start(target, fresh: false)
        } catch {
            return fail("could not start \(live.container) again: \(error.message)")
        }
        record { $0.started = live.container }
        if let health = service.environment.health {
            let routed = target.slot.map { ProxyRoute.health(health, at: $0) } ?? health
            let driver = self.driver
            let waited = await HealthWaiter(settings: routed, clock: service.clock, probe: service.probe, extraCheck: { await driver.fatalState(live.ref) }).wait()
            guard waited.healthy else {
                return fail("\(live.container) is not healthy after \(purpose.task) (\(waited.abortedBecause ?? waited.last?.reason ?? "no answer"))")
            }
            record { $0.steps.append("\(live.version) healthy again at \(routed.url) after \(TextFormat.duration(milliseconds: waited.elapsedMs))") }
        }
        return await letThrough()
    }

    /// The held requests go on to the app; the upstream file goes back to what it was.
    func letThrough() async -> PauseOutcome {
        do {
            let resumed = try await service.resume()
            record {
                $0.healthy = true
                $0.gate = resumed.gate
                $0.heldMs = self.pausedAt.map { Int(self.service.context.now().timeIntervalSince($0) * 1000) }
                $0.steps.append("released: the held requests went on to the app; \(service.settings.upstreamFile) as it was")
            }
        } catch {
            return fail("the held requests were not released: \(error.message)")
        }
        return lock.withLock { outcome }
    }

    func fail(_ problem: String) -> PauseOutcome {
        record {
            $0.problem = problem + "; users get the maintenance page (after the pause's bound) until the app answers: then opsctl maintenance \(service.env) resume"
            $0.gate = GateProcess.tally(service.files)
        }
        return lock.withLock { outcome }
    }

    private func record(_ change: (inout PauseOutcome) -> Void) {
        lock.withLock { change(&outcome) }
    }
}
