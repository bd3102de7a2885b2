// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Blue/green behind the team's nginx: the new release starts on the idle slot (the one the
/// upstream file does not name), is checked there, directly, while users stay on the live one;
/// then one atomic switch of the upstream file, confirmed through the proxy's public URL. The
/// previous release stays running on standby for an instant rollback. A release that fails
/// before the switch never receives a user's request.
struct BlueGreenSwitch: ReleaseSwitch {
    let deps: DeployDependencies
    let proxy: NginxProxy
    var checks: ReleaseChecks { ReleaseChecks(deps: deps) }
    var settings: ProxySettings { proxy.settings }

    // MARK: - where things run

    func liveRelease() async throws(OpsError) -> DeployedRelease? {
        let releases = try await deps.driver.releases()
        if let slot = try proxy.liveSlot(), let serving = releases.first(where: { $0.slot == slot.name && $0.running }) { return serving }
        // The upstream names no slot of ours yet (the first blue/green deploy), or its slot is down.
        return try newestRunningOrLastGood(releases, deps: deps)
    }

    /// The slot the upstream file does not name; blue while it names neither.
    func idleSlot() throws(OpsError) -> ProxySlot {
        let live = try proxy.liveSlot()
        guard let idle = settings.slots.first(where: { $0 != live }) else {
            throw OpsError(.config, code: "proxy.slots", "proxy.slots names no slot besides \(live?.name ?? "the live one"): blue/green needs two")
        }
        return idle
    }

    /// The slot of a target this strategy made: `target(for:)` always names one.
    func slot(of target: ReleaseTarget) throws(OpsError) -> ProxySlot {
        guard let slot = target.slot else {
            throw OpsError(.software, code: "deploy.no_slot", "\(target.version) has no slot, and blue/green runs every release on one; nothing was changed")
        }
        return slot
    }

    func target(for plan: DeployPlan, live: DeployedRelease?) async throws(OpsError) -> ReleaseTarget {
        ReleaseTarget(version: plan.version, slot: try idleSlot())
    }

    // MARK: - refused before anything starts

    func refuseEarly(_ plan: DeployPlan, live: DeployedRelease?) async throws(OpsError) {
        if let problem = ProxyReadiness.upstreamFileProblem(settings) {
            throw OpsError(.config, code: "proxy.upstream_file", "\(problem); nothing was started", details: ["opsctl preflight \(deps.environment.name) checks the proxy set-up"])
        }
        if let problem = ProxyReadiness.upstreamContentProblem(settings, text: try proxy.currentText()) {
            throw OpsError(.config, code: "proxy.upstream_file", "\(problem); opsctl rewrites that file whole, so it refuses to take it over; nothing was started",
                           details: ["point proxy.upstream_file at a file of its own, included from your nginx config (runbooks/deploy-and-rollback.md)"])
        }
        let idle = try idleSlot()
        let ours = try await deps.driver.releases().filter { $0.slot == idle.name && $0.running }
        if ours.isEmpty, !SlotPort.isFree(idle) {
            throw OpsError(.config, code: "proxy.slot_taken",
                           "\(idle.name) slot \(idle.address) is taken by something that is not a release of \(deps.config.app); nothing was started",
                           details: ["see what listens there: ss -ltnp 'sport = :\(idle.port)'", "free the port or change proxy.slots.\(idle.name)"])
        }
    }

    // MARK: - dry run

    func planLines(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?) async throws(OpsError) -> [String] {
        let slot = try slot(of: target)
        var lines = [try routingLine(slot)]
        if plan.action == .rollback, try await runningStandby(plan.version, on: slot) != nil {
            lines.append("\(plan.version) runs on standby on \(slot.name): one probe of \(ProxyRoute.url(deps.health.url, at: slot)), then the switch")
        } else {
            lines += try await startPlanLines(plan, target: target)
        }
        return lines + proxy.plan(proxy.routing(to: slot)) + confirmPlanLines(plan.version, live: live)
    }

    /// `… routes to blue (…): the new release goes to green (…)`.
    func routingLine(_ slot: ProxySlot) throws(OpsError) -> String {
        "\(settings.upstreamFile) routes to \(try proxy.liveSlot().map { "\($0.name) (\($0.address))" } ?? "no slot yet"): the new release goes to \(slot.name) (\(slot.address))"
    }

