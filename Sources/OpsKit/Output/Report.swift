// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What every command returns. The CLI prints `renderText()` by default, or exactly one
/// JSON document (`{"ok": ..., <fields>}`) with `--json`.
public protocol Report: Encodable, Sendable {
    func renderText() -> String
    /// Non-zero when the report itself records a failed check (verify found a bad backup,
    /// status could not reach docker). The report is still printed in full.
    var exitCode: Int32 { get }
    /// The `--json` document when the command already encoded it (while other work ran on the
    /// other core); nil means the caller encodes the report.
    var encodedJSON: String? { get }
}

extension Report {
    public var exitCode: Int32 { 0 }
    public var encodedJSON: String? { nil }
}

/// `{"ok": true, ...the report's own fields}`: one flat document, easy for `jq`.
struct ReportEnvelope: Encodable {
    let report: any Report

    enum Keys: String, CodingKey { case ok }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(report.exitCode == 0, forKey: .ok)
        try report.encode(to: encoder)
    }
}

public enum ReportEncoder {
    public static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Milliseconds: "when did it fail" must be comparable with docker's and curl's clocks.
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            // Half a microsecond up: a time that is a whole millisecond (a replica point named
            // …768) is stored as …767999… in binary, and the style truncates.
            try container.encode(style.format(date.addingTimeInterval(0.000_000_5)))
        }
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            return #"{"ok":false,"error":{"code":"output.encoding","message":"cannot encode the report"}}"#
        }
    }

    public static func json(report: any Report) -> String { json(ReportEnvelope(report: report)) }
}

/// Small helpers for the human renderings.
public enum TextFormat {
    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// "3m ago", "2h 5m ago", "4d ago".
    public static func age(of date: Date, now: Date) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        return duration(seconds: seconds) + " ago"
    }

    public static func duration(seconds: Int) -> String {
        switch seconds {
        case ..<60: "\(seconds)s"
        case ..<3600: "\(seconds / 60)m"
        case ..<86_400: "\(seconds / 3600)h \(seconds % 3600 / 60)m"
        default: "\(seconds / 86_400)d \(seconds % 86_400 / 3600)h"
        }
    }

    /// How long something took: "480 ms", "1.5 s", "12.3 s", then as `duration(seconds:)`.
    public static func duration(milliseconds: Int) -> String {
        switch milliseconds {
        case ..<1000: "\(max(0, milliseconds)) ms"
        case ..<60_000: String(format: "%.1f s", Double(milliseconds) / 1000)
        default: duration(seconds: milliseconds / 1000)
        }
    }

    /// Left-aligned columns, two spaces apart.
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// Renders any encodable value as indented `key: value` lines (used for `config check`).
    public static func tree(_ value: some Encodable) -> String {
        let json = ReportEncoder.json(value)
        guard let parsed = try? JSONDecoder().decode(JSONTree.self, from: Data(json.utf8)) else { return json }
        var lines: [String] = []
        parsed.render(indent: 0, into: &lines)
        return lines.joined(separator: "\n")
    }
}

/// Any JSON document, for rendering encoded reports as text.
enum JSONTree: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONTree]), object([String: JSONTree])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let flag = try? container.decode(Bool.self) { self = .bool(flag) }
        else if let number = try? container.decode(Double.self) { self = .number(number) }
        else if let text = try? container.decode(String.self) { self = .string(text) }
        else if let array = try? container.decode([JSONTree].self) { self = .array(array) }
        else { self = .object(try container.decode([String: JSONTree].self)) }
    }

    var scalarText: String? {
        switch self {
        case .null: "null"
        case .bool(let flag): String(flag)
        case .number(let number): number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .string(let text): text
        case .array(let items) where items.isEmpty: "[]"
        case .object(let members) where members.isEmpty: "{}"
        default: nil
        }
    }

    func render(indent: Int, into lines: inout [String]) {
        let pad = String(repeating: "  ", count: indent)
        switch self {
        case .object(let members):
            for key in members.keys.sorted() {
                let child = members[key]!
                if let text = child.scalarText {
                    lines.append("\(pad)\(key): \(text)")
                } else {
                    lines.append("\(pad)\(key):")
                    child.render(indent: indent + 1, into: &lines)
                }
            }
        case .array(let items):
            for item in items {
                if let text = item.scalarText {
                    lines.append("\(pad)- \(text)")
                    continue
                }
                // YAML style: the item's first line goes after the dash.
                var nested: [String] = []
                item.render(indent: indent + 1, into: &nested)
                guard let first = nested.first else { continue }
                lines.append("\(pad)- " + first.dropFirst(pad.count + 2))
                lines += nested.dropFirst()
            }
        default:
            lines.append(pad + (scalarText ?? ""))
        }
    }
}
