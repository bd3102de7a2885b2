// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// How a drain ended, for the step line and the report.
public struct DrainOutcome: Sendable, Equatable, Codable {
    public enum Ending: String, Sendable, Codable {
        /// `proxy.drain` was a fixed wait, and it passed.
        case waited
        /// Nothing was in flight any more.
        case idle
        /// `proxy.drain_timeout` passed with requests still in flight.
        case timedOut = "timed_out"
    }

    public var ending: Ending
    public var waitedMs: Int
    /// What was still in flight at the bound (`timed_out`).
    public var left: String?

    public var detail: String {
        switch ending {
        case .waited: "after \(OpsDuration(milliseconds: Int64(waitedMs))) of drain"
        case .idle: "idle after \(TextFormat.duration(milliseconds: waitedMs)) of drain"
        case .timedOut: "drain_timeout reached after \(TextFormat.duration(milliseconds: waitedMs)) with \(left ?? "requests") in flight"
        }
    }
}

/// The one wait between "nginx no longer routes to a release" and "stop it", for every
/// strategy behind the proxy and for a pause: `proxy.drain` fixed, or `until-idle` (what
/// `SlotActivity` reads, every 100 ms, at most `proxy.drain_timeout`).
public struct ReleaseDrain: Sendable {
    public let settings: ProxySettings
    public let clock: any WaitClock
    public let probe: any SlotActivityProbe

    public static let poll: Duration = .milliseconds(100)

    public init(settings: ProxySettings, clock: any WaitClock, probe: any SlotActivityProbe) {
        self.settings = settings
        self.clock = clock
        self.probe = probe
    }

    /// Waits until `addresses` (where the release listens) are idle, counting the nginx workers
    /// `change`'s reload retired; a fixed drain just waits.
    public func wait(for addresses: [String], after change: ProxyChange?) async -> DrainOutcome {
        let start = clock.now()
        func elapsed() -> Int { (clock.now() - start).milliseconds }
        guard case .untilIdle = settings.drain else {
            if case .fixed(let duration) = settings.drain { await clock.sleep(for: duration.swiftDuration) }
            return DrainOutcome(ending: .waited, waitedMs: elapsed())
        }
        let deadline = start + settings.drainTimeout.swiftDuration
        let retired = change?.retiredWorkers ?? [:]
        while true {
            let activity = probe.activity(at: addresses, oldWorkers: retired)
            if activity.idle { return DrainOutcome(ending: .idle, waitedMs: elapsed()) }
            guard clock.now() < deadline else { return DrainOutcome(ending: .timedOut, waitedMs: elapsed(), left: activity.description) }
            await clock.sleep(for: Self.poll)
        }
    }

    /// Until the nginx workers `change`'s reload retired are gone (the wait of `until-idle` with
    /// no release to watch), at most `proxy.drain_timeout`, whatever `proxy.drain` says: for
    /// what must outlive the old workers (a front's port, the pause gate), not for a release.
    public static func untilRetiredWorkersAreGone(after change: ProxyChange, settings: ProxySettings, clock: any WaitClock,
                                                  probe: any SlotActivityProbe) async -> DrainOutcome {
        var untilIdle = settings
        untilIdle.drain = .untilIdle
        return await ReleaseDrain(settings: untilIdle, clock: clock, probe: probe).wait(for: [], after: change)
    }

    /// Where a release listens: its slot, else (a release from before blue/green) the servers
    /// the upstream file routed to before `change`.
    public func addresses(of release: ReleaseRef, before change: ProxyChange?) -> [String] {
        if let slot = settings.slot(named: release.slot) { return [slot.address] }
        let previous = change?.previousText.flatMap { NginxProxy.routing(in: $0, name: settings.upstreamName) }
        return previous?.liveAddresses ?? []
    }
}
