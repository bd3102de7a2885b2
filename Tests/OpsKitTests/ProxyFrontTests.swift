// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

struct MaintenancePageTests {
    @Test func everyCharacterOfTheMessageIsEscapedForItsFormatAndForNginx() throws {
        let page = MaintenancePage(message: "Back at 10:00 — $HOME \"<b>\" it's \\ done\nline two", retryAfter: .seconds(90))
        #expect(page.retryAfterSeconds == 90)
        #expect(page.html.contains("Back at 10:00 — &#36;HOME &quot;&lt;b&gt;&quot; it&#39;s \\ done<br>line two"), "\(page.html)")
        #expect(page.html.contains("Please try again in 2 minutes."))
        #expect(!page.html.contains("$") && !page.json.contains("$"), "nginx would read a variable")
        let decoded = try JSONSerialization.jsonObject(with: Data(page.json.utf8)) as? [String: Any]
        #expect(decoded?["message"] as? String == page.message, "the JSON carries the message exactly")
        #expect(decoded?["status"] as? String == "maintenance" && decoded?["retry_after"] as? Int == 90)
        // What nginx reads back from the quoted string is the text itself.
        let quoted = NginxText.quoted(page.json)
        #expect(quoted.hasPrefix("'") && quoted.hasSuffix("'") && !quoted.dropFirst().dropLast().contains("'") || quoted.contains("\\'"))
        #expect(Self.unquote(quoted) == page.json)
    }

    @Test func badMessagesAreUsageErrors() {
        #expect(opsError { () throws(OpsError) in try MaintenancePage(message: "  ").validate() }?.code == "maintenance.message_empty")
        #expect(opsError { () throws(OpsError) in try MaintenancePage(message: String(repeating: "x", count: 501)).validate() }?.code == "maintenance.message_too_long")
        #expect(opsError { () throws(OpsError) in try MaintenancePage(message: nil, retryAfter: .seconds(0)).validate() }?.code == "maintenance.retry_after")
        // The longest message escapes to a token nginx still reads whole.
        let worst = MaintenancePage(message: String(repeating: "$", count: 500))
        #expect(NginxText.quoted(worst.json).utf8.count < NginxText.longestToken && NginxText.quoted(worst.html).utf8.count < NginxText.longestToken)
    }

    /// nginx's reading of a single-quoted string: `\\` → `\`, `\'` → `'`.
    static func unquote(_ token: String) -> String {
        var result = ""
        var escaped = false
        for character in token.dropFirst().dropLast() {
            if escaped { result.append(character == "\\" || character == "'" || character == "\"" ? character : "?"); escaped = false }
            else if character == "\\" { escaped = true }
            else { result.append(character) }
        }
        return result
    }
}

struct ProxyFrontTests {
    let directory = TemporaryDirectory("opsctl-front")
    let app = [Upstream.Server(address: "127.0.0.1:3002")]

    func front(_ mode: ProxyFront.Mode) -> ProxyFront {
        ProxyFront(name: "dash-board.1", listen: "127.0.0.1:25001", mode: mode, app: app, token: "0123456789abcdef")
    }

    @Test func maintenanceAnswersThePageAndKeepsWhereTheAppIs() {
        let text = front(.maintenance(MaintenancePage(message: "soon"))).render()
        #expect(text.contains("upstream dash-board.1 {\n    server 127.0.0.1:25001;\n}"), "proxy_pass keeps its upstream name: the front")
        #expect(text.contains("upstream dash-board.1.opsctl-app {\n    server 127.0.0.1:3002;\n}"))
        #expect(text.contains("listen 127.0.0.1:25001;") && text.contains("rewrite ^ /.opsctl/maintenance last;"))
        #expect(text.contains("add_header Retry-After 120 always;") && text.contains("return 503 '<!doctype html>"))
        #expect(text.contains("if ($http_accept ~* \"application/json\") { rewrite ^ /.opsctl/maintenance.json last; }"))
        #expect(text.contains("add_header X-Opsctl-Maintenance 0123456789abcdef always;"))
        let read = ProxyFront.routed(text, name: "dash-board.1")
        #expect(read?.kind == "maintenance" && read?.upstream.servers == app)
        #expect(Upstream.parse(text, name: "dash-board.1")?.servers.first?.address == "127.0.0.1:25001")
    }

