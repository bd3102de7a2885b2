// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import Foundation
import OpsKit

// Typed option values: ArgumentParser parses each one once, before `run()`, and rejects a bad
// value with the option's name; `run()` never parses or force-unwraps again.

/// `30s`, `5m`, `8h`: the durations opsctl.yml takes.
extension OpsDuration: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension HandoffRenderer.Format: ExpressibleByArgument {}

/// An ISO 8601 time, e.g. `2026-11-21T22:00:00Z` (fractional seconds allowed).
struct ISOTime: ExpressibleByArgument {
    let date: Date

    init?(argument: String) {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: argument) {
            self.date = date
            return
        }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: argument) else { return nil }
        self.date = date
    }
}

/// An http:// or https:// base URL.
struct HTTPBaseURL: ExpressibleByArgument {
    let text: String

    init?(argument: String) {
        guard argument.hasPrefix("http://") || argument.hasPrefix("https://") else { return nil }
        text = argument
    }
}
