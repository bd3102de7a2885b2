// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl maintenance ENV on|off|pause|resume`, and the pause around `opsctl restore --pause`.
/// Everything goes through the upstream file nginx includes, as a switch does: the file is
/// rewritten with opsctl's front (`ProxyFront`), checked, reloaded and confirmed through
/// `proxy.url`; nginx refusing it leaves the previous file in place. The exact text it
/// replaced is in the ledger first, and `off`/`resume` put back exactly that.
public struct MaintenanceService: Sendable {
    public let config: OpsConfig
    public let environment: EnvironmentConfig
    public let context: OpsContext
    let proxy: NginxProxy
    let driver: any SlotReleaseDriver
    public var clock: any WaitClock = SystemWaitClock()
    public var activity: any SlotActivityProbe = KernelSlotActivity()
    public var probe: @Sendable (HealthSettings) async -> HealthProbe = HealthWaiter.httpProbe
    /// `restore` when `opsctl restore --pause` holds users (the ledger and status say so).
    public var source: MaintenanceRecord.Source = .maintenance

    /// Answers in a row a confirmation needs (nginx's old workers answer the old way for a moment).
    static let confirmations = 3

    public init(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext, mode: DeployMode) throws(OpsError) {
        guard let (driver, proxy) = mode.slots else { throw Self.noProxy(environment) }
        self.config = config
        self.environment = environment
        self.context = context
        self.proxy = proxy
        self.driver = driver
    }

    static func noProxy(_ environment: EnvironmentConfig) -> OpsError {
        OpsError(.config, code: "maintenance.no_proxy",
                 "environments.\(environment.name): maintenance and pauses work through the proxy: they need strategy blue-green or canary and a proxy: section",
                 details: ["runbooks/verify-and-restore.md has the set-up"])
    }

    /// The shortest bound a pause accepts (`maintenance pause`, `restore --pause`, `db vacuum --pause`).
    static func requireBound(_ bound: OpsDuration) throws(OpsError) {
        guard bound.milliseconds < 1000 else { return }
        throw OpsError(.usage, code: "maintenance.pause_bound", "the pause bound must be at least 1s")
    }

    var settings: ProxySettings { proxy.settings }
    var env: String { environment.name }
    var files: GateProcess.Files { GateProcess.Files(state: config.state, env: env) }

    func report(_ action: MaintenanceAction, _ state: MaintenanceState, changed: Bool) -> MaintenanceReport {
        MaintenanceReport(env: env, action: action, state: state, changed: changed, upstreamFile: settings.upstreamFile)
    }

    /// The deploy lock: a maintenance never interleaves with a deploy, a rollback or another maintenance.
    func locked<T>(_ what: String, _ body: (Ledger) async throws(OpsError) -> T) async throws(OpsError) -> T {
        let ledger = try context.ledger(config.state)
        let lock = try FileLock.acquire(path: DeployLock.path(config: config, environment: environment), what: "a deploy, rollback or maintenance of \(env)",
                                        command: "maintenance \(env) \(what)", now: context.now)
        defer { lock.release() }
        return try await body(ledger)
    }

    // MARK: - on

    public func on(page: MaintenancePage) async throws(OpsError) -> MaintenanceReport {
        try page.validate()
        let started = ContinuousClock.now
        return try await locked("on") { ledger throws(OpsError) in
            var report = report(.on, .on, changed: true)
            report.message = page.message
            report.retryAfterSeconds = page.retryAfterSeconds
            if let active = try ledger.activeMaintenance(env: env) {
                guard active.state == .on else {
                    throw OpsError(.checkFailed, code: "maintenance.paused", "\(env) is paused (since \(TextFormat.timestamp(active.startedAt))): resume it, or end it with off, first")
                }
                try await replacePage(active, page: page, ledger: ledger, report: &report)
            } else {
                let (replaced, routed) = try takeOver()
                let token = ProxyFront.randomToken()
                let id = try ledger.beginMaintenance(env: env, state: .on, source: source, page: page, upstreamFile: settings.upstreamFile, replaced: replaced,
                                                     token: token, holdUntil: nil, gatePid: nil, gateAddress: nil, actor: context.actor, at: context.now())
                let front = ProxyFront(name: settings.upstreamName, listen: ProxyFront.freeLoopbackAddress(), mode: .maintenance(page), app: routed.servers, token: token)
                report.upstream = try await switchOrUndo(to: front, id: id, ledger: ledger) { () async -> String? in await confirmPage(token) }.text
                report.steps.append("\(settings.upstreamFile): opsctl's front answers the page; checked, reloaded")
            }
            report.since = context.now()
            report.confirmation = "the page through \(settings.url)"
            writeMetrics(ledger)
            report.durationMs = (ContinuousClock.now - started).milliseconds
            return report
        }
    }

