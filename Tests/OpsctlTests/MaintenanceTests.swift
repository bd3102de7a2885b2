// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// Maintenance and pauses through a real nginx, under users arriving ~100/s on fresh
/// connections: what they get is a 503 with Retry-After or a wait, never a connection error.
@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct MaintenanceTests {
    /// Far above any hold a loaded machine adds to a bound: only a request held without end fails it.
    static let margin = 20.0

    static let database = "database: {path: data/app.db}\n    backup: {dir: backups}"

    func now() -> Double { Date().timeIntervalSince1970 }

    /// nginx's own words, for a failure's message.
    func errors(_ fixture: BlueGreenFixture) -> String {
        let log = (try? String(contentsOfFile: fixture.nginx.directory + "/error.log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").filter { $0.contains("[error]") || $0.contains("[alert]") || $0.contains("[crit]") }.suffix(6).joined(separator: "\n")
    }

    func get(_ url: String, accept: String? = nil) -> HTTPResponse? {
        var request = HTTPRequest(url: url)
        if let accept { request.headers = [("Accept", accept)] }
        guard case .success(let response) = CurlHTTP.perform(request) else { return nil }
        return response
    }

    @Test func maintenanceAnswers503WithRetryAfterThenOffPutsBackTheExactUpstream() async throws {
        let fixture = try await BlueGreenFixture()
        let opsctl = fixture.opsctl
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let before = try fixture.upstream()
        let load = try await fixture.arrivals()

        let on = try await opsctl.run("maintenance", "production", "on", "--message", "Back at 10:00, $5 off", "--retry-after", "90s", "--json")
        let onReturned = now()
        #expect(on.exitCode == 0, "\(on.stdout)\(on.stderr)")
        #expect(try on.json()["state"] as? String == "on")
        let page = try #require(get(fixture.nginx.url + "/any/path"))
        #expect(page.status == 503 && page.header("Retry-After") == "90" && page.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(String(decoding: page.body, as: UTF8.self).contains("Back at 10:00, &#36;5 off"))
        let json = try #require(get(fixture.nginx.url + "/api/items", accept: "application/json"))
        let body = try #require(try JSONSerialization.jsonObject(with: json.body) as? [String: Any])
        #expect(json.status == 503 && json.header("Content-Type") == "application/json" && body["message"] as? String == "Back at 10:00, $5 off")

        let status = try await opsctl.run("status", "production")
        #expect(status.stdout.contains("maintenance:     ON since"), "\(status.stdout)")
        #expect(status.stdout.contains("health now:      ok"), "the app itself is fine: \(status.stdout)")
        let handoff = try await opsctl.run("handoff", "production", "--since", "1h", "--format", "json")
        let handoffReport = try handoff.json()
        #expect(handoffReport["verdict"] as? String == "Warning", "\(handoff.stdout.prefix(600))")
        #expect((handoffReport["findings"] as? [[String: Any]])?.contains { $0["rule"] as? String == "maintenance.on" } == true)
        #expect(try fixture.directory.read("metrics/opsctl_production.prom").contains("opsctl_maintenance{env=\"production\"} 1"))
        try await load.waitForRequests(30, after: onReturned)

        let offStarted = now()
        let off = try await opsctl.run("maintenance", "production", "off", "--json")
        let offReturned = now()
        #expect(off.exitCode == 0, "\(off.stdout)\(off.stderr)")
        #expect(try fixture.upstream() == before, "the upstream it replaced, byte for byte")
        try await load.waitForRequests(30, after: offReturned)
        let summary = try await load.finish()

        let requests = try LoadRequest.read(load.requestLog)
        let unexpected = requests.filter { !$0.ok && $0.status != 503 }.prefix(5)
            .map { String(format: "started %+.2f s after on returned, off %.2f-%.2f, %.0f ms, status %d", $0.start - onReturned, offStarted - onReturned,
                          offReturned - onReturned, $0.ms, $0.status ?? 0) }
        #expect(Set(summary.failures.keys).isSubset(of: ["HTTP 503"]), "no connection error, ever: \(summary.failures)\n\(unexpected)\n\(errors(fixture))")
        #expect(requests.filter { !$0.ok }.allSatisfy { $0.status == 503 && $0.retryAfter == "90" }, "every 503 says when to come back")
        let during = requests.filter { $0.start > onReturned && $0.end < offStarted }
        #expect(during.count >= 30 && during.allSatisfy { $0.status == 503 }, "\(during.count) requests during maintenance")
        let after = requests.filter { $0.start > offReturned }
        #expect(after.count >= 30 && after.allSatisfy { $0.ok && $0.version == "1.0.0" }, "then the app")
        let record = try #require(try fixture.base.ledger.maintenances(env: "production", from: Date(timeIntervalSince1970: 0), to: Date()).last)
        #expect(record.endReason == "off" && record.replacedUpstream == before && record.message == "Back at 10:00, $5 off" && record.retryAfterSeconds == 90)
        #expect(try fixture.directory.read("metrics/opsctl_production.prom").contains("opsctl_maintenance{env=\"production\"} 0"))
        try await setUp("sh", ["-c", "promtool check metrics < \"$1\"", "sh", fixture.directory.path + "/metrics/opsctl_production.prom"])
    }

    @Test func aRefusedConfigChangesNothingAndAMaintenanceBlocksDeploys() async throws {
        let fixture = try await BlueGreenFixture()
        let opsctl = fixture.opsctl
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let before = try fixture.upstream()
        let config = try String(contentsOfFile: fixture.nginx.directory + "/nginx.conf", encoding: .utf8)
        try fixture.nginx.config(extra: "bogus_directive on;").write(toFile: fixture.nginx.directory + "/nginx.conf", atomically: true, encoding: .utf8)
        let refused = try await opsctl.run("maintenance", "production", "on", "--json")
        #expect(refused.exitCode == 1, "\(refused.stdout)")
        let error = try #require(try refused.json()["error"] as? [String: Any])
        #expect(error["code"] as? String == "proxy.check_failed" && (error["message"] as? String)?.contains("unknown directive \"bogus_directive\"") == true)
        #expect((error["message"] as? String)?.contains("nothing was changed for users") == true)
        #expect(try fixture.upstream() == before && fixture.serving() == "1.0.0")
        #expect(try fixture.base.ledger.activeMaintenance(env: "production") == nil)
        try config.write(toFile: fixture.nginx.directory + "/nginx.conf", atomically: true, encoding: .utf8)

        #expect(try await opsctl.run("maintenance", "production", "pause", "2m").exitCode == 0)
        let deploy = try await opsctl.run("deploy", "production", "1.0.1", "--json")
        let deployError = try deploy.json()["error"] as? [String: Any]
        #expect(deploy.exitCode == 1 && deployError?["code"] as? String == "deploy.maintenance", "\(deploy.stdout)")
        let on = try await opsctl.run("maintenance", "production", "on", "--json")
        let onError = try on.json()["error"] as? [String: Any]
        #expect(on.exitCode == 1 && onError?["code"] as? String == "maintenance.paused")
        let resumed = try await opsctl.run("maintenance", "production", "resume", "--json")
        #expect(resumed.exitCode == 0, "\(resumed.stdout)\(resumed.stderr)")
        #expect(try fixture.upstream() == before && fixture.serving() == "1.0.0")
        let again = try await opsctl.run("maintenance", "production", "off", "--json")
        let changed = try again.json()["changed"] as? Bool
        #expect(again.exitCode == 0 && changed == false, "off when off: nothing to do")
    }

    @Test func aRestoreWithPauseFailsNoRequest() async throws {
        let fixture = try await BlueGreenFixture(extra: Self.database)
        let opsctl = fixture.opsctl
        try FileManager.default.createDirectory(atPath: fixture.directory.file("data"), withIntermediateDirectories: true)
        let database = try SQLiteDatabase(path: fixture.directory.file("data/app.db"), mode: .readWriteCreate)
        try database.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY); INSERT INTO sessions DEFAULT VALUES;")
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        #expect(try await opsctl.run("backup", "production").exitCode == 0)
        #expect(try await opsctl.run("verify", "production", "--latest").exitCode == 0)
        try database.execute("INSERT INTO sessions DEFAULT VALUES;")
        let load = try await fixture.arrivals()

        let restore = try await opsctl.run("restore", "production", "--pause", "30s", "--json")
        let returned = now()
        #expect(restore.exitCode == 0, "\(restore.stdout)\(restore.stderr)")
        try await load.waitForRequests(30, after: returned)
        let summary = try await load.finish()
        #expect(summary.failed == 0, "a paused restore fails no request: \(summary.failures)\n\(errors(fixture))")
        let requests = try LoadRequest.read(load.requestLog)
        #expect(requests.allSatisfy { $0.ms < (30 + Self.margin) * 1000 }, "no request held past the bound: \(requests.map(\.ms).max() ?? 0) ms")

        let pause = try #require(try restore.json()["pause"] as? [String: Any])
        let gate = try #require(pause["gate"] as? [String: Any])
        #expect(pause["healthy"] as? Bool == true && (gate["held"] as? Int ?? 0) > 0 && gate["refused"] as? Int == 0, "\(pause)")
        #expect(gate["released"] as? Int == gate["held"] as? Int)
        #expect((pause["stopped"] as? [String])?.count == 1 && (pause["started"] as? String)?.hasSuffix("1.0.0-green") == true)
        #expect(try SQLiteDatabase(path: fixture.directory.file("data/app.db"), mode: .readOnly).query("SELECT COUNT(*) FROM sessions").first?.int(0) == 1)
        let record = try #require(try fixture.base.ledger.maintenances(env: "production", from: Date(timeIntervalSince1970: 0), to: Date()).last)
        #expect(record.source == .restore && record.endReason == "resumed" && !GateProcess.isRunning(record.gatePid ?? 0, token: record.token))
        let running = try await fixture.running()
        #expect(fixture.serving() == "1.0.0" && running == ["1.0.0@green"])
    }

    /// What a vacuum must keep: every row of both tables (count and sum of ids), read and closed
    /// again (an open connection of the test's would be a process holding the file).
    func contents(_ path: String) throws -> [SQLiteValue] {
        let database = try SQLiteDatabase(path: path, mode: .readOnly)
        return try database.query("SELECT (SELECT COUNT(*) FROM sessions), (SELECT SUM(id) FROM sessions), (SELECT COUNT(*) FROM attachments), (SELECT SUM(id) FROM attachments)").first?.values ?? []
    }

    func pragma(_ path: String, _ name: String) throws -> String? {
        let database = try SQLiteDatabase(path: path, mode: .readOnly)
        return try database.query("PRAGMA \(name)").first.map { $0.string(0) ?? $0.int(0).map(String.init) ?? "" }
    }

    /// `opsctl db ENV vacuum` behind the proxy, with no flag: the swap pauses like `restore
    /// --pause`. A worker holding the file first: the app is started again at once, users let
    /// through, nothing swapped. Then without it: the vacuumed copy goes in while users wait.
    @Test func aVacuumSwapsItsCopyInWhileUsersWaitAndAWorkerHoldingTheFileIsRefused() async throws {
        let fixture = try await BlueGreenFixture(extra: Self.database)
        let opsctl = fixture.opsctl
        let path = fixture.directory.file("data/app.db")
        try FileManager.default.createDirectory(atPath: fixture.directory.file("data"), withIntermediateDirectories: true)
        try await shell("python3", [Opsctl.repositoryRoot + "/Tests/Fixtures/db/generate.py", path, "4"])
        try SQLiteDatabase(path: path).execute("DELETE FROM attachments WHERE id % 2 = 0; DELETE FROM sessions WHERE id % 3 = 0")
        let before = try contents(path)
        let freelist = try #require(try pragma(path, "freelist_count").flatMap { Int($0) })
        #expect(freelist > 100, "free pages to give back: \(freelist)")
        var info = stat()
        #expect(stat(path, &info) == 0)
        let inode = info.st_ino
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let load = try await fixture.arrivals()

        let worker = try LockHolder(database: path, statements: "SELECT COUNT(*) FROM sessions")
        let refused = try await opsctl.run("db", "production", "vacuum", "--json")
        worker.stop()
        #expect(refused.exitCode == 1, "\(refused.stdout)\(refused.stderr)")
        let error = try #require(try refused.json()["error"] as? [String: Any])
        #expect(error["code"] as? String == "database.in_use", "\(error)")
        #expect((error["message"] as? String)?.contains("pid \(worker.pid)") == true, "\(error)")
        #expect((error["message"] as? String)?.hasSuffix("the app runs again on the old database, users were let through") == true, "\(error)")
        #expect(stat(path, &info) == 0 && info.st_ino == inode, "nothing was swapped")
        let restarted = try await fixture.running()
        #expect(restarted == ["1.0.0@green"], "started again at once")
        let refusedAt = now()
        try await load.waitForRequests(30, after: refusedAt)

        let vacuum = try await opsctl.run("db", "production", "vacuum", "--json")
        let returned = now()
        #expect(vacuum.exitCode == 0, "\(vacuum.stdout)\(vacuum.stderr)")
        try await load.waitForRequests(30, after: returned)
        let summary = try await load.finish()
        let requests = try LoadRequest.read(load.requestLog)
        let report = try vacuum.json()
        let pause = try #require(report["pause"] as? [String: Any], "\(report)")
        let gate = try #require(pause["gate"] as? [String: Any])
        // Only past the bound may a user get anything but the app, and then only the maintenance page.
        if (gate["refused"] as? Int ?? 0) == 0 {
            #expect(summary.failed == 0, "a paused vacuum fails no request: \(summary.failures)\n\(errors(fixture))")
        }
        #expect(Set(summary.failures.keys).isSubset(of: ["HTTP 503"]), "never a connection error: \(summary.failures)\n\(errors(fixture))")
        #expect(requests.filter { !$0.ok }.allSatisfy { $0.retryAfter == "120" }, "a 503 is the maintenance page")
        #expect(requests.allSatisfy { $0.ms < (30 + Self.margin) * 1000 }, "no request held past the bound: \(requests.map(\.ms).max() ?? 0) ms")
        #expect(pause["healthy"] as? Bool == true && (gate["held"] as? Int ?? 0) > 0, "users were held, then let through: \(pause)")
        #expect(gate["released"] as? Int == gate["held"] as? Int)
        #expect((pause["stopped"] as? [String])?.count == 1 && (pause["started"] as? String)?.hasSuffix("1.0.0-green") == true, "\(pause)")
        #expect((pause["bound"] as? String) == "30s", "the default bound behind a proxy")

        #expect(report["method"] as? String == "swap" && report["freelist_after"] as? Int == 0, "\(report)")
        #expect(stat(path, &info) == 0 && info.st_ino != inode, "the vacuumed copy is in place")
        #expect(try pragma(path, "freelist_count") == "0")
        #expect(try pragma(path, "integrity_check") == "ok" && pragma(path, "journal_mode") == "wal")
        #expect(try contents(path) == before, "every row kept")
        let safety = try #require(report["safety_copy"] as? String)
        #expect(safety.hasSuffix(".pre-vacuum.db.gz") && FileManager.default.fileExists(atPath: safety))
        try await shell("gzip", ["-t", safety])

        let records = try fixture.base.ledger.maintenances(env: "production", from: Date(timeIntervalSince1970: 0), to: Date())
        #expect(records.count == 2 && records.allSatisfy { $0.source == .vacuum && $0.endReason == "resumed" }, "\(records)")
        #expect(records.allSatisfy { !GateProcess.isRunning($0.gatePid ?? 0, token: $0.token) })
        #expect(try fixture.base.ledger.activeMaintenance(env: "production") == nil)
        let running = try await fixture.running()
        #expect(fixture.serving() == "1.0.0" && running == ["1.0.0@green"])
    }

    @Test func pastTheBoundHeldRequestsGetTheMaintenancePageNeverAConnectionError() async throws {
        let fixture = try await BlueGreenFixture()
        let opsctl = fixture.opsctl
        #expect(try await opsctl.run("deploy", "production", "1.0.0").exitCode == 0)
        let load = try await fixture.arrivals()
        // Long enough that users are held for some of it however slow the reload and the confirmation are.
        let pause = try await opsctl.run("maintenance", "production", "pause", "10s", "--json")
        #expect(pause.exitCode == 0, "\(pause.stdout)\(pause.stderr)")
        let report = try pause.json()
        let holdUntil = try #require(CanaryTests.date(report["hold_until"]) ?? ISO8601DateFormatter().date(from: report["hold_until"] as? String ?? "")).timeIntervalSince1970
        let gatePid = try #require(report["gate_pid"] as? Int)
        // Users who came after the bound: the page at once, until the resume.
        try await fixture.base.eventually("requests after the bound to get the page") {
            ((try? LoadRequest.read(load.liveLog)) ?? []).filter { $0.start > holdUntil && $0.status == 503 }.count >= 30
        }
        try await fixture.base.eventually("the gate to end at its bound") { kill(pid_t(gatePid), 0) != 0 }
        let status = try await opsctl.run("status", "production")
        #expect(status.stdout.contains("bound passed at"), "\(status.stdout)")
        let resume = try await opsctl.run("maintenance", "production", "resume", "--json")
        let resumed = now()
        #expect(resume.exitCode == 0, "\(resume.stdout)\(resume.stderr)")
        try await load.waitForRequests(30, after: resumed)
        let summary = try await load.finish()

        let requests = try LoadRequest.read(load.requestLog)
        #expect(Set(summary.failures.keys).isSubset(of: ["HTTP 503"]), "the page, never a connection error: \(summary.failures)\n\(errors(fixture))")
        #expect(requests.filter { !$0.ok }.allSatisfy { $0.retryAfter == "120" })
        #expect(requests.allSatisfy { $0.ms < (10 + Self.margin) * 1000 }, "held at most the bound: \(requests.map(\.ms).max() ?? 0) ms")
        #expect(requests.contains { $0.start < holdUntil && $0.end >= holdUntil - 0.5 && $0.status == 503 }, "held until the bound, then the page")
        #expect(requests.filter { $0.start > resumed }.allSatisfy { $0.ok && $0.version == "1.0.0" })
    }
}
