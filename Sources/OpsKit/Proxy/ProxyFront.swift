// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// An upstream file that puts a small nginx server of opsctl's in front of the app: the
/// upstream your `proxy_pass` names routes to it (a loopback port nginx itself listens on), and
/// it answers the maintenance page, holds requests at a gate, or splits users by cookie. Your
/// nginx config stays as it is: the file is the same include, rewritten whole, checked and
/// reloaded like any switch. The servers it stands in front of are kept in the file as their
/// own upstream blocks, so the file still says where the app is.
public struct ProxyFront: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        /// Every request gets the maintenance page.
        case maintenance(MaintenancePage)
        /// Every request waits at opsctl's gate (`auth_request`), then goes to the app; the gate
        /// refusing, timing out or gone means the maintenance page.
        case hold(gate: String, bound: OpsDuration, page: MaintenancePage)
        /// A canary step by user: a cookie names each one, `share` % of them (by hash) go to the
        /// new release, the others to the old servers; a user without the cookie gets one.
        case sticky(StickySplit)
    }

    public struct StickySplit: Sendable, Equatable {
        public var old: [Upstream.Server]
        public var new: String
        public var share: Int
        public var cookie: String
        /// Per deploy, so each canary draws its own users.
        public var salt: String
        /// Where the front logs the releases' answers for the canary's judge.
        public var accessLog: String
    }

    /// The upstream's name, as `proxy_pass http://<name>;` names it.
    public var name: String
    /// The loopback address nginx listens on for the front server.
    public var listen: String
    public var mode: Mode
    /// The servers the front stands in front of (maintenance, hold).
    public var app: [Upstream.Server]
    /// Sent back by every answer opsctl's front makes itself, so a confirmation knows it is this file's.
    public var token: String
    /// The variable carrying the Connection header for WebSocket upgrades (a bridge names its own).
    var connectionVariable: String?

    public init(name: String, listen: String, mode: Mode, app: [Upstream.Server], token: String) {
        self.name = name
        self.listen = listen
        self.mode = mode
        self.app = app
        self.token = token
    }

    static let marker = "# opsctl-front: "

    /// A loopback port below the ephemeral range that nothing listens on now, for the front
    /// server (nginx binds it at the reload; a port taken meanwhile fails the confirmation).
    public static func freeLoopbackAddress() -> String {
        for _ in 0..<200 {
            let port = Int.random(in: 20_000...32_000)
            if SlotPort.isFree(ProxySlot(name: "front", host: "127.0.0.1", port: port)) { return "127.0.0.1:\(port)" }
        }
        return "127.0.0.1:\(Int.random(in: 20_000...32_000))"
    }

    /// 16 hex digits: a draw's salt, a confirmation's token.
    public static func randomToken() -> String {
        (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
    var id: String { NginxText.identifier(name) }
    var appUpstream: String { "\(name).opsctl-app" }

    public var kind: String {
        switch mode {
        case .maintenance: "maintenance"
        case .hold: "hold"
        case .sticky(let split): "sticky \(split.share)"
        }
    }

    /// What nginx effectively routes to behind the front: the app's servers, or the canary's weights.
    public var routed: Upstream {
        switch mode {
        case .maintenance, .hold: Upstream(name: name, servers: app)
        case .sticky(let split): CanaryUpstream.step(name, old: split.old, new: split.new, share: split.share)
        }
    }

    // MARK: - the text

    public func render() -> String {
        var lines = header()
        lines += block(name, [Upstream.Server(address: listen)])
        switch mode {
        case .maintenance(let page):
            lines += block(appUpstream, app) + server(maintenance: page)
        case .hold(let gate, let bound, let page):
            lines += block(appUpstream, app) + connectionMap() + server(hold: gate, bound: bound, page: page)
        case .sticky(let split):
            lines += block("\(name).opsctl-old", split.old.map { Upstream.Server(address: $0.address) })
                + block("\(name).opsctl-new", [Upstream.Server(address: split.new)]) + connectionMap() + server(sticky: split)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func header() -> [String] {
        let what: String = switch mode {
        case .maintenance: "maintenance: every request gets the maintenance page (opsctl maintenance ENV off puts back the upstream it replaced)"
        case .hold: "pause: requests wait at opsctl's gate, then go to the app (opsctl maintenance ENV resume)"
        case .sticky: "canary step by user: a cookie keeps each user on one release"
        }
        return ["# Written by opsctl, \(what).", "# By hand only when opsctl is unavailable: runbooks/deploy-and-rollback.md.", Self.marker + kind]
    }

    func block(_ upstream: String, _ servers: [Upstream.Server]) -> [String] {
        ["upstream \(upstream) {"] + servers.map { "    " + $0.directive } + ["}"]
    }

    /// WebSocket upgrades pass through the front as they would straight to the app.
    func connectionMap() -> [String] {
        ["map $http_upgrade $opsctl_\(id)_connection { default upgrade; '' close; }"]
    }

    /// How the front passes a request on: untouched (the outer server already set its headers),
    /// unbuffered, with the outer server's timeouts deciding.
    func passOn(to upstream: String) -> [String] {
        ["        proxy_pass http://\(upstream);",
         "        proxy_set_header Host $http_host;",
         "        proxy_http_version 1.1;",
         "        proxy_set_header Upgrade $http_upgrade;",
         "        proxy_set_header Connection \(connectionVariable ?? "$opsctl_\(id)_connection");",
         "        proxy_request_buffering off;",
         "        proxy_buffering off;",
         "        proxy_read_timeout 1h;",
         "        proxy_send_timeout 1h;"]
    }

    func serverOpening(accessLog: String) -> [String] {
        ["server {", "    listen \(listen);", "    access_log \(accessLog);", "    client_max_body_size 0;"]
    }

    func server(maintenance page: MaintenancePage) -> [String] {
        serverOpening(accessLog: "off") + ["    location / {", "        rewrite ^ /.opsctl/maintenance last;", "    }"] + pageLocations(page) + ["}"]
    }

    func server(hold gate: String, bound: OpsDuration, page: MaintenancePage) -> [String] {
        // Past the gate's own bound nginx stops waiting for it too: a second of slack for the
        // gate's answer to arrive, then the page.
        let wait = OpsDuration(milliseconds: bound.milliseconds + 1000)
        return serverOpening(accessLog: "off") + [
            "    error_page 401 403 500 502 503 504 = /.opsctl/maintenance;",
            "    location / {",
            "        auth_request /.opsctl/hold;",
            "        auth_request_set $opsctl_\(id)_gate $upstream_http_x_opsctl_gate;",
            "        add_header X-Opsctl-Gate $opsctl_\(id)_gate always;",
        ] + passOn(to: appUpstream) + [
            "    }",
            "    location = /.opsctl/hold {",
            "        internal;",
            "        proxy_pass http://\(gate)/hold;",
            "        proxy_pass_request_body off;",
            "        proxy_set_header Content-Length \"\";",
            "        proxy_connect_timeout 5s;",
            "        proxy_read_timeout \(wait.milliseconds)ms;",
            "    }",
        ] + pageLocations(page) + ["}"]
    }

    /// The page, as HTML or as JSON for `Accept: application/json`, always 503 with Retry-After.
    func pageLocations(_ page: MaintenancePage) -> [String] {
        func answer(_ suffix: String, type: String, body: String) -> [String] {
            ["    location = /.opsctl/maintenance.\(suffix) {",
             "        internal;",
             "        default_type \(type);",
             "        charset utf-8;",
             "        add_header Retry-After \(page.retryAfterSeconds) always;",
             "        add_header Cache-Control no-store always;",
             "        add_header X-Opsctl-Maintenance \(token) always;",
             "        return 503 \(NginxText.quoted(body));",
             "    }"]
        }
        return ["    location = /.opsctl/maintenance {",
                "        internal;",
                "        if ($http_accept ~* \"application/json\") { rewrite ^ /.opsctl/maintenance.json last; }",
                "        rewrite ^ /.opsctl/maintenance.html last;",
                "    }"]
            + answer("html", type: "text/html", body: page.html) + answer("json", type: "application/json", body: page.json)
    }

    func server(sticky split: StickySplit) -> [String] {
        let cookie = split.cookie
        let visitor = "$opsctl_\(id)_visitor", release = "$opsctl_\(id)_release", setCookie = "$opsctl_\(id)_set_cookie"
        return [
            // No cookie yet: this request's id names the user from now on, and is sent back as the cookie.
            "map $cookie_\(cookie) \(visitor) { \"\" $request_id; default $cookie_\(cookie); }",
            "split_clients \"\(split.salt)${opsctl_\(id)_visitor}\" \(release) { \(split.share)% new; * old; }",
            "map $cookie_\(cookie) \(setCookie) { \"\" \"\(cookie)=${opsctl_\(id)_visitor}; Path=/; HttpOnly; SameSite=Lax\"; default \"\"; }",
            "log_format opsctl_\(id)_canary '$upstream_addr $status $request_time $request_uri';",
        ] + serverOpening(accessLog: "\(NginxText.path(split.accessLog)) opsctl_\(id)_canary") + [
            "    location / {",
            "        add_header Set-Cookie \(setCookie) always;",
        ] + passOn(to: "\(name).opsctl-\(release)") + ["    }", "}"]
    }

    // MARK: - leaving it

    /// The front's port kept open, passing every request on to `upstream` (what the file now
    /// routes to): the workers a reload retires may still send a request they accepted to the
    /// front's port, and with the port gone nginx would answer it 502.
    public static func bridge(listen: String, to upstream: String) -> String {
        let variable = "$opsctl_\(NginxText.identifier(upstream))_bridge_connection"
        var front = ProxyFront(name: upstream, listen: listen, mode: .maintenance(MaintenancePage()), app: [], token: "")
        front.connectionVariable = variable
        return (["# opsctl: \(listen) kept until nginx's workers from before the last reload are gone",
                 "map $http_upgrade \(variable) { default upgrade; '' close; }"]
            + front.serverOpening(accessLog: "off") + ["    location / {"] + front.passOn(to: upstream) + ["    }", "}"]).joined(separator: "\n") + "\n"
    }

    /// The address the front in `text` listens on, when `text` is one of opsctl's front files.
    public static func listenAddress(in text: String) -> String? {
        guard text.split(separator: "\n").contains(where: { $0.hasPrefix(marker) }) else { return nil }
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("listen "), trimmed.hasSuffix(";") else { continue }
            return String(trimmed.dropFirst(7).dropLast()).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    // MARK: - reading it back

    /// What a file opsctl wrote routes to behind its front, and the front's kind; nil when the
    /// text is not a front file (a plain upstream block, or someone else's file).
    public static func routed(_ text: String, name: String) -> (kind: String, upstream: Upstream)? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(marker) }) else { return nil }
        let kind = String(line.dropFirst(marker.count)).trimmingCharacters(in: .whitespaces)
        if kind.hasPrefix("sticky "), let share = Int(kind.dropFirst(7)),
           let old = Upstream.parse(text, name: "\(name).opsctl-old"), let new = Upstream.parse(text, name: "\(name).opsctl-new")?.servers.first {
            return (kind, CanaryUpstream.step(name, old: old.servers, new: new.address, share: share))
        }
        guard let app = Upstream.parse(text, name: "\(name).opsctl-app") else { return nil }
        return (kind, Upstream(name: name, servers: app.servers))
    }
}