    /// Maintenance already on: a new page in the same front (the text it replaced stays the one recorded).
    func replacePage(_ active: MaintenanceRecord, page: MaintenancePage, ledger: Ledger, report: inout MaintenanceReport) async throws(OpsError) {
        guard let routed = try proxy.current() else { throw fileChanged(active) }
        let token = ProxyFront.randomToken()
        let front = ProxyFront(name: settings.upstreamName, listen: ProxyFront.freeLoopbackAddress(), mode: .maintenance(page), app: routed.servers, token: token)
        let change = try await proxy.apply(front)
        if let problem = await confirmPage(token) {
            try? await proxy.revert(change)
            throw OpsError(.unavailable, code: "maintenance.not_confirmed", "nginx did not show the new page: \(problem); the previous page stays")
        }
        try ledger.updateMaintenancePage(id: active.id, page: page, token: token)
        report.upstream = change.text
        report.steps.append("maintenance was already on (since \(TextFormat.timestamp(active.startedAt))): the page changed")
    }

    /// The upstream file as it is (the exact text to put back later) and where it routes.
    /// Refused when opsctl could not put it back: no file, or no upstream block of ours.
    func takeOver() throws(OpsError) -> (String, Upstream) {
        if let problem = ProxyReadiness.upstreamFileProblem(settings) {
            throw OpsError(.config, code: "proxy.upstream_file", "\(problem); nothing was changed")
        }
        guard let text = try proxy.currentText(), let routed = NginxProxy.routing(in: text, name: settings.upstreamName), !routed.liveAddresses.isEmpty else {
            throw OpsError(.config, code: "maintenance.no_upstream",
                           "\(settings.upstreamFile) routes nowhere yet (no `upstream \(settings.upstreamName) { server …; }`): deploy first; nothing was changed")
        }
        return (text, routed)
    }

    /// Writes `front`, checks, reloads, confirms with `confirm` (nil: confirmed). Any failure puts
    /// the previous file back, ends the ledger row `id` and throws: nothing changed for users.
    func switchOrUndo(to front: ProxyFront, id: Int64, ledger: Ledger, confirm: () async -> String?) async throws(OpsError) -> ProxyChange {
        let change: ProxyChange
        do {
            change = try await proxy.apply(front)
        } catch {
            try? ledger.endMaintenance(id: id, reason: "nginx refused the file: \(error.message)", at: context.now())
            throw OpsError(error.kind, code: error.code, "\(error.message); nothing was changed for users", details: error.details)
        }
        if let problem = await confirm() {
            let undone = (try? await proxy.revert(change)) != nil
            try? ledger.endMaintenance(id: id, reason: "not confirmed: \(problem)", at: context.now())
            throw OpsError(.unavailable, code: "maintenance.not_confirmed",
                           "nginx did not show the change through \(settings.url) within \(settings.confirmTimeout): \(problem); "
                           + (undone ? "\(settings.upstreamFile) was put back as it was" : "putting \(settings.upstreamFile) back failed too: check it by hand"),
                           details: ["nginx's error log says why a reload did not take (a port taken, a directive refused)"])
        }
        return change
    }

    // MARK: - pause

