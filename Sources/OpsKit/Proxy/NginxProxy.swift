// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What one switch changed, so it can be undone: the file as it was before, and the nginx
/// workers its reload retired (the only ones still running the previous routing).
public struct ProxyChange: Sendable, Equatable {
    /// nil: there was no upstream file.
    public var previousText: String?
    /// The file as written.
    public var text: String
    /// nginx's workers right before the reload (pid → master); afterwards the reloaded master's
    /// shut down, finishing what they hold.
    public var retiredWorkers: [Int32: Int32] = [:]

    public init(previousText: String?, text: String, retiredWorkers: [Int32: Int32] = [:]) {
        self.previousText = previousText
        self.text = text
        self.retiredWorkers = retiredWorkers
    }
}

/// The team's nginx, driven through the upstream file opsctl owns: render it, write it
/// atomically, `check` (nginx -t), `reload`, and put the previous file back when nginx refuses.
/// Strategies that move traffic (blue/green, weighted steps) all switch through here.
public struct NginxProxy: Sendable {
    public let settings: ProxySettings
    public let runner: any ProcessRunning
    public var redactor: Redactor = Redactor()
    /// Which nginx workers run before a reload (the drain waits for them); tests answer without /proc.
    public var activity: any SlotActivityProbe = KernelSlotActivity()

    public init(settings: ProxySettings, runner: any ProcessRunning, redactor: Redactor = Redactor()) {
        self.settings = settings
        self.runner = runner
        self.redactor = redactor
    }

    public var path: String { settings.upstreamFile }

    /// The same proxy, reading which workers run from `activity`.
    public func reading(_ activity: any SlotActivityProbe) -> NginxProxy {
        var proxy = self
        proxy.activity = activity
        return proxy
    }

    public var checkRequest: ProcessRequest { ProcessRequest(settings.check[0], Array(settings.check.dropFirst()), timeout: .seconds(60)) }

    public var reloadRequest: ProcessRequest { ProcessRequest(settings.reload[0], Array(settings.reload.dropFirst()), timeout: .seconds(60)) }

