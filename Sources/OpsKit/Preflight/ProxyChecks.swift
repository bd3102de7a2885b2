// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `proxy.*`: can opsctl switch this blue/green or canary environment? The upstream file it
/// rewrites, the two slots' ports, nginx's own config test, and for canary the access log.
extension PreflightService {
    func proxyChecks(wanted: (PreflightCheckID) -> Bool) async -> [PreflightCheck] {
        guard environment.strategy.needsProxy, let settings = environment.proxy else { return [] }
        let proxy = NginxProxy(settings: settings, runner: context.runner, redactor: config.redactor)
        var checks: [PreflightCheck] = []
        if wanted(.proxyUpstreamFile) { checks.append(upstreamFile(proxy)) }
        if wanted(.proxySlots) { checks += await slots(settings) }
        if wanted(.proxyCheck) { checks.append(await nginxTest(proxy)) }
        if environment.strategy == .canary, wanted(.proxyAccessLog) { checks.append(accessLog(settings)) }
        return checks
    }

    /// canary: the log the new release is judged from is readable and in the opsctl_canary format.
    func accessLog(_ settings: ProxySettings) -> PreflightCheck {
        let path = settings.accessLog ?? ""
        do {
            switch try CanaryReadiness.check(path) {
            case .ready(let lines):
                return PreflightCheck(id: .proxyAccessLog, status: .pass, summary: "\(path): its last \(lines) line(s) are in the opsctl_canary format")
            case .empty:
                return PreflightCheck(id: .proxyAccessLog, status: .warn, summary: "\(path) is empty: its format is checked as the first requests arrive",
                                      fix: "send a request through nginx and run preflight again")
            }
        } catch {
            return PreflightCheck(id: .proxyAccessLog, status: .fail, summary: error.message,
                                  fix: "add to nginx's http block: \(AccessLogLine.format) and access_log \(path) opsctl_canary; then reload nginx")
        }
    }

    func upstreamFile(_ proxy: NginxProxy) -> PreflightCheck {
        let settings = proxy.settings
        if let problem = ProxyReadiness.upstreamFileProblem(settings) {
            return PreflightCheck(id: .proxyUpstreamFile, status: .fail, summary: problem,
                                  fix: "create the directory, or point proxy.upstream_file at a writable place your nginx config includes")
        }
        let text: String?
        do { text = try proxy.currentText() } catch {
            return PreflightCheck(id: .proxyUpstreamFile, status: .fail, summary: error.message, fix: "make it readable by the user running opsctl")
        }
        if let problem = ProxyReadiness.upstreamContentProblem(settings, text: text) {
            return PreflightCheck(id: .proxyUpstreamFile, status: .fail, summary: problem,
                                  fix: "give opsctl a file of its own holding only `upstream \(settings.upstreamName) { server \(settings.slots[0].address); }`")
        }
        let live = (try? proxy.liveSlot()).flatMap { $0 }
        return PreflightCheck(id: .proxyUpstreamFile, status: .pass,
                              summary: "\(settings.upstreamFile) is writable; it routes to " + (live.map { "\($0.name) (\($0.address))" } ?? "neither slot yet"))
    }

    /// Each slot's port is free, or held by a release of this app on that slot.
    func slots(_ settings: ProxySettings) async -> [PreflightCheck] {
        let ours = (try? await DeployMode.resolve(config: config, environment: environment, context: context).driver.releases()) ?? []
        return settings.slots.map { slot in
            if let release = ours.first(where: { $0.slot == slot.name && $0.running }) {
                return PreflightCheck(id: .proxySlots, status: .pass, summary: "\(slot.name) \(slot.address): \(release.version) runs there")
            }
            guard SlotPort.isFree(slot) else {
                return PreflightCheck(id: .proxySlots, status: .fail, summary: "\(slot.name) \(slot.address) is taken by something that is not a release of \(config.app)",
                                      fix: "ss -ltnp 'sport = :\(slot.port)' shows what; free the port or change proxy.slots.\(slot.name)")
            }
            return PreflightCheck(id: .proxySlots, status: .pass, summary: "\(slot.name) \(slot.address) is free")
        }
    }

    func nginxTest(_ proxy: NginxProxy) async -> PreflightCheck {
        let request = proxy.checkRequest
        do {
            let result = try await context.runner.run(request)
            guard result.succeeded else {
                let said = result.standardErrorTail.split(separator: "\n").map { config.redactor.scrub(String($0)) }
                return PreflightCheck(id: .proxyCheck, status: .fail, summary: "\(request.displayCommand): " + (said.first { $0.contains("[emerg]") } ?? result.failureSummary),
                                      fix: "fix the nginx config: a switch runs this check first and stops when it fails")
            }
            return PreflightCheck(id: .proxyCheck, status: .pass, summary: "\(request.displayCommand) passes")
        } catch {
            return PreflightCheck(id: .proxyCheck, status: .fail, summary: error.message, fix: "install nginx, or set proxy.check to the argv that tests your proxy's config")
        }
    }
}