    /// Holds every new request in nginx (at most `bound`), then waits for those already on their
    /// way to the app to finish: when it returns, the app can be stopped without failing anyone.
    public func pause(bound: OpsDuration, page: MaintenancePage) async throws(OpsError) -> MaintenanceReport {
        try page.validate()
        try Self.requireBound(bound)
        let started = ContinuousClock.now
        return try await locked("pause") { ledger throws(OpsError) in
            if let active = try ledger.activeMaintenance(env: env) {
                throw OpsError(.checkFailed, code: "maintenance.active", "maintenance is \(active.state.rawValue) on \(env) since \(TextFormat.timestamp(active.startedAt)): end it first (opsctl maintenance \(env) \(active.state == .paused ? "resume" : "off"))")
            }
            let (replaced, routed) = try takeOver()
            let token = ProxyFront.randomToken()
            let holdUntil = context.now().addingTimeInterval(bound.seconds)
            let host = settings.slot(at: routed.liveAddresses[0])?.host ?? settings.slots[0].host
            let gate = try GateProcess.spawn(host: host, token: token, holdUntil: holdUntil, files: files)
            let id: Int64
            do throws(OpsError) {
                id = try ledger.beginMaintenance(env: env, state: .paused, source: source, page: page, upstreamFile: settings.upstreamFile, replaced: replaced,
                                                 token: token, holdUntil: holdUntil, gatePid: gate.pid, gateAddress: gate.address, actor: context.actor, at: context.now())
            } catch {
                GateProcess.stop(gate.pid, token: token)
                throw error
            }
            let front = ProxyFront(name: settings.upstreamName, listen: ProxyFront.freeLoopbackAddress(), mode: .hold(gate: gate.address, bound: bound, page: page),
                                   app: routed.servers, token: token)
            var report = report(.pause, .paused, changed: true)
            (report.message, report.retryAfterSeconds, report.holdUntil) = (page.message, page.retryAfterSeconds, holdUntil)
            (report.gatePid, report.gateAddress, report.since) = (gate.pid, gate.address, context.now())
            let change: ProxyChange
            do throws(OpsError) {
                change = try await switchOrUndo(to: front, id: id, ledger: ledger) { () async -> String? in await confirmGate(token) }
            } catch {
                GateProcess.stop(gate.pid, token: token)
                throw error
            }
            report.upstream = change.text
            report.steps.append("gate: pid \(gate.pid) at \(gate.address), holds until \(TextFormat.timestamp(holdUntil))")
            report.steps.append("\(settings.upstreamFile): opsctl's front asks the gate about every request; checked, reloaded, confirmed")
            // Requests nginx's old workers passed on before the reload finish now.
            let drain = ReleaseDrain(settings: settings, clock: clock, probe: activity)
            report.drain = await drain.wait(for: routed.liveAddresses, after: change)
            report.steps.append("requests already on their way to the app: \(report.drain!.detail)")
            if report.drain?.ending == .timedOut { report.warnings.append("the app still had requests in flight: \(report.drain!.detail)") }
            report.confirmation = "opsctl's probe through \(settings.url) reached the gate"
            writeMetrics(ledger)
            report.durationMs = (ContinuousClock.now - started).milliseconds
            return report
        }
    }

    // MARK: - off, resume

    /// Ends maintenance: the upstream file it replaced, exactly, once the app answers healthy
    /// at its address. A pause ends as `resume` does.
    public func off(force: Bool = false) async throws(OpsError) -> MaintenanceReport {
        try await end(.off, force: force)
    }

    /// Ends a pause: once the app answers healthy at its address, the gate lets every held
    /// request through and the upstream file goes back to what it was.
    public func resume(force: Bool = false) async throws(OpsError) -> MaintenanceReport {
        try await end(.resume, force: force)
    }

