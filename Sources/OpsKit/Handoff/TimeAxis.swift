// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Tick marks for a window, on round local times of the report's timezone (so a +05:30 zone
/// gets its own whole hours, and a DST change day keeps 02:00, 04:00, … as the wall clock says).
struct TimeAxis {
    struct Tick: Equatable {
        var at: Date
        var label: String
    }

    /// Steps a reader counts in, smallest first (seconds).
    static let steps: [Int] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172_800, 604_800]

    static func ticks(from: Date, to: Date, timeZone: TimeZone, most: Int = 9, dayFormat: String = "EEE d MMM") -> [Tick] {
        let span = to.timeIntervalSince(from)
        guard span > 0 else { return [] }
        let step = steps.first { span / Double($0) <= Double(most) } ?? steps.last!
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let candidates = step >= 86_400 ? days(from: from, to: to, every: step / 86_400, calendar) : clock(from: from, to: to, every: step, calendar)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        let spansDays = !calendar.isDate(from, inSameDayAs: to)
        return candidates.map { date in
            let midnight = calendar.startOfDay(for: date) == date
            formatter.dateFormat = step >= 86_400 || (spansDays && midnight) ? dayFormat : step < 60 ? "HH:mm:ss" : "HH:mm"
            return Tick(at: date, label: formatter.string(from: date))
        }
    }

    /// Times whose local clock is a multiple of `step` since midnight. Every zone's offset is a
    /// multiple of 15 minutes, so walking in units of min(step, 15 min) meets each of them.
    static func clock(from: Date, to: Date, every step: Int, _ calendar: Calendar) -> [Date] {
        let unit = Double(min(step, 900))
        var date = Date(timeIntervalSince1970: (from.timeIntervalSince1970 / unit).rounded(.up) * unit)
        var ticks: [Date] = []
        while date <= to {
            let parts = calendar.dateComponents([.hour, .minute, .second], from: date)
            let sinceMidnight = (parts.hour ?? 0) * 3600 + (parts.minute ?? 0) * 60 + (parts.second ?? 0)
            if sinceMidnight % step == 0 { ticks.append(date) }
            date += unit
        }
        return ticks
    }

    static func days(from: Date, to: Date, every days: Int, _ calendar: Calendar) -> [Date] {
        var date = calendar.startOfDay(for: from)
        if date < from { date = calendar.date(byAdding: .day, value: 1, to: date)! }
        var ticks: [Date] = []
        var index = 0
        while date <= to {
            if index % days == 0 { ticks.append(date) }
            index += 1
            date = calendar.date(byAdding: .day, value: 1, to: date)!
        }
        return ticks
    }
}
