// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// A span of time written the way operators write it: `250ms`, `60s`, `5m`, `8h`, `2d`, or
/// compounds such as `1h30m`. A bare number is rejected: `60` could mean seconds or minutes.
public struct OpsDuration: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public static func seconds(_ value: Int64) -> OpsDuration { OpsDuration(milliseconds: value * 1000) }
    public static func minutes(_ value: Int64) -> OpsDuration { .seconds(value * 60) }
    public static func hours(_ value: Int64) -> OpsDuration { .minutes(value * 60) }

    public var seconds: Double { Double(milliseconds) / 1000 }
    public var swiftDuration: Duration { .milliseconds(milliseconds) }

    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000),
    ]

    /// Returns nil when `text` is not a duration; callers turn that into an error naming the key.
    public init?(parsing text: String) {
        var total: Int64 = 0
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix(while: \.isASCIIDigit)
            guard !digits.isEmpty, let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unitText = rest.prefix(while: { $0.isLetter })
            // "ms" must win over "m"; the table is checked in order, so look for an exact match.
            guard let unit = Self.units.first(where: { $0.suffix == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            let (product, overflow) = value.multipliedReportingOverflow(by: unit.milliseconds)
            guard !overflow else { return nil }
            let (sum, sumOverflow) = total.addingReportingOverflow(product)
            guard !sumOverflow else { return nil }
            total = sum
        }
        self.milliseconds = total
    }

    /// The shortest exact spelling: `250ms`, `90s`, `5m`, `1h30m`.
    public var description: String {
        if milliseconds == 0 { return "0s" }
        if milliseconds % 1000 != 0 { return "\(milliseconds)ms" }
        var remaining = milliseconds / 1000
        var parts: [String] = []
        for (suffix, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60), ("s", 1)] where remaining >= size {
            parts.append("\(remaining / size)\(suffix)")
            remaining %= size
        }
        return parts.joined()
    }

    public static func < (lhs: OpsDuration, rhs: OpsDuration) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = OpsDuration(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\"\(text)\" is not a duration"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