    func end(_ action: MaintenanceAction, force: Bool) async throws(OpsError) -> MaintenanceReport {
        let started = ContinuousClock.now
        return try await locked(action.rawValue) { ledger throws(OpsError) in
            guard let active = try ledger.activeMaintenance(env: env) else {
                if try proxy.currentFront().map({ $0 == "maintenance" || $0 == "hold" }) == true {
                    throw OpsError(.checkFailed, code: "maintenance.no_record",
                                   "\(settings.upstreamFile) holds opsctl's maintenance front, but the ledger (\(config.state)) records no maintenance of \(env): the text to put back is unknown",
                                   details: ["put back the upstream block by hand (runbooks/verify-and-restore.md), or redeploy"])
                }
                return report(action, .off, changed: false)
            }
            if action == .resume, active.state != .paused {
                throw OpsError(.checkFailed, code: "maintenance.not_paused", "\(env) is not paused but in maintenance: end it with opsctl maintenance \(env) off")
            }
            let text = try proxy.currentText()
            guard force || text?.contains(active.token) == true else { throw fileChanged(active) }
            var report = report(action, .off, changed: true)
            report.since = active.startedAt
            try await requireHealthyApp(active, report: &report)
            if active.state == .paused, let pid = active.gatePid {
                let released = GateProcess.release(pid, token: active.token)
                report.steps.append(released ? "gate: every held request goes on to the app" : "gate: already gone (the bound passed at \(active.holdUntil.map(TextFormat.timestamp) ?? "?")): nothing was held")
            }
            let change = try await putBack(active, report: &report)
            try ledger.endMaintenance(id: active.id, reason: action == .off ? "off" : "resumed", at: context.now())
            if active.state == .paused, let pid = active.gatePid { await retireGate(pid, token: active.token, after: change, report: &report) }
            report.lastedMs = Int(context.now().timeIntervalSince(active.startedAt) * 1000)
            writeMetrics(ledger)
            report.durationMs = (ContinuousClock.now - started).milliseconds
            return report
        }
    }

    func fileChanged(_ active: MaintenanceRecord) -> OpsError {
        OpsError(.checkFailed, code: "maintenance.file_changed",
                 "\(settings.upstreamFile) no longer holds the front opsctl wrote at \(TextFormat.timestamp(active.startedAt)) (changed by hand, or by another tool); nothing was changed",
                 details: ["--force puts back the upstream it replaced anyway (the ledger keeps it: maintenance #\(active.id))"])
    }

    /// The app must answer at its address before users are sent back to it.
    func requireHealthyApp(_ active: MaintenanceRecord, report: inout MaintenanceReport) async throws(OpsError) {
        guard let health = environment.health else { return }
        let addresses = NginxProxy.routing(in: active.replacedUpstream, name: settings.upstreamName)?.liveAddresses ?? []
        for address in addresses {
            var direct = health
            direct.url = ProxyRoute.url(health.url, through: "\(URLComponents(string: health.url)?.scheme ?? "http")://\(address)")
            let waited = await HealthWaiter(settings: direct, clock: clock, probe: probe).wait()
            guard waited.healthy else {
                throw OpsError(.checkFailed, code: "maintenance.app_unhealthy",
                               "the app at \(address) is not healthy (\(waited.last?.reason ?? "no answer") after \(health.timeout)): users stay where they are (\(active.state == .paused ? "held, then the maintenance page" : "the maintenance page")); nothing was changed")
            }
            report.steps.append("the app at \(address): healthy")
        }
    }

    /// The exact text the maintenance replaced, checked, reloaded, confirmed through the proxy;
    /// through a bridge, so a request an old worker still sends to the front's port is passed on.
    func putBack(_ active: MaintenanceRecord, report: inout MaintenanceReport) async throws(OpsError) -> ProxyChange {
        let change = try await proxy.apply(text: active.replacedUpstream) { bridged in
            _ = await ReleaseDrain.untilRetiredWorkersAreGone(after: bridged, settings: settings, clock: clock, probe: activity)
        }
        report.upstream = change.text
        report.steps.append("\(settings.upstreamFile): the upstream it replaced, byte for byte; checked, reloaded")
        if let problem = await confirmApp() {
            report.warnings.append("the app did not answer healthy through \(settings.url) afterwards: \(problem)")
        } else {
            report.confirmation = "the app healthy through \(settings.url)"
        }
        return change
    }

