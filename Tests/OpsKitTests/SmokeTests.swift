// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// Smoke checks parsed from real YAML, run over libcurl against the local test server.
@Suite(.serialized)
struct SmokeTests {
    let server: TestHTTPServer
    let directory = TemporaryDirectory("opsctl-smoke")
    init() throws { server = try TestHTTPServer() }

    /// `checks` is the YAML list under smoke.checks (indented 8 spaces).
    func settings(_ checks: String, extra: String = "", environment: [String: String] = [:]) throws -> SmokeSettings {
        let yaml = """
            app: dashboard
            image: dashboard
            environments:
              production:
                smoke:
                  base_url: \(server.url(""))
            \(extra)
                  checks:
            \(checks)
            """
        let config = try ConfigLoader.parse(yaml, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: environment)
        return try #require(try config.environment(named: "production").smoke)
    }

    func run(_ settings: SmokeSettings, mode: SmokeMode = .strict) async -> [String: SmokeCheckResult] {
        let report = await SmokeRunner(settings: settings).run(mode: mode)
        return Dictionary(uniqueKeysWithValues: report.checks.map { ($0.name, $0) })
    }

    @Test func theRunbookChecksPassAgainstAHealthyServer() async throws {
        let report = await SmokeRunner(settings: .runbookDefaults(baseURL: server.url(""))).run()
        #expect(report.checks.map(\.name) == ["health", "login rejects a bad password", "security headers"])
        #expect(report.failed == 0, "\(report.checks.compactMap(\.reason))")
        #expect(report.checks[1].status == 401)
        #expect(report.exitCode == 0)
    }

