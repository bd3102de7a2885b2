// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One DateFormatter kept for every date of a pattern: creating one costs ICU far more than
/// formatting with it, and a handoff formats thousands of dates. DateFormatter is not made for
/// concurrent use, so each formatting holds a lock.
public final class ClockFormat: @unchecked Sendable {
    private let lock = NSLock()
    private let formatter: DateFormatter

    public init(_ pattern: String, timeZone: TimeZone = .current) {
        formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = pattern
    }

    public func string(_ date: Date) -> String { lock.withLock { formatter.string(from: date) } }
}