    /// The gate answers until nginx's workers from before the reload are gone (they may still
    /// ask about requests they accepted), then stops; its tally goes in the report.
    func retireGate(_ pid: pid_t, token: String, after change: ProxyChange, report: inout MaintenanceReport) async {
        _ = await ReleaseDrain.untilRetiredWorkersAreGone(after: change, settings: settings, clock: clock, probe: activity)
        GateProcess.stop(pid, token: token)
        for _ in 0..<50 where GateProcess.isRunning(pid, token: token) { await clock.sleep(for: .milliseconds(20)) }
        report.gate = GateProcess.tally(files)
    }

    // MARK: - confirmation through the proxy

    /// nil once 3 answers in a row came from opsctl's front with this token's page.
    func confirmPage(_ token: String) async -> String? {
        await confirm(headers: []) { $0.status == 503 && $0.header("X-Opsctl-Maintenance") == token }
    }

    /// nil once 3 probes in a row reached the gate (it echoes the token through nginx), or this
    /// front's page answered them (the app was already down: the front is live all the same).
    func confirmGate(_ token: String) async -> String? {
        await confirm(headers: [("X-Opsctl-Probe", token)]) { $0.header("X-Opsctl-Gate") == token || $0.header("X-Opsctl-Maintenance") == token }
    }

    /// nil once health passes through the proxy 3 times in a row.
    func confirmApp() async -> String? {
        guard let health = environment.health else { return nil }
        let routed = ProxyRoute.health(health, through: settings)
        let deadline = clock.now() + settings.confirmTimeout.swiftDuration
        var inARow = 0
        var last = "no answer"
        while clock.now() < deadline {
            let probe = await probe(routed)
            if probe.ok { inARow += 1 } else { inARow = 0; last = probe.reason ?? "no answer" }
            if inARow >= Self.confirmations { return nil }
            if !probe.ok { await clock.sleep(for: .milliseconds(100)) }
        }
        return last
    }

    func confirm(headers: [(String, String)], _ accepted: (HTTPResponse) -> Bool) async -> String? {
        var request = HTTPRequest(url: ProxyRoute.url(environment.health?.url ?? settings.url + "/", through: settings.url))
        request.headers = headers + [("Accept", "text/html")]
        request.timeout = .seconds(5)
        request.followRedirects = false
        let deadline = clock.now() + settings.confirmTimeout.swiftDuration
        var inARow = 0
        var last = "no answer"
        while clock.now() < deadline {
            switch await CurlHTTP.perform([request], concurrency: 1).first {
            case .success(let response)? where accepted(response):
                inARow += 1
                if inARow >= Self.confirmations { return nil }
                continue
            case .success(let response)?: last = "HTTP \(response.status) without opsctl's mark (the previous routing still answers)"
            case .failure(let failure)?: last = failure.reason
            case nil: break
            }
            inARow = 0
            await clock.sleep(for: .milliseconds(100))
        }
        return last
    }

    // MARK: - metrics

    func writeMetrics(_ ledger: Ledger) {
        guard let directory = environment.metrics?.textfileDir else { return }
        let active = try? ledger.activeMaintenance(env: env)
        do { try MetricsFile.update(directory: directory, env: env, samples: MaintenanceMetrics.samples(env: env, active: active)) } catch {
            context.logger.warning("could not write metrics: \(error.message)")
        }
    }
}

/// `opsctl_maintenance{env}` 1 while users get the page or wait, and since when.
enum MaintenanceMetrics {
    static func samples(env: String, active: MaintenanceRecord?) -> [MetricSample] {
        [MetricSample("opsctl_maintenance", "1 while the environment is in maintenance or paused (users get the maintenance page or wait in nginx).",
                      labels: [("env", env)], active == nil ? 0 : 1),
         MetricSample("opsctl_maintenance_paused", "1 while requests are held at the pause gate.", labels: [("env", env)], active?.state == .paused ? 1 : 0),
         MetricSample("opsctl_maintenance_since_timestamp_seconds", "When the current maintenance or pause began (0: none).",
                      labels: [("env", env)], active.map { $0.startedAt.timeIntervalSince1970.rounded() } ?? 0)]
    }
}
