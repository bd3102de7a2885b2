// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The canary's steps once the new release passed health and smoke on its slot: for each share,
/// the weighted upstream file (check, reload), then the access log watched for `pause`; a step
/// that crosses a limit (or a signal) withdraws the new release; after the last one, the whole
/// switch and the previous release on standby, as in blue/green.
struct CanaryRollout {
    let `switch`: CanarySwitch
    let target: ReleaseTarget
    /// Where the new release runs (the target's).
    let slot: ProxySlot
    let live: DeployedRelease
    /// The servers that took the traffic before the canary.
    let old: [Upstream.Server]
    /// The upstream file before the first step, for a withdrawal nginx refuses.
    let before: String?
    let run: DeployRun
    /// What the deploy found so far, the canary's report in it: each step, the end, the
    /// upstream file and the warnings are added as they come, and every result carries it.
    var found: DeployFindings
    /// `sticky: cookie`: where opsctl's front listens, and this deploy's draw of users.
    var front = ProxyFront.freeLoopbackAddress()
    var salt = ProxyFront.randomToken()

    /// How often the access log is read while a step is watched.
    static let poll: Duration = .milliseconds(100)
    /// How often a step's progress is reported while it is watched.
    static let progressEvery: Duration = .milliseconds(250)

    var deps: DeployDependencies { `switch`.deps }
    var proxy: NginxProxy { `switch`.proxy }
    var settings: CanarySettings { `switch`.settings }
    var blueGreen: BlueGreenSwitch { `switch`.blueGreen }

    mutating func run() async -> SwitchResult {
        for (index, share) in settings.steps.enumerated() {
            if let signal = deps.interruption.reason {
                return await withdraw("\(signal) before step \(index + 1) (\(share)%)", interrupted: true)
            }
            let tail: AccessLogTail
            do {
                // Opened before the reload: every line nginx writes from here on counts.
                tail = try AccessLogTail(path: `switch`.accessLog)
                _ = try await proxy.apply(text: stepFile(share: share))
            } catch {
                run.step("canary \(share)%", "refused")
                // The file was put back: before the first step, the new release has no share yet.
                guard index > 0 else {
                    return await blueGreen.abandon(target, live: live, reason: "the first canary step could not start: \(error.message)", run: run, found: found)
                }
                return await withdraw("step \(index + 1) (\(share)%) could not start: \(error.message)", interrupted: false)
            }
            let how = settings.sticky == .cookie ? "\(share)% of users (cookie \(settings.cookie)) to \(target.version)" : "weight \(share) for \(target.version)"
            run.step("canary \(share)%", "\(proxy.settings.upstreamFile): \(how), checked and reloaded")
            let step = await watch(index: index, share: share, tail: tail)
            record(step, rotations: tail.rotations)
            run.step("watch \(share)%", step.line(of: settings.steps.count))
            switch step.verdict {
            case .passed, .watching: continue
            case .failed: return await withdraw("step \(index + 1) (\(share)%): \(step.reason ?? "a limit was crossed")", interrupted: false)
            case .interrupted: return await withdraw("\(step.reason ?? "interrupted") during step \(index + 1) (\(share)%)", interrupted: true)
            }
        }
        if let signal = deps.interruption.reason {
            return await withdraw("\(signal) after the last step, before the whole switch", interrupted: true)
        }
        return await promote()
    }

    // MARK: - one step

    /// The step's upstream file: weights (shares of requests), or with `sticky: cookie` opsctl's
    /// front, which keeps each user on one release and sends `share` % of the users to the new one.
    func stepFile(share: Int) -> String {
        guard settings.sticky == .cookie else { return CanaryUpstream.step(proxy.settings.upstreamName, old: old, new: slot.address, share: share).render() }
        return CanaryUpstream.sticky(proxy.settings.upstreamName, old: old, new: slot.address, share: share, settings: settings,
                                     accessLog: `switch`.accessLog, listen: front, salt: salt).render()
    }

    /// `text` in place of the steps' file. Leaving a sticky step's front, its port stays as a
    /// bridge passing requests on until the nginx workers that routed by the step are gone (a
    /// request such a worker sends to that port is passed on, not answered 502), then `text` alone.
    func leaveStep(_ text: String) async throws(OpsError) -> ProxyChange {
        try await proxy.apply(text: text) { [deps, proxy] bridged in
            _ = await ReleaseDrain.untilRetiredWorkersAreGone(after: bridged, settings: proxy.settings, clock: deps.clock, probe: deps.activity)
        }
    }