    /// Clearing the idle slot, starting the release there, and checking it there.
    func startPlanLines(_ plan: DeployPlan, target: ReleaseTarget) async throws(OpsError) -> [String] {
        let slot = try slot(of: target)
        var lines: [String] = []
        for release in try await deps.driver.releases() where release.slot == slot.name && release.running {
            lines += deps.driver.stopCommands(release.ref).map { $0.display(redactor: deps.redactor) + "   # on standby there" }
        }
        lines += try await deps.driver.startCommands(target, fresh: plan.action == .deploy).map { $0.display(redactor: deps.redactor) }
        lines += checkLines(health: ProxyRoute.health(deps.health, at: slot), smoke: deps.environment.smoke.map { ProxyRoute.smoke($0, at: slot) }, options: plan.options)
        lines.append("on failure: stop \(plan.version) (kept); nothing is switched, no user request reaches it")
        return lines
    }

    /// The confirmation through the proxy and what becomes of the previous release.
    func confirmPlanLines(_ version: String, live: DeployedRelease?) -> [String] {
        var lines = ["confirm through \(ProxyRoute.url(deps.health.url, through: settings.url)) within \(settings.confirmTimeout): healthy \(Self.confirmations) times in a row, version \(version) when the JSON says; otherwise switch back"]
        if let live, live.running {
            lines.append(settings.standby.milliseconds > 0 ? "\(live.ref) stays running on standby for \(settings.standby)"
                                                           : "\(drainPlan): " + deps.driver.stopCommands(live.ref).map { $0.display(redactor: deps.redactor) }.joined(separator: "; "))
        }
        return lines
    }

    // MARK: - the switch

    func perform(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?, run: DeployRun) async -> SwitchResult {
        guard let slot = target.slot else { return Self.noSlot(target) }
        var found = DeployFindings(slot: slot.name, switched: false)
        if plan.action == .rollback, let standby = try? await runningStandby(plan.version, on: slot) {
            if let result = await switchToStandby(standby, plan: plan, slot: slot, live: live, run: run, found: found) { return result }
        }
        if let failed = await startChecked(plan, target: target, live: live, run: run, found: &found) { return failed }
        return await switchTraffic(to: target, live: live, run: run, found: found)
    }

    /// Clears the idle slot, starts the release there and checks it there, directly: nil when it
    /// is fit to take traffic (what the checks found is added to `found`), else the result of
    /// abandoning it (nothing was switched).
    func startChecked(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?, run: DeployRun, found: inout DeployFindings) async -> SwitchResult? {
        guard let slot = target.slot else { return Self.noSlot(target, found) }
        do {
            try await clear(slot, run: run)
            try await deps.driver.start(target, fresh: plan.action == .deploy)
            run.step("start \(plan.version) on \(slot.name)", slot.address)
        } catch {
            run.step("start \(plan.version) on \(slot.name)", "failed")
            return await abandon(target, live: live, reason: "could not start \(plan.version) on \(slot.name): \(error.message)", run: run, found: found)
        }
        let smoke = deps.environment.smoke.map { ProxyRoute.smoke($0, at: slot) }
        let check = await checks.verify(target.ref, health: ProxyRoute.health(deps.health, at: slot), smoke: smoke, run: run)
        found.add(check)
        if let failure = check.failure { return await abandon(target, live: live, reason: failure, run: run, found: found) }
        return nil
    }

    /// Rollback to the release on standby: it already runs, so one probe, the switch, the
    /// confirmation. nil when it does not answer healthy (the caller starts it afresh instead).
    func switchToStandby(_ standby: DeployedRelease, plan: DeployPlan, slot: ProxySlot, live: DeployedRelease?, run: DeployRun,
                         found: DeployFindings) async -> SwitchResult? {
        let probe = await deps.probe(ProxyRoute.health(deps.health, at: slot))
        guard probe.ok, probe.version == nil || probe.version == plan.version else {
            run.step("probe standby", "\(standby.version) on \(slot.name) is not healthy (\(probe.reason ?? "version \(probe.version ?? "?")")); starting it afresh")
            return nil
        }
        run.step("probe standby", "\(standby.version) on \(slot.name) is healthy: switching to it")
        return await switchTraffic(to: ReleaseTarget(version: plan.version, slot: slot), live: live, run: run, found: found)
    }

    /// Stops whatever of ours runs on the slot (the release on standby, a leftover), then makes
    /// sure nothing else holds its port.
    func clear(_ slot: ProxySlot, run: DeployRun) async throws(OpsError) {
        for release in try await deps.driver.releases() where release.slot == slot.name && release.running {
            try await deps.driver.stop(release.ref)
            run.step("stop \(release.version) on \(slot.name)", "was on standby; kept")
        }
        try? run.ledger.clearStandby(env: deps.environment.name)
        // A stopped container's socket closes with it; give the kernel a moment before calling it taken.
        for _ in 0..<20 where !SlotPort.isFree(slot) { await deps.clock.sleep(for: .milliseconds(100)) }
        guard SlotPort.isFree(slot) else {
            throw OpsError(.config, code: "proxy.slot_taken", "\(slot.name) slot \(slot.address) is taken by something that is not a release of \(deps.config.app)")
        }
    }

