// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Canary behind the team's nginx: blue/green up to the switch (the new release starts on the
/// idle slot and passes health and smoke there), then shares of live traffic through weights in
/// the same upstream file, each watched in nginx's access log, then the whole switch. A step
/// that crosses a limit withdraws the new release before most users ever see it.
/// Rollbacks go straight back as in blue/green: the release returned to served before.
struct CanarySwitch: ReleaseSwitch {
    let blueGreen: BlueGreenSwitch
    let settings: CanarySettings

    var deps: DeployDependencies { blueGreen.deps }
    var proxy: NginxProxy { blueGreen.proxy }
    var accessLog: String { proxy.settings.accessLog ?? "" }

    func liveRelease() async throws(OpsError) -> DeployedRelease? { try await blueGreen.liveRelease() }

    func target(for plan: DeployPlan, live: DeployedRelease?) async throws(OpsError) -> ReleaseTarget {
        try await blueGreen.target(for: plan, live: live)
    }

    /// Blue/green's refusals, and for a deploy the access log it will be judged from.
    func refuseEarly(_ plan: DeployPlan, live: DeployedRelease?) async throws(OpsError) {
        try await blueGreen.refuseEarly(plan, live: live)
        guard plan.action == .deploy else { return }
        _ = try CanaryReadiness.check(accessLog)
    }

    // MARK: - dry run

    func planLines(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?) async throws(OpsError) -> [String] {
        guard plan.action == .deploy else { return try await blueGreen.planLines(plan, target: target, live: live) }
        let slot = try blueGreen.slot(of: target)
        var lines = [try blueGreen.routingLine(slot)] + (try await blueGreen.startPlanLines(plan, target: target))
        let old = try oldServers(excluding: slot)
        guard !old.isEmpty else {
            lines.append("nothing is routed through \(proxy.settings.upstreamFile) yet: no release to compare with, so no canary steps; the whole switch at once")
            return lines + proxy.plan(proxy.routing(to: slot)) + blueGreen.confirmPlanLines(plan.version, live: live)
        }
        for (index, share) in settings.steps.enumerated() {
            lines.append("step \(index + 1)/\(settings.steps.count): \(share)% of live traffic to \(plan.version)")
            let step = settings.sticky == .cookie
                ? CanaryUpstream.sticky(proxy.settings.upstreamName, old: old, new: slot.address, share: share, settings: settings,
                                        accessLog: accessLog, listen: "127.0.0.1:<a free port>", salt: "<this deploy's>").render()
                : CanaryUpstream.step(proxy.settings.upstreamName, old: old, new: slot.address, share: share).render()
            lines += proxy.plan(text: step)
            lines.append("watch \(accessLog) for \(settings.pause) (up to \(settings.maxExtension) while \(plan.version) has fewer than \(settings.minRequests) requests): " + limitsText)
        }
        lines.append("every step passed: 100%")
        lines += proxy.plan(proxy.routing(to: slot)) + blueGreen.confirmPlanLines(plan.version, live: live)
        lines.append("a step crosses a limit, or SIGINT/SIGTERM during a step: withdraw \(plan.version) (exit 3)")
        lines += proxy.plan(CanaryUpstream.withdrawn(proxy.settings.upstreamName, old: old, new: slot.address)).map { "  " + $0 }
        lines.append("  confirm through \(ProxyRoute.url(deps.health.url, through: proxy.settings.url)) that \(live?.version ?? "the old release") answers; \(blueGreen.drainPlan) stop \(plan.version) (kept)")
        return lines
    }

    var limitsText: String {
        "withdraw as soon as its 5xx share exceeds \(settings.maxErrorRateText)" + (settings.maxP99Ms.map { " or its p99 exceeds \($0) ms" } ?? "")
    }

    // MARK: - the switch