    /// Reads the log every `poll` until the step passes, fails or a signal arrives.
    func watch(index: Int, share: Int, tail: AccessLogTail) async -> CanaryStepReport {
        var step = CanaryStepReport(step: index + 1, share: share, startedAt: deps.context.now())
        var tally = CanaryTally(old: Set(old.map(\.address)), new: slot.address)
        let judge = CanaryJudge(settings: settings)
        let start = deps.clock.now()
        var reported = start
        while step.verdict == .watching {
            await deps.clock.sleep(for: Self.poll)
            for line in tail.read() { tally.add(line) }
            let elapsed = deps.clock.now() - start
            step.watchedMs = elapsed.milliseconds
            step.old = tally.old.figures
            step.new = tally.new.figures
            step.unparsedLines = tally.unparsed
            (step.verdict, step.reason) = verdict(tally, judge: judge, elapsed: elapsed, extended: &step.extended)
            if step.verdict == .watching, deps.clock.now() - reported >= Self.progressEvery {
                reported = deps.clock.now()
                deps.canaryProgress?(step, settings.steps.count)
            }
        }
        step.failingPaths = tally.new.topFailingPaths()
        step.comparison = CanaryComparison(old: tally.old.figures, new: tally.new.figures, settings: settings)
        return step
    }

    /// The step's verdict now: still watching, passed, failed (with why) or interrupted.
    func verdict(_ tally: CanaryTally, judge: CanaryJudge, elapsed: Duration, extended: inout Bool) -> (CanaryStepVerdict, String?) {
        if let signal = deps.interruption.reason { return (.interrupted, signal) }
        if tally.lines >= 10, tally.unparsed * 10 > tally.lines {
            return (.failed, "\(tally.unparsed) of \(tally.lines) line(s) in \(`switch`.accessLog) are not in the opsctl_canary format: the release cannot be judged")
        }
        if let breach = judge.breach(tally.new, final: false) { return (.failed, breach) }
        guard elapsed >= settings.pause.swiftDuration else { return (.watching, nil) }
        let seen = tally.new.requests
        if seen >= settings.minRequests { return judge.regression(old: tally.old, new: tally.new).map { (.failed, $0) } ?? (.passed, nil) }
        extended = true
        guard elapsed >= settings.maxExtension.swiftDuration else { return (.watching, nil) }
        guard seen > 0 else {
            return (.failed, "no request reached \(target.version) in \(settings.maxExtension) (\(tally.old.requests) reached the old release): nothing to judge it on")
        }
        if let breach = judge.breach(tally.new, final: true) { return (.failed, breach) }
        if let worse = judge.regression(old: tally.old, new: tally.new) { return (.failed, worse) }
        return (.passed, "judged on \(seen) request(s), fewer than min_requests \(settings.minRequests), after \(settings.maxExtension)")
    }

    /// The step in the report, the ledger and on the terminal.
    mutating func record(_ step: CanaryStepReport, rotations: Int) {
        found.canary?.steps.append(step)
        found.canary?.rotations += rotations
        var paths: [String: Int] = [:]
        for path in found.canary?.steps.flatMap(\.failingPaths) ?? [] { paths[path.path, default: 0] += path.count }
        found.canary?.topFailingPaths = paths.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(5).map { PathCount(path: $0.key, count: $0.value) }
        deps.canaryProgress?(step, settings.steps.count)
        do { try run.ledger.recordCanaryStep(deploymentId: run.id, step) } catch {
            found.warnings.append("could not record canary step \(step.step) in the ledger: \(error.message)")
        }
    }

    // MARK: - the end

    /// Every step passed: the whole switch, confirmed, and the previous release on standby.
    mutating func promote() async -> SwitchResult {
        let change: ProxyChange
        do {
            change = try await leaveStep(proxy.routing(to: slot).render())
        } catch {
            run.step("switch to \(slot.name)", "refused")
            return await withdraw("every step passed but nginx refused the whole switch: \(error.message)", interrupted: false)
        }
        found.upstream = change.text
        found.switched = true
        run.step("switch to \(slot.name)", "100%: \(proxy.settings.upstreamFile) checked and reloaded")
        let confirmation = await blueGreen.confirm(target.version)
        run.step("confirm", confirmation.detail)
        guard confirmation.ok else {
            found.switched = false
            return await withdraw("the proxy did not confirm the whole switch: \(confirmation.detail)", interrupted: false)
        }
        if let signal = deps.interruption.reason {
            found.warnings.append("\(signal) after the whole switch: the switch was finished and confirmed")
        }
        found.canary?.outcome = .promoted
        try? run.ledger.clearStandby(env: deps.environment.name)
        await blueGreen.keepOnStandby(live, replacedBy: target, after: change, run: run, found: &found)
        return .succeeded(found)
    }