    @Test func holdAsksTheGateAndMapsItsRefusalToThePage() {
        let text = front(.hold(gate: "127.0.0.1:26001", bound: .seconds(30), page: MaintenancePage())).render()
        #expect(text.contains("auth_request /.opsctl/hold;") && text.contains("proxy_pass http://127.0.0.1:26001/hold;"))
        #expect(text.contains("proxy_read_timeout 31000ms;"), "nginx gives up on the gate a second after its bound")
        #expect(text.contains("error_page 401 403 500 502 503 504 = /.opsctl/maintenance;"))
        #expect(text.contains("proxy_pass http://dash-board.1.opsctl-app;") && text.contains("proxy_set_header Host $http_host;"))
        #expect(text.contains("map $http_upgrade $opsctl_dash_board_1_connection"), "variables named after the upstream, nginx-safe")
        #expect(text.contains("auth_request_set $opsctl_dash_board_1_gate $upstream_http_x_opsctl_gate;"))
        #expect(ProxyFront.routed(text, name: "dash-board.1")?.kind == "hold")
    }

    @Test func stickySplitsUsersByTheCookieAndLogsTheReleasesAnswers() {
        let split = ProxyFront.StickySplit(old: [Upstream.Server(address: "127.0.0.1:3001")], new: "127.0.0.1:3002", share: 10, cookie: "opsctl_release",
                                           salt: "5a17", accessLog: "/var/log/nginx/canary log.log")
        let text = front(.sticky(split)).render()
        #expect(text.contains("map $cookie_opsctl_release $opsctl_dash_board_1_visitor { \"\" $request_id; default $cookie_opsctl_release; }"))
        #expect(text.contains("split_clients \"5a17${opsctl_dash_board_1_visitor}\" $opsctl_dash_board_1_release { 10% new; * old; }"))
        #expect(text.contains("\"opsctl_release=${opsctl_dash_board_1_visitor}; Path=/; HttpOnly; SameSite=Lax\""))
        #expect(text.contains("access_log '/var/log/nginx/canary log.log' opsctl_dash_board_1_canary;"))
        #expect(text.contains("proxy_pass http://dash-board.1.opsctl-$opsctl_dash_board_1_release;"))
        let read = ProxyFront.routed(text, name: "dash-board.1")
        #expect(read?.kind == "sticky 10")
        #expect(read?.upstream.servers == [Upstream.Server(address: "127.0.0.1:3001", weight: 90), Upstream.Server(address: "127.0.0.1:3002", weight: 10)],
                "the file still reads as the step's weights: the heavier one is live")
        #expect(ProxyFront.routed(Upstream.routing("dash-board.1", to: "127.0.0.1:3001").render(), name: "dash-board.1") == nil)
    }

    /// Every front as nginx itself reads it: Debian's nginx, `nginx -t` on a config that includes it.
    @Test func nginxAcceptsEveryFront() async throws {
        let split = ProxyFront.StickySplit(old: [Upstream.Server(address: "127.0.0.1:3001")], new: "127.0.0.1:3002", share: 30, cookie: "who",
                                           salt: "ab", accessLog: directory.file("canary.log"))
        let fronts = [front(.maintenance(MaintenancePage(message: "It's $5 \\ \"x\" {;} 'y'\nz"))),
                      front(.hold(gate: "127.0.0.1:26001", bound: .seconds(30), page: MaintenancePage(message: String(repeating: "$'\\", count: 160)))),
                      front(.sticky(split))]
        // Leaving a front: the plain upstream (or the next front) with the old front's port kept as a bridge.
        let leaving = [Upstream(name: "dash-board.1", servers: [Upstream.Server(address: "127.0.0.1:3001")]).render(),
                       front(.sticky(split)).render()].map { $0 + ProxyFront.bridge(listen: "127.0.0.1:26002", to: "dash-board.1") }
        for (index, text) in (fronts.map { $0.render() } + leaving).enumerated() {
            try directory.write("upstream.conf", text)
            try directory.write("nginx.conf", """
                pid \(directory.file("nginx.pid"));
                error_log \(directory.file("error.log"));
                events {}
                http { include \(directory.file("upstream.conf")); server { listen 127.0.0.1:25999; location / { proxy_pass http://dash-board.1; } } }
                """)
            let output = try await SubprocessRunner().run(ProcessRequest("nginx", ["-t", "-p", directory.path, "-c", directory.file("nginx.conf"), "-e", directory.file("error.log")]))
            #expect(output.succeeded, "front \(index): \(output.standardErrorTail)")
        }
    }
}
