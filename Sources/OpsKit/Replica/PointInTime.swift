// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `restore --at`: an RFC 3339 moment (`2026-12-06T10:15:30Z`, fractions and offsets allowed)
/// or `latest`.
public enum PointInTime: Sendable, Equatable, CustomStringConvertible {
    case latest
    case at(Date)

    public static func parse(_ text: String) throws(OpsError) -> PointInTime {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased() == "latest" { return .latest }
        guard let date = parseRFC3339(trimmed) else {
            throw OpsError(.usage, code: "restore.bad_time", "\"\(text)\" is not a moment: use RFC 3339, e.g. 2026-12-06T10:15:30Z or 2026-12-06T11:15:30.250+01:00, or latest")
        }
        return .at(date)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; a space for the T is accepted, as RFC 3339 allows.
    static func parseRFC3339(_ text: String) -> Date? {
        let pattern = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/
        guard let match = text.wholeMatch(of: pattern) else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let zone = match.4 == "z" ? "Z" : String(match.4)
        guard let whole = formatter.date(from: "\(match.1)T\(match.2)\(zone)") else { return nil }
        guard let fraction = match.3, let value = Double("0" + fraction) else { return whole }
        return whole.addingTimeInterval(value)
    }

    /// Milliseconds, UTC: what reports and messages print. Rounded to the millisecond, not
    /// truncated: a point named 12:00:00.768 must not print as .767 (binary fractions).
    public static func format(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = Date(timeIntervalSince1970: Double(milliseconds.quotientAndRemainder(dividingBy: 1000).quotient - (milliseconds < 0 && milliseconds % 1000 != 0 ? 1 : 0)))
        let whole = seconds.formatted(Date.ISO8601FormatStyle())
        let fraction = ((milliseconds % 1000) + 1000) % 1000
        return whole.dropLast() + "." + String(fraction).leftPadded(to: 3) + "Z"
    }

    public var description: String {
        switch self {
        case .latest: "latest"
        case .at(let date): Self.format(date)
        }
    }
}