    /// The new release is not switched to: stop it (kept), nothing changes for users. The result
    /// carries `found` (what the run found so far) and the release's last output.
    func abandon(_ target: ReleaseTarget, live: DeployedRelease?, reason: String, run: DeployRun, found: DeployFindings) async -> SwitchResult {
        var found = found
        found.failed = await checks.failedLogs(target.ref)
        let reason = checks.reason(reason)
        let slot = target.slot?.name ?? "no slot"
        deps.context.logger.error("\(run.kind.rawValue) of \(target.version) failed on \(slot): \(deps.redactor.scrub(reason))")
        var what = "nothing was switched, no user request reached \(target.version)"
        if run.rollbackEnabled {
            try? await deps.driver.stop(target.ref)
            run.step("stop \(target.version) on \(slot)", "kept for the post-mortem")
            // A standby a rollback could not switch to is on standby no more.
            if let standby = try? run.ledger.standby(env: deps.environment.name), standby.version == target.version, standby.slot == slot {
                try? run.ledger.clearStandby(env: deps.environment.name)
            }
        } else {
            what += "; rollback is off: it stays running on \(slot) for inspection"
        }
        guard let live, live.running, live.ref != target.ref else {
            return SwitchResult(outcome: .failed, reason: "\(reason); \(what); there is no previous release to go back to", found: found)
        }
        let outcome: DeployReport.Outcome = deps.interruption.signal != nil ? .interrupted : .rolledBack
        return SwitchResult(outcome: outcome, reason: "\(reason); \(what)", found: found)
    }

    /// Write the upstream file, check, reload, confirm; on a failed confirmation, switch back.
    /// A signal from here on no longer aborts: the switch is finished or undone, never left halfway.
    func switchTraffic(to target: ReleaseTarget, live: DeployedRelease?, run: DeployRun, found: DeployFindings) async -> SwitchResult {
        guard let slot = target.slot else { return Self.noSlot(target, found) }
        if let signal = deps.interruption.reason {
            return await abandon(target, live: live, reason: "\(signal) before the switch", run: run, found: found)
        }
        var found = found
        let change: ProxyChange
        do {
            change = try await proxy.apply(proxy.routing(to: slot))
            found.upstream = change.text
            run.step("switch to \(slot.name)", "\(settings.upstreamFile) checked and reloaded")
        } catch {
            run.step("switch to \(slot.name)", "refused")
            let more = error.details.filter { !error.message.contains($0) }
            return await abandon(target, live: live, reason: error.message + (more.isEmpty ? "" : " (\(more.joined(separator: " | ")))"), run: run, found: found)
        }
        found.switched = true
        let confirmation = await confirm(target.version)
        run.step("confirm", confirmation.detail)
        guard confirmation.ok else {
            return await switchBack(change, from: target, live: live, reason: "the proxy did not confirm the switch: \(confirmation.detail)", run: run, found: found)
        }
        if let signal = deps.interruption.reason {
            found.warnings.append("\(signal) after the switch: the switch was finished and confirmed")
        }
        // What was on standby (a rollback just switched to it) serves now.
        try? run.ledger.clearStandby(env: deps.environment.name)
        await keepOnStandby(live, replacedBy: target, after: change, run: run, found: &found)
        return .succeeded(found)
    }

    /// Answers in a row a confirmation needs: right after `nginx -s reload` returns, the old
    /// workers may still accept connections beside the new ones for a moment.
    static let confirmations = 3

    /// Health through `proxy.url` until it passes `confirmations` times in a row and, when the
    /// JSON names a version, it is the new one each time (nginx's old workers answer from the
    /// previous upstream until they finish).
    func confirm(_ version: String) async -> (ok: Bool, detail: String) {
        let health = ProxyRoute.health(deps.health, through: settings)
        let interval = Duration.milliseconds(min(deps.health.interval.milliseconds, 100))
        let deadline = deps.clock.now() + settings.confirmTimeout.swiftDuration
        var last = "no answer"
        var probes = 0
        var inARow = 0
        while true {
            let probe = await deps.probe(health)
            probes += 1
            if probe.ok, probe.version == nil || probe.version == version {
                inARow += 1
                guard inARow >= Self.confirmations else { continue }
                return (true, "\(Redactor.redactURLCredentials(health.url)): healthy\(probe.version.map { ", version \($0)" } ?? "") \(inARow) times in a row after \(probes) probe(s)")
            }
            inARow = 0
            last = probe.ok ? "version \(probe.version ?? "?") answered, not \(version)" : deps.redactor.scrub(probe.reason ?? "no answer")
            guard deps.clock.now() + interval < deadline else { break }
            await deps.clock.sleep(for: interval)
        }
        return (false, "\(Redactor.redactURLCredentials(health.url)) after \(settings.confirmTimeout): \(last)")
    }

