// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `--help` at 80 columns, for every command: ArgumentParser does the wrapping (no hard break of
/// ours inside a paragraph leaves a ragged line), nothing is wider than the terminal, and the
/// hand-wrapped usage lines name every option the help lists.
struct HelpTests {
    static let commands: [[String]] = [
        [], ["init"], ["config", "check"], ["preflight"], ["deploy"], ["rollback"], ["status"], ["history"], ["backup"], ["backups"],
        ["prune"], ["verify"], ["restore"], ["replicate"], ["db"], ["wait"], ["smoke"], ["handoff"], ["note"], ["version"],
        ["incident"], ["incident", "open"], ["incident", "note"], ["incident", "bundle"], ["incident", "close"], ["incident", "list"], ["incident", "show"],
    ]

    @Test(arguments: commands) func helpFitsEightyColumns(_ command: [String]) async throws {
        let result = try await Opsctl(directory: "/tmp", environment: ["COLUMNS": "80"]).run(command + ["--help"])
        #expect(result.exitCode == 0)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for line in lines { #expect(line.count <= 80, "\(command): \(line.count) columns: \(line)") }
        for (line, next) in Self.raggedBreaks(Self.section(lines, before: "USAGE:")) {
            Issue.record("\(command): a hard line break: \"\(line)\" could have taken \"\(next.split(separator: " ").first ?? "")\"")
        }
        let usage = Self.section(lines, from: "USAGE:", before: "").joined(separator: " ")
        for option in Self.options(lines) where !["--help", "--version"].contains(option) {
            #expect(usage.contains("[\(option)") || usage.contains(" \(option)"), "\(command): usage does not name \(option): \(usage)")
        }
    }

    /// Consecutive lines of one paragraph where the first word of the next line would have fit.
    static func raggedBreaks(_ lines: [String]) -> [(String, String)] {
        zip(lines, lines.dropFirst()).filter { line, next in
            guard !line.isEmpty, !next.isEmpty, indentation(line) == indentation(next),
                  let word = next.split(separator: " ").first else { return false }
            // ArgumentParser keeps a line below the width (79 of 80 columns).
            return line.count + 1 + word.count < 80
        }
    }

    static func indentation(_ line: String) -> Int { line.prefix { $0 == " " }.count }

    /// Lines from the one starting with `start` (or the top) up to the first one starting with `end`.
    static func section(_ lines: [String], from start: String? = nil, before end: String) -> [String] {
        let first = start.flatMap { marker in lines.firstIndex { $0.hasPrefix(marker) } } ?? 0
        let rest = lines[first...].dropFirst(start == nil ? 0 : 1)
        let last = rest.firstIndex { end.isEmpty ? $0.isEmpty : $0.hasPrefix(end) } ?? lines.endIndex
        return Array(lines[first..<last])
    }

    /// The long option names in the OPTIONS section.
    static func options(_ lines: [String]) -> [String] {
        section(lines, from: "OPTIONS:", before: "").compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("--") }.map { String($0.split(separator: ",")[0]) }
        }
    }
}
