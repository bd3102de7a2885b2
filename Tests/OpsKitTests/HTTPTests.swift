// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

@Suite(.serialized)
struct CurlHTTPTests {
    let server: TestHTTPServer
    init() throws { server = try TestHTTPServer() }

    func request(_ path: String, _ edit: (inout HTTPRequest) -> Void = { _ in }) -> HTTPRequest {
        var request = HTTPRequest(url: server.url(path))
        edit(&request)
        return request
    }

    @Test func getsStatusHeadersBodyAndTimings() throws {
        let response = try CurlHTTP.perform(request("/health")).get()
        #expect(response.status == 200)
        #expect(response.header("x-content-type-options") == "nosniff")
        #expect(String(decoding: response.body, as: UTF8.self).contains("\"healthy\""))
        let t = response.timings
        #expect(t.totalMs > 0 && t.connectMs <= t.ttfbMs && t.ttfbMs <= t.totalMs)
    }

    @Test func sendsMethodHeadersAndBody() throws {
        let response = try CurlHTTP.perform(request("/echo") {
            $0.method = "POST"
            $0.headers = [("Content-Type", "application/json"), ("X-Test", "1")]
            $0.body = #"{"username":"admin","password":"wrong"}"#
        }).get()
        let echoed = try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
        #expect(echoed["method"] as? String == "POST")
        #expect(echoed["body"] as? String == #"{"username":"admin","password":"wrong"}"#)
        #expect((echoed["headers"] as? [String: String])?["X-Test"] == "1")
    }

    @Test func failuresHavePreciseReasonsAndNeverHang() throws {
        let refused = CurlHTTP.perform(HTTPRequest(url: "http://127.0.0.1:1/health"))
        guard case .failure(let failure) = refused else { Issue.record("expected a failure"); return }
        #expect(failure.reason.hasPrefix("connection refused"))

        // /hang never answers: coming back at all is the timeout's doing.
        let hung = CurlHTTP.perform(request("/hang") { $0.timeout = OpsDuration(milliseconds: 700) })
        guard case .failure(let timeout) = hung else { Issue.record("expected a timeout"); return }
        #expect(timeout.reason.hasPrefix("timed out after 700ms"))

        let loop = CurlHTTP.perform(request("/redirect-loop"))
        guard case .failure(let redirects) = loop else { Issue.record("expected too many redirects"); return }
        #expect(redirects.reason == "too many redirects (more than 5)")

        let followed = try CurlHTTP.perform(request("/redirect")).get()
        #expect(followed.status == 200 && followed.redirects == 1)
        #expect(try CurlHTTP.perform(request("/status/500")).get().status == 500)
    }

    @Test func aHugeBodyIsBounded() throws {
        let response = try CurlHTTP.perform(request("/big/20000000") { $0.maxBodyBytes = 1000 }).get()
        #expect(response.body.count == 1000)
        #expect(response.bodyTruncated)
    }

    /// Eight requests really in flight at once on one multi handle (the server answers none of
    /// them until all eight arrived), and time spent queued does not count against a request's timeout.
    @Test func runsConcurrentlyOnOneMultiHandle() throws {
        let key = UUID().uuidString
        let results = CurlHTTP.perform((0..<8).map { _ in request("/gate/\(key)/8") { $0.timeout = .seconds(90) } }, concurrency: 8)
        #expect(results.allSatisfy { (try? $0.get().status) == 200 }, "\(results.map { (try? $0.get().status) ?? 0 })")

        // Concurrency 1: twelve 500 ms requests queue for up to 5.5 s, each within its own 3 s timeout.
        let queued = CurlHTTP.perform((0..<12).map { _ in request("/slow/500") { $0.timeout = .seconds(3) } }, concurrency: 1)
        #expect(queued.allSatisfy { (try? $0.get().status) == 200 })
    }
}
