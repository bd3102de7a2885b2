// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

struct WaitCommandTests {
    let directory = TemporaryDirectory("opsctl-wait-e2e")

    @Test func waitsForHealthAndFailsWithTheLastAnswer() async throws {
        let server = try TestHTTPServer()
        try directory.write("opsctl.yml", """
            app: app
            image: app
            environments:
              production:
                health: {url: "\(server.url("/health"))", json: {status: healthy}, interval: 100ms, timeout: 120s}
              broken:
                health: {url: "\(server.url("/status/503"))", interval: 100ms, timeout: 120s}

            """)
        let opsctl = Opsctl(directory: directory.path)
        let healthy = try await opsctl.run("wait", "production")
        #expect(healthy.exitCode == 0, "\(healthy.stderr)")
        #expect(healthy.stdout.hasPrefix("healthy: "))
        let broken = try await opsctl.run("wait", "broken", "--timeout", "700ms", "--json")
        #expect(broken.exitCode == 1)
        let document = try broken.json()
        // The waiter's own clock: --timeout 700ms won over health.timeout 120s (a loaded machine
        // can stretch the 700 ms, never to the 120 s it replaced).
        #expect(try #require(document["elapsed_ms"] as? Int) < 120_000, "\(document)")
        #expect(document["healthy"] as? Bool == false)
        #expect(((document["last"] as? [String: Any])?["reason"] as? String)?.hasPrefix("HTTP 503 (expected 200)") == true)
    }
}
