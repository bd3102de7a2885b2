// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl restore ENV --pause 30s`: a pause around the swap. Before it, users' new requests
/// wait in nginx (`MaintenanceService.pause`), those on their way finish, and every running
/// release stops; after it, the live release starts again, is health-waited at its slot, and
/// `resume` lets the held requests through. Past the bound they get the maintenance page, never
/// a connection error; an app that does not come back leaves them on that page.
public final class PausedRestart: RestorePause, @unchecked Sendable {
    let service: MaintenanceService
    let bound: OpsDuration
    let page: MaintenancePage
    private let lock = NSLock()
    private var live: DeployedRelease?
    private var outcome: PauseOutcome
    private var pausedAt: Date?

    public init(service: MaintenanceService, bound: OpsDuration, page: MaintenancePage = MaintenancePage()) {
        var restoring = service
        restoring.source = .restore
        self.service = restoring
        self.bound = bound
        self.page = page
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
        var stopped: [DeployedRelease] = []
        for release in running {
            do {
                try await driver.stop(release.ref)
            } catch {
                throw await undoStop(stopped, failed: release, error: error)
            }
            stopped.append(release)
            record { $0.stopped.append(release.container) }
        }
        if let standby = try? service.context.ledger(service.config.state).standby(env: service.env), running.contains(where: { $0.container == standby.container && $0.container != live?.container }) {
            try? service.context.ledger(service.config.state).clearStandby(env: service.env)
            record { $0.steps.append("\(standby.version) was on standby: stopped for the restore (kept; opsctl rollback starts it afresh)") }
        }
        lock.withLock { self.live = live }
        record { $0.steps.append("stopped \($0.stopped.joined(separator: ", "))") }
    }

    /// A release would not stop: still the old database, so start again what this call stopped
    /// and let everyone through; the error says whether that worked.
    func undoStop(_ stopped: [DeployedRelease], failed: DeployedRelease, error: OpsError) async -> OpsError {
        var problems: [String] = []
        for release in stopped {
            let target = ReleaseTarget(version: release.version, slot: service.settings.slot(named: release.slot))
            do { try await driver.start(target, fresh: false) } catch { problems.append("\(release.container) did not start again: \(error.message)") }
        }
        do { _ = try await service.resume() } catch { problems.append("the held requests were not released: \(error.message)") }
        let state = problems.isEmpty ? "the app serves as before, nothing was restored"
            : problems.joined(separator: "; ") + "; nothing was restored, users get the maintenance page until opsctl maintenance \(service.env) resume"
        return OpsError(problems.isEmpty ? error.kind : .serviceMayBeDown, code: "restore.stop_failed",
                        "could not stop \(failed.container) for the restore: \(error.message); \(state)")
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
                return fail("\(live.container) is not healthy after the restore (\(waited.abortedBecause ?? waited.last?.reason ?? "no answer"))")
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
