// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

public enum MaintenanceAction: String, Sendable, Codable { case on, off, pause, resume }

/// What users get now.
public enum MaintenanceState: String, Sendable, Codable {
    /// The app, as usual.
    case off
    /// The maintenance page (503, Retry-After).
    case on
    /// Held at the gate until a resume (the page once the bound passed).
    case paused
}

/// `opsctl maintenance ENV on|off|pause|resume`.
public struct MaintenanceReport: Report {
    public var env: String
    public var action: MaintenanceAction
    /// After the command.
    public var state: MaintenanceState
    /// False when there was nothing to do (`off` while off).
    public var changed: Bool
    public var upstreamFile: String
    /// The upstream file as written (the front, or the text put back).
    public var upstream: String?
    public var message: String?
    public var retryAfterSeconds: Int?
    /// Paused: held requests get the page from then on.
    public var holdUntil: Date?
    public var gatePid: Int32?
    public var gateAddress: String?
    /// How the proxy showed the change (the page, the gate, the app through nginx).
    public var confirmation: String?
    /// Pause: the requests already on their way to the app, finished before the command returned.
    public var drain: DrainOutcome?
    /// Resume: what the gate held and let through.
    public var gate: GateTally?
    /// When this maintenance (or pause) began, and how long it lasted (off, resume).
    public var since: Date?
    public var lastedMs: Int?
    public var steps: [String] = []
    public var warnings: [String] = []
    public var durationMs = 0

    public func renderText() -> String {
        var lines = [headline]
        lines += steps.map { "  " + $0 }
        if let tally = gate {
            lines.append("  gate: held \(tally.held) request(s), released \(tally.released), refused \(tally.refused) (the page), longest hold \(TextFormat.duration(milliseconds: tally.longestHoldMs))")
        }
        lines += warnings.map { "  warning: \($0)" }
        return lines.joined(separator: "\n")
    }

    var headline: String {
        guard changed else { return "\(env): maintenance is \(state == .off ? "off" : state.rawValue); nothing to do" }
        switch action {
        case .on:
            return "\(env): maintenance ON: nginx answers 503 with Retry-After \(retryAfterSeconds ?? 0) s and the page (\(message ?? ""))"
        case .pause:
            return "\(env): PAUSED: new requests wait in nginx until `opsctl maintenance \(env) resume`, at most until \(holdUntil.map(TextFormat.timestamp) ?? "?") (then the maintenance page)"
        case .off, .resume:
            return "\(env): \(action == .off ? "maintenance off" : "resumed"): \(upstreamFile) routes to the app again" + (lastedMs.map { " (after \(TextFormat.duration(milliseconds: $0)))" } ?? "")
        }
    }
}

/// Maintenance as status and the handoff show it.
public struct MaintenanceView: Sendable, Codable, Equatable {
    public var state: MaintenanceState
    public var since: Date
    public var message: String
    public var retryAfterSeconds: Int
    public var source: MaintenanceRecord.Source
    public var holdUntil: Date?
    /// Paused: whether the gate process still runs (it exits at the bound).
    public var gateRunning: Bool?
    /// The upstream file no longer holds opsctl's front (changed by hand?).
    public var fileChanged: Bool

    public static func read(ledger: Ledger, env: String, proxy: ProxySettings) -> MaintenanceView? {
        guard let record = try? ledger.activeMaintenance(env: env) else { return nil }
        let text = try? String(contentsOfFile: proxy.upstreamFile, encoding: .utf8)
        return MaintenanceView(state: record.state == .paused ? .paused : .on, since: record.startedAt, message: record.message,
                               retryAfterSeconds: record.retryAfterSeconds, source: record.source, holdUntil: record.holdUntil,
                               gateRunning: record.gatePid.map { GateProcess.isRunning($0, token: record.token) },
                               fileChanged: !(text?.contains(record.token) ?? false))
    }

    /// One line: what users get now, since when, and how it ends.
    public func text(now: Date, env: String) -> String {
        var text: String
        switch state {
        case .on, .off:
            text = "ON since \(TextFormat.timestamp(since)) (\(TextFormat.age(of: since, now: now))): users get the maintenance page (503, Retry-After \(retryAfterSeconds) s)"
        case .paused:
            let bound = holdUntil.map(TextFormat.timestamp) ?? "?"
            if let holdUntil, holdUntil <= now {
                text = "PAUSED since \(TextFormat.timestamp(since)), bound passed at \(bound): users get the maintenance page"
            } else {
                text = "PAUSED since \(TextFormat.timestamp(since)): requests wait in nginx until a resume, at most until \(bound)"
            }
            if gateRunning == false, holdUntil.map({ $0 > now }) ?? true { text += "; the gate process is gone: users get the maintenance page" }
        }
        switch source {
        case .restore: text += "; from opsctl restore --pause"
        case .vacuum: text += "; from opsctl db \(env) vacuum (its swap)"
        case .maintenance: break
        }
        if fileChanged { text += "; the upstream file no longer holds opsctl's front (changed by hand?)" }
        return text + "; opsctl maintenance \(env) \(state == .paused ? "resume" : "off") ends it"
    }
}