    @Test func everyKindOfAssertionPassesAndFailsWithItsReason() async throws {
        let results = await run(try settings("""
                    - {name: status list, path: /status/403, expect: {status: [401, 403]}}
                    - {name: wrong status, path: /status/500, expect: {status: 200}}
                    - {name: header equal, path: /headers, expect: {headers: {X-Version: 1.4.2}}}
                    - {name: header differs, path: /headers, expect: {headers: {X-Version: 2.0.0}}}
                    - {name: header regex, path: /headers, expect: {headers: {X-Version: "~^1\\\\.4\\\\."}}}
                    - {name: header regex fails, path: /headers, expect: {headers: {Cache-Control: "~max-age"}}}
                    - {name: header present, path: /headers, expect: {headers: {Cache-Control: "*"}}}
                    - {name: header absent, path: /headers, expect: {headers: {Set-Cookie: "!"}}}
                    - {name: header not absent, path: /headers, expect: {headers: {X-Version: "!"}}}
                    - {name: header missing, path: /plain, expect: {headers: {X-Content-Type-Options: nosniff}}}
                    - {name: json, path: /health, expect: {json: {status: healthy, db.ok: true}}}
                    - {name: json differs, path: /health, expect: {json: {version: 2.0.0}}}
                    - {name: json path missing, path: /health, expect: {json: {db.replica.lag: 0}}}
                    - {name: not json, path: /json-broken, expect: {json: {status: healthy}}}
                    - {name: body contains, path: /health, expect: {body_contains: healthy}}
                    - {name: body lacks, path: /health, expect: {body_contains: degraded}}
                    - {name: body regex, path: /health, expect: {body_regex: '"version":"1\\.[0-9]+'}}
                    - {name: body regex fails, path: /health, expect: {body_regex: '^<html'}}
                    - {name: too slow, path: /slow/300, expect: {max_ms: 100}}
                    - {name: phase limit, path: /slow/300, expect: {phases: {connect: 1000, ttfb: 100}}}
                    - {name: fast enough, path: /health, expect: {max_ms: 60000, phases: {dns: 60000, connect: 60000, ttfb: 60000}}}
            """))
        let passing = ["status list", "header equal", "header regex", "header present", "header absent", "json", "body contains",
                       "body regex", "fast enough"]
        for name in passing { #expect(results[name]?.passed == true, "\(name): \(results[name]?.reason ?? "missing")") }
        let reasons: [String: String] = [
            "wrong status": #"HTTP 500, expected 200: {"status":"error"}"#,
            "header differs": #"header X-Version is "1.4.2", expected "2.0.0""#,
            "header regex fails": #"header Cache-Control is "no-store", expected to match /max-age/"#,
            "header not absent": "header X-Version present, expected absent",
            "header missing": "header X-Content-Type-Options missing (expected nosniff)",
            "json differs": #"JSON version is "1.0.0", expected "2.0.0""#,
            "json path missing": "JSON path db.replica.lag does not exist",
            "not json": "body is not JSON",
            "body lacks": #"body does not contain "degraded""#,
            "body regex fails": "body does not match /^<html/",
        ]
        for (name, reason) in reasons {
            #expect(results[name]?.passed == false)
            #expect(results[name]?.reason == reason, "\(name)")
        }
        // The server sleeps 300 ms: at least that, however busy the machine.
        #expect(results["too slow"]?.reason?.hasSuffix("ms, limit 100 ms") == true)
        #expect(Self.milliseconds(after: "took ", in: results["too slow"]?.reason) ?? 0 >= 300, "\(results["too slow"]?.reason ?? "")")
        #expect(Self.milliseconds(after: "ttfb at ", in: results["phase limit"]?.reason) ?? 0 >= 300, "\(results["phase limit"]?.reason ?? "")")
    }

    /// The number in `… took 312 ms …` after `prefix`, when the reason starts with it.
    static func milliseconds(after prefix: String, in reason: String?) -> Int? {
        guard let reason, reason.hasPrefix(prefix) else { return nil }
        return Int(reason.dropFirst(prefix.count).prefix { $0.isNumber })
    }

    @Test func faultsAreFailedChecksWithPreciseReasonsNeverHangs() async throws {
        let longLabel = String(repeating: "a", count: 64)
        let results = await run(try settings("""
                    - {name: refused, path: "http://127.0.0.1:1/health"}
                    - {name: dns, path: "http://\(longLabel).invalid/health"}
                    - {name: hang, path: /hang, timeout: 800ms}
                    - {name: slow body, path: /slow-body/3000, timeout: 800ms}
                    - {name: server error, path: /status/500}
                    - {name: redirect loop, path: /redirect-loop}
                    - {name: redirect followed, path: /redirect, expect: {json: {status: healthy}}}
                    - {name: huge body, path: /big/30000000, expect: {body_contains: "y"}}
            """))
        #expect(results["refused"]?.reason?.hasPrefix("connection refused") == true)
        // A 64-character label cannot be put in a DNS query: the resolver fails without sending one.
        #expect(results["dns"]?.reason?.hasPrefix("DNS lookup failed") == true, "\(results["dns"]?.reason ?? "")")
        #expect(results["hang"]?.reason?.hasPrefix("timed out after 800ms") == true)
        #expect(results["slow body"]?.reason?.hasPrefix("timed out after 800ms") == true)
        #expect(results["server error"]?.reason?.hasPrefix("HTTP 500, expected 200") == true)
        #expect(results["redirect loop"]?.reason == "too many redirects (more than 5)")
        #expect(results["redirect followed"]?.passed == true)
        #expect(results["huge body"]?.status == 200)
        #expect(results["huge body"]?.reason == #"body does not contain "y" (in the first 1048576 bytes)"#)
        for result in results.values { #expect(result.attempts == 1) }
    }

    @Test func convergeRetriesFailuresUntilTheyPassStrictTriesOnce() async throws {
        let key = UUID().uuidString
        let checks = """
                    - {name: warming up, path: /eventually/\(key)/3, expect: {json: {status: healthy}}}
                    - {name: steady, path: /health}
            """
        let strict = await run(try settings(checks))
        #expect(strict["warming up"]?.passed == false && strict["warming up"]?.attempts == 1)
        #expect(strict["warming up"]?.reason?.hasPrefix("HTTP 503, expected 200") == true)

        let converged = await run(try settings(checks), mode: .converge(budget: .seconds(10), interval: OpsDuration(milliseconds: 100)))
        // The strict run used one of the three 503s; two more, then it passes.
        #expect(converged["warming up"]?.passed == true)
        #expect(converged["warming up"]?.attempts == 3)
        #expect(converged["steady"]?.attempts == 1, "a passing check is not run again")

        let budgetSpent = await run(try settings("""
                    - {name: never, path: /status/503}
            """), mode: .converge(budget: .seconds(5), interval: OpsDuration(milliseconds: 500)))
        #expect(budgetSpent["never"]?.passed == false)
        // Retried (a 503 answers in milliseconds, far inside the budget even on a busy machine),
        // and stopped at the budget: at most one try per interval.
        #expect((2...11).contains(budgetSpent["never"]?.attempts ?? 0), "\(budgetSpent["never"]?.attempts ?? 0) attempts in 5 s at 500 ms")
    }

    @Test func connectToReachesAProductionNameWithoutDNS() async throws {
        let results = await run(try settings("""
                    - {name: by name, path: "http://dashboard.example.com:\(server.port)/health", expect: {json: {status: healthy}}}
            """, extra: "      connect_to: [\"dashboard.example.com:\(server.port):127.0.0.1:\(server.port)\"]"))
        #expect(results["by name"]?.passed == true, "\(results["by name"]?.reason ?? "")")
    }

    @Test func secretsInHeadersNeverReachTheReasons() async throws {
        let settings = try settings("""
                    - name: echo
                      path: /echo
                      headers: {Authorization: "Bearer ${API_TOKEN}", X-Api-Token: "${API_TOKEN}"}
                      expect: {status: 500, headers: {X-Api-Token: "${API_TOKEN}"}}
            """, environment: ["API_TOKEN": "tok-1234567890-secret"])
        let context = OpsContext(runner: SubprocessRunner())
        let redactor = Redactor(secretValues: ["tok-1234567890-secret"])
        let report = try await SmokeService.run(settings, to: .init(), redactor: redactor, context: context)
        let reason = try #require(report.checks.first?.reason)
        #expect(reason.contains("HTTP 200, expected 500"), "the server echoed the request: the excerpt is where a secret could leak")
        #expect(reason.contains("header X-Api-Token missing (expected <redacted>)"))
        let everything = ReportEncoder.json(report: report) + report.renderText() + report.junitXML()
        #expect(!everything.contains("tok-1234567890-secret"))
        #expect(!everything.contains("1234567890"))
    }

    @Test func badSmokeConfigNamesTheKey() throws {
        func message(_ checks: String, extra: String = "") -> String? {
            do { _ = try settings(checks, extra: extra); return nil } catch { return (error as? OpsError)?.message }
        }
        #expect(message("        - {name: r, path: /, expect: {body_regex: '(unclosed'}}")?.contains("is not a valid regular expression") == true)
        #expect(message("        - {name: r, path: /, expect: {phases: {ttbf: 100}}}")?.contains("did you mean \"ttfb\"") == true)
        #expect(message("        - {name: r, path: /}", extra: "      connect_to: [\"a:1:b\"]")?.contains("is not HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT") == true)
    }

    @Test func junitOutputValidatesAgainstTheSchema() async throws {
        let report = await SmokeRunner(settings: try settings("""
                    - {name: "health <ok> & \\"quoted\\"", path: /health}
                    - {name: broken, path: /status/500}
            """)).run()
        let file = directory.path + "/smoke.xml"
        try report.junitXML().write(toFile: file, atomically: true, encoding: .utf8)
        let schema = repositoryRoot + "/Tests/Fixtures/junit/junit-10.xsd"
        try await setUp("xmllint", ["--noout", "--schema", schema, file])   // throws unless it validates
        let xml = try String(contentsOfFile: file, encoding: .utf8)
        // The validator does catch a broken document: the same without a required attribute.
        try xml.replacingOccurrences(of: #" errors="0" skipped"#, with: " skipped").write(toFile: file + ".bad", atomically: true, encoding: .utf8)
        await #expect(throws: OpsError.self) { try await setUp("xmllint", ["--noout", "--schema", schema, file + ".bad"]) }
        #expect(xml.contains(#"tests="2" failures="1""#))
        #expect(xml.contains(#"<failure type="SmokeCheckFailed" message="HTTP 500, expected 200"#))
    }
}

/// TLS against certificates made with the openssl CLI: a private CA, a leaf it signed, an
/// expired leaf, and a self-signed one.
@Suite(.serialized)
struct SmokeTLSTests {
    let directory = TemporaryDirectory("opsctl-tls")

    func openssl(_ arguments: [String]) async throws {
        try await setUp("openssl", arguments)
    }

    /// Returns (certificate, key) paths; `days` negative makes an already expired certificate.
    func makeCertificates() async throws -> (ca: String, valid: String, expired: String, selfSigned: String, key: String) {
        let d = directory.path
        try await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(d)/ca.key", "-out", "\(d)/ca.pem", "-days", "30", "-subj", "/CN=opsctl test CA"])
        try await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(d)/server.key", "-out", "\(d)/server.csr", "-subj", "/CN=127.0.0.1"])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: "\(d)/ext.cnf", atomically: true, encoding: .utf8)
        for (name, days) in [("valid", "10"), ("expired", "-1")] {
            try await openssl(["x509", "-req", "-in", "\(d)/server.csr", "-CA", "\(d)/ca.pem", "-CAkey", "\(d)/ca.key", "-CAcreateserial",
                               "-days", days, "-extfile", "\(d)/ext.cnf", "-out", "\(d)/\(name).pem"])
        }
        try await openssl(["req", "-x509", "-key", "\(d)/server.key", "-out", "\(d)/self.pem", "-days", "10", "-subj", "/CN=127.0.0.1",
                           "-addext", "subjectAltName=IP:127.0.0.1"])
        return ("\(d)/ca.pem", "\(d)/valid.pem", "\(d)/expired.pem", "\(d)/self.pem", "\(d)/server.key")
    }

    func check(_ server: TestHTTPServer, ca: String?, insecure: Bool = false, certDays: Int? = nil) async -> SmokeCheckResult {
        var settings = SmokeSettings()
        settings.caFile = ca
        var check = SmokeCheck(name: "tls", path: server.url("/health"))
        check.insecure = insecure
        check.expect.certDays = certDays
        settings.checks = [check]
        return await SmokeRunner(settings: settings).run().checks[0]
    }

    @Test func verificationExpiryAndDaysLeft() async throws {
        let files = try await makeCertificates()
        let valid = try TestHTTPServer(tls: (files.valid, files.key))
        let trusted = await check(valid, ca: files.ca, certDays: 7)
        #expect(trusted.passed, "\(trusted.reason ?? "")")
        #expect(trusted.certificateDaysLeft == 9)
        #expect(trusted.timings.map { $0.tlsMs > $0.connectMs } == true, "the TLS handshake has its own phase")

        let soon = await check(valid, ca: files.ca, certDays: 30)
        #expect(soon.reason?.hasPrefix("TLS certificate expires in 9 day(s)") == true, "\(soon.reason ?? "")")
        #expect(soon.reason?.hasSuffix("need at least 30") == true)

        let untrusted = await check(valid, ca: nil)
        #expect(untrusted.reason?.hasPrefix("TLS certificate not trusted") == true, "\(untrusted.reason ?? "")")

        let expired = await check(try TestHTTPServer(tls: (files.expired, files.key)), ca: files.ca)
        #expect(expired.reason?.hasPrefix("TLS certificate not trusted") == true)
        #expect(expired.reason?.contains("expired") == true, "\(expired.reason ?? "")")

        let selfSigned = try TestHTTPServer(tls: (files.selfSigned, files.key))
        let refused = await check(selfSigned, ca: nil)
        #expect(refused.reason?.contains("self-signed") == true, "\(refused.reason ?? "")")
        let optedOut = await check(selfSigned, ca: nil, insecure: true, certDays: 5)
        #expect(optedOut.passed, "insecure: true skips verification; the expiry is still read: \(optedOut.reason ?? "")")
    }

    @Test func certDaysOnPlainHTTPIsAFailureNotAPass() async throws {
        let plain = try TestHTTPServer()
        let result = await check(plain, ca: nil, certDays: 1)
        #expect(result.reason == "no TLS certificate to check (cert_days needs an https URL)")
    }
}