    func perform(_ plan: DeployPlan, target: ReleaseTarget, live: DeployedRelease?, run: DeployRun) async -> SwitchResult {
        guard plan.action == .deploy else { return await blueGreen.perform(plan, target: target, live: live, run: run) }
        guard let slot = target.slot else { return BlueGreenSwitch.noSlot(target) }
        var found = DeployFindings(slot: slot.name, switched: false, canary: CanaryReport(settings: settings, accessLog: accessLog))
        if let refused = await takeBackLeftoverShare(of: slot, target: target, live: live, run: run, found: found) { return refused }
        if let failed = await blueGreen.startChecked(plan, target: target, live: live, run: run, found: &found) { return failed }
        let old: [Upstream.Server]
        let before: String?
        do {
            old = try oldServers(excluding: slot)
            before = try proxy.currentText()
        } catch {
            return await blueGreen.abandon(target, live: live, reason: error.message, run: run, found: found)
        }
        guard !old.isEmpty, let live, live.running else {
            found.warnings.append("nothing served through the proxy before: no release to compare with, so no canary steps; switched at once as blue/green does")
            return await blueGreen.switchTraffic(to: target, live: live, run: run, found: found)
        }
        var rollout = CanaryRollout(switch: self, target: target, slot: slot, live: live, old: old, before: before, run: run, found: found)
        return await rollout.run()
    }

    /// The servers that take traffic now, other than the slot the new release goes to.
    func oldServers(excluding slot: ProxySlot) throws(OpsError) -> [Upstream.Server] {
        (try proxy.current()?.servers ?? []).filter { $0.receivesTraffic && $0.address != slot.address }.map { Upstream.Server(address: $0.address) }
    }

    /// A run killed during a step (SIGKILL, a crash) leaves the idle slot with a share of the
    /// traffic: take it back before that slot is cleared, so stopping what runs there fails no request.
    func takeBackLeftoverShare(of slot: ProxySlot, target: ReleaseTarget, live: DeployedRelease?, run: DeployRun,
                               found: DeployFindings) async -> SwitchResult? {
        guard let current = try? proxy.current(), current.liveAddresses.contains(slot.address), current.liveAddresses.count > 1 else { return nil }
        do {
            _ = try await proxy.apply(Upstream(name: current.name, servers: current.servers.filter { $0.address != slot.address }))
            run.step("take back \(slot.name)'s share", "a canary left halfway by an earlier run: \(proxy.settings.upstreamFile) routes to the live release only")
            return nil
        } catch {
            run.step("take back \(slot.name)'s share", "refused")
            return await blueGreen.abandon(target, live: live, reason: "\(slot.name) still has a share of the traffic from an earlier canary and nginx refused to take it back: \(error.message)", run: run, found: found)
        }
    }
}

/// The upstream files of a canary: weights for a step, and the new release marked down.
enum CanaryUpstream {
    /// `server old weight=100-share; server new weight=share;` (per old server, so the new one
    /// gets `share` % of the whole whatever the number of old servers). The old servers come
    /// first: at 50 % the file still reads as routing to the old release.
    static func step(_ name: String, old: [Upstream.Server], new: String, share: Int) -> Upstream {
        Upstream(name: name, servers: old.map { Upstream.Server(address: $0.address, weight: 100 - share) }
                 + [Upstream.Server(address: new, weight: share * old.count)])
    }

    /// A step by user (`sticky: cookie`): opsctl's front splits users by the cookie's hash.
    static func sticky(_ name: String, old: [Upstream.Server], new: String, share: Int, settings: CanarySettings,
                       accessLog: String, listen: String, salt: String) -> ProxyFront {
        let split = ProxyFront.StickySplit(old: old, new: new, share: share, cookie: settings.cookie, salt: salt, accessLog: accessLog)
        return ProxyFront(name: name, listen: listen, mode: .sticky(split), app: [], token: salt)
    }

    /// Weight 0 for the new release (nginx spells it `down`), the old servers take everything.
    static func withdrawn(_ name: String, old: [Upstream.Server], new: String) -> Upstream {
        Upstream(name: name, servers: old.map { Upstream.Server(address: $0.address) } + [Upstream.Server(address: new, weight: 0)])
    }
}