    /// The file's text; nil when it does not exist yet.
    public func currentText() throws(OpsError) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw OpsError(.io, code: "proxy.unreadable", "\(path): cannot read the upstream file: \(YAMLReader.reason(error))")
        }
    }

    /// Where the upstream file routes, as nginx has it on disk: its upstream block, or behind
    /// opsctl's front (maintenance, a pause, a sticky canary step) the servers the front passes to.
    public func current() throws(OpsError) -> Upstream? {
        try currentText().flatMap { Self.routing(in: $0, name: settings.upstreamName) }
    }

    static func routing(in text: String, name: String) -> Upstream? {
        ProxyFront.routed(text, name: name)?.upstream ?? Upstream.parse(text, name: name)
    }

    /// The front opsctl put in the file (`maintenance`, `hold`, `sticky 10`), if any.
    public func currentFront() throws(OpsError) -> String? {
        try currentText().flatMap { ProxyFront.routed($0, name: settings.upstreamName)?.kind }
    }

    /// The slot the upstream file sends traffic to (the heaviest, when it names both); nil when
    /// it names neither (no file yet, or the app's address from before blue/green).
    public func liveSlot() throws(OpsError) -> ProxySlot? {
        guard let upstream = try current() else { return nil }
        let named = upstream.servers.filter(\.receivesTraffic).compactMap { server in settings.slot(at: server.address).map { (slot: $0, weight: server.weight ?? 1) } }
        return named.max { $0.weight < $1.weight }?.slot
    }

    public func routing(to slot: ProxySlot) -> Upstream { .routing(settings.upstreamName, to: slot.address) }

    public func apply(_ upstream: Upstream) async throws(OpsError) -> ProxyChange { try await apply(text: upstream.render()) }

    public func apply(_ front: ProxyFront) async throws(OpsError) -> ProxyChange { try await apply(text: front.render()) }

    /// Writes `text`, runs `check`, then `reload`. When either fails the previous file is put
    /// back (and nothing is reloaded): nginx keeps serving what it served.
    public func apply(text: String) async throws(OpsError) -> ProxyChange {
        let previous = try currentText()
        try AtomicFile.write(text, to: path)
        var change = ProxyChange(previousText: previous, text: text)
        do {
            try await run(checkRequest, code: "proxy.check_failed", kind: .checkFailed, what: "the proxy refused the new upstream file")
            change.retiredWorkers = activity.runningWorkers()
            try await run(reloadRequest, code: "proxy.reload_failed", kind: .unavailable, what: "the proxy did not reload")
        } catch {
            try putBack(previous)
            throw OpsError(error.kind, code: error.code, error.message + "; \(path) was put back as it was", details: error.details)
        }
        return change
    }

    /// `text` in place of one of opsctl's front files: first `text` with the front's port kept as a
    /// pass-through (`ProxyFront.bridge`), then, once `whenRetired` returns (the workers that
    /// reload retired are gone), `text` alone. The change returned is the second one, with the
    /// file as it was before the first as its previous text.
    public func apply(text: String, leavingFront whenRetired: (ProxyChange) async -> Void) async throws(OpsError) -> ProxyChange {
        guard let current = try currentText(), let front = ProxyFront.listenAddress(in: current),
              ProxyFront.listenAddress(in: text) != front else { return try await apply(text: text) }
        let bridged = try await apply(text: text + ProxyFront.bridge(listen: front, to: settings.upstreamName))
        await whenRetired(bridged)
        var change = try await apply(text: text)
        change.previousText = bridged.previousText
        return change
    }

    /// Undoes `change`: the previous file again, checked and reloaded. Returns that change in
    /// turn (the workers this reload retired are the ones still routing as `change` did).
    @discardableResult
    public func revert(_ change: ProxyChange) async throws(OpsError) -> ProxyChange {
        try putBack(change.previousText)
        try await run(checkRequest, code: "proxy.check_failed", kind: .checkFailed, what: "the proxy refused the previous upstream file")
        let retired = activity.runningWorkers()
        try await run(reloadRequest, code: "proxy.reload_failed", kind: .unavailable, what: "the proxy did not reload")
        return ProxyChange(previousText: change.text, text: change.previousText ?? "", retiredWorkers: retired)
    }

    func putBack(_ text: String?) throws(OpsError) {
        if let text {
            try AtomicFile.write(text, to: path)
        } else if unlink(path) != 0, errno != ENOENT {
            throw OpsError(.io, code: "proxy.restore_failed", "\(path): cannot remove the new upstream file: \(String(cString: strerror(errno)))")
        }
    }

    /// nginx's own words on failure (`nginx -t` names the file and line).
    func run(_ request: ProcessRequest, code: String, kind: OpsError.Kind, what: String) async throws(OpsError) {
        let result = try await runner.run(request)
        guard result.succeeded else {
            let said = result.standardErrorTail.split(separator: "\n").map { redactor.scrub(String($0)) }.filter { !$0.isEmpty }
            let key = said.first { $0.contains("[emerg]") || $0.contains("[alert]") || $0.contains("[error]") } ?? said.last ?? result.failureSummary
            throw OpsError(kind, code: code, "\(what): \(request.displayCommand): \(key)", details: Array(said.suffix(8)))
        }
    }

    /// The dry run's lines: the file it would write and every argv, in order.
    public func plan(_ upstream: Upstream) -> [String] { plan(text: upstream.render()) }

    public func plan(text: String) -> [String] {
        ["write \(path) (temp file, fsync, rename):"] + text.split(separator: "\n").map { "    | \($0)" }
            + [checkRequest.displayCommand + "   # on failure: put the previous file back, reload nothing", reloadRequest.displayCommand]
    }
}