    /// Weight 0 for the new release (check, reload), the old release confirmed through the
    /// proxy, then the new one stopped after the drain. A signal from here on changes nothing.
    mutating func withdraw(_ why: String, interrupted: Bool) async -> SwitchResult {
        found.failed = await blueGreen.checks.failedLogs(target.ref)
        let reason = withFigures(why)
        deps.context.logger.error("canary \(target.version) withdrawn: \(deps.redactor.scrub(reason))")
        let taken: ProxyChange
        switch await takeTrafficBack() {
        case .failure(let failure): return SwitchResult(outcome: .failed, reason: "\(reason); withdrawing it failed: \(failure.message)", found: found)
        case .success(let change): taken = change
        }
        let withdrawnAt = deps.context.now()
        found.canary?.outcome = .withdrawn
        found.canary?.withdrawnAt = withdrawnAt
        let confirmation = await confirmOld()
        run.step("confirm \(live.version)", confirmation.detail)
        guard confirmation.ok else {
            return SwitchResult(outcome: .failed, reason: "\(reason); \(live.version) did not answer through the proxy after the withdrawal: \(confirmation.detail)", found: found)
        }
        if run.rollbackEnabled {
            let (drained, _) = await blueGreen.drainThenStop(target.ref, after: taken, found: &found)
            run.step("stop \(target.version) on \(slot.name)", "\(drained.detail); kept for the post-mortem")
        } else {
            found.warnings.append("rollback is off: \(target.version) stays running on \(slot.name) for inspection, without traffic")
        }
        return SwitchResult(outcome: interrupted ? .interrupted : .rolledBack, reason: reason, found: found)
    }

    /// The canary marked down; when nginx refuses that, the file from before the canary. The
    /// change that took the traffic back (its reload retired the workers still routing to the canary).
    mutating func takeTrafficBack() async -> Result<ProxyChange, OpsError> {
        let upstream = CanaryUpstream.withdrawn(proxy.settings.upstreamName, old: old, new: slot.address)
        do {
            let change = try await leaveStep(upstream.render())
            found.upstream = change.text
            run.step("withdraw \(target.version)", "weight 0 (down) in \(proxy.settings.upstreamFile), checked and reloaded")
            return .success(change)
        } catch {
            run.step("withdraw \(target.version)", "refused: \(error.message)")
        }
        do {
            let current = (try? proxy.currentText()) ?? upstream.render()
            let change = try await proxy.revert(ProxyChange(previousText: before, text: current))
            run.step("withdraw \(target.version)", "\(proxy.settings.upstreamFile) as before the canary, checked and reloaded")
            return .success(change)
        } catch {
            run.step("withdraw \(target.version)", "FAILED")
            return .failure(OpsError(error.kind, code: error.code, "\(error.message); \(target.version) MAY STILL RECEIVE A SHARE OF THE TRAFFIC: route \(proxy.settings.upstreamName) to \(live.version) by hand (runbooks/deploy-and-rollback.md)"))
        }
    }

    /// The old release answers through the proxy, as blue/green confirms a switch.
    func confirmOld() async -> (ok: Bool, detail: String) {
        let confirmation = await blueGreen.confirm(live.version)
        return (confirmation.ok, confirmation.ok ? "\(live.version) takes all traffic: " + confirmation.detail : confirmation.detail)
    }

    /// The reason with the failing step's figures and the top failing paths, for the ledger.
    func withFigures(_ why: String) -> String {
        guard let canary = found.canary, let step = canary.steps.last else { return why }
        var text = why + " [step \(step.step) \(step.share)%: requests old/new \(step.old.requests)/\(step.new.requests), 5xx old/new \(step.old.errors)/\(step.new.errors)"
        text += ", p99 old/new \(step.old.p99Ms.map { "\(Int($0.rounded()))" } ?? "-")/\(step.new.p99Ms.map { "\(Int($0.rounded()))" } ?? "-") ms]"
        if !canary.topFailingPaths.isEmpty {
            text += "; top failing paths: " + canary.topFailingPaths.map { "\($0.path) (\($0.count))" }.joined(separator: ", ")
        }
        return text
    }
}
