// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Testing
import OpsKit

struct DurationTests {
    @Test(arguments: [
        ("250ms", 250), ("60s", 60_000), ("5m", 300_000), ("8h", 28_800_000), ("2d", 172_800_000), ("1w", 604_800_000),
        ("1h30m", 5_400_000), ("1m30s", 90_000), ("0s", 0), ("1s500ms", 1500),
    ] as [(String, Int64)])
    func parses(_ text: String, _ milliseconds: Int64) {
        #expect(OpsDuration(parsing: text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "60", "6O s", "60 s", "s", "-5s", "1.5s", "5x", "5mm", "h1", "99999999999999999999s", "5M"])
    func rejects(_ text: String) {
        #expect(OpsDuration(parsing: text) == nil)
    }

    @Test func printsTheShortestExactForm() {
        #expect(OpsDuration(milliseconds: 250).description == "250ms")
        #expect(OpsDuration.seconds(90).description == "1m30s")
        #expect(OpsDuration.hours(8).description == "8h")
        #expect(OpsDuration(milliseconds: 1500).description == "1500ms")
        for text in ["250ms", "1m30s", "8h", "2d", "1d2h3m4s"] {
            #expect(OpsDuration(parsing: text)?.description == text)
        }
    }
}