    func switchBack(_ change: ProxyChange, from target: ReleaseTarget, live: DeployedRelease?, reason: String, run: DeployRun,
                    found: DeployFindings) async -> SwitchResult {
        var found = found
        found.failed = await checks.failedLogs(target.ref)
        let reverted: ProxyChange
        do {
            reverted = try await proxy.revert(change)
            found.switched = false
            run.step("switch back", "\(settings.upstreamFile) as it was, reloaded")
        } catch {
            run.step("switch back", "FAILED")
            return SwitchResult(outcome: .failed, reason: "\(reason); switching back failed too: \(error.message)", found: found)
        }
        let (drained, _) = await drainThenStop(target.ref, after: reverted, found: &found)
        run.step("stop \(target.version) on \(target.slot?.name ?? "its slot")", "\(drained.detail); kept")
        let serving = live.map { "\($0.version) serves again" } ?? "nothing served before either"
        return SwitchResult(outcome: live == nil ? .failed : .rolledBack, reason: "\(reason); switched back: \(serving)", found: found)
    }

    /// The release that served until now keeps running for `standby` (an instant rollback),
    /// or, with `standby: 0s`, is stopped once drained (`proxy.drain`) after `change`'s reload;
    /// the standby, the drain and any warning go into `found`.
    func keepOnStandby(_ previous: DeployedRelease?, replacedBy target: ReleaseTarget, after change: ProxyChange, run: DeployRun,
                       found: inout DeployFindings) async {
        // Nothing to keep when it did not run, or ran on the slot just cleared for the new release.
        guard let previous, previous.running, previous.slot == nil || previous.slot != target.slot?.name else { return }
        let now = deps.context.now()
        guard settings.standby.milliseconds > 0 else {
            let (drained, error) = await drainThenStop(previous.ref, after: change, found: &found)
            if let error {
                found.warnings.append("could not stop the previous release \(previous.ref): \(error.message)")
            } else {
                run.step("stop \(previous.version)", "\(drained.detail) (standby: 0s); kept")
            }
            return
        }
        let record = StandbyRecord(env: deps.environment.name, version: previous.version, slot: previous.slot, container: previous.container,
                                   since: now, expiresAt: now.addingTimeInterval(settings.standby.seconds))
        do {
            try run.ledger.setStandby(record)
            found.standby = record
            run.step("standby", "\(previous.version)" + (previous.slot.map { " on \($0)" } ?? "") + " keeps running until \(TextFormat.timestamp(record.expiresAt))")
        } catch {
            found.warnings.append("could not record the standby of \(previous.ref): \(error.message)")
        }
    }

    /// A release nginx no longer routes to since `change`'s reload: drained (`proxy.drain`: a
    /// fixed wait, or until nothing is in flight to it, at most `drain_timeout`), then stopped
    /// (kept). Every strategy behind the proxy stops releases this way. The drain (and a warning
    /// when it ran out of time) goes into `found`; the error is nil when it stopped.
    func drainThenStop(_ release: ReleaseRef, after change: ProxyChange, found: inout DeployFindings) async -> (DrainOutcome, OpsError?) {
        let drain = ReleaseDrain(settings: settings, clock: deps.clock, probe: deps.activity)
        let outcome = await drain.wait(for: drain.addresses(of: release, before: change), after: change)
        found.drains.append(outcome)
        if outcome.ending == .timedOut {
            found.warnings.append("\(release) was stopped with requests in flight: \(outcome.detail)")
        }
        do { try await deps.driver.stop(release) } catch { return (outcome, error) }
        return (outcome, nil)
    }

    /// What the dry run says about the drain before a stop.
    var drainPlan: String {
        switch settings.drain {
        case .fixed(let duration): "after \(duration) of drain"
        case .untilIdle: "once nothing is in flight to it (nginx's old workers gone, no connection open; at most \(settings.drainTimeout))"
        }
    }

    /// A target without a slot never gets this far (`target(for:)` names one): refused, nothing changed.
    static func noSlot(_ target: ReleaseTarget, _ found: DeployFindings = DeployFindings()) -> SwitchResult {
        SwitchResult(outcome: .aborted, reason: "\(target.version) has no slot, and blue/green runs every release on one; nothing was changed", found: found)
    }

    /// The release `version` running on `slot`, if it does: the one a rollback can switch to at once.
    func runningStandby(_ version: String, on slot: ProxySlot) async throws(OpsError) -> DeployedRelease? {
        try await deps.driver.releases().first { $0.version == version && $0.slot == slot.name && $0.running }
    }
}
