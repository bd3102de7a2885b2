// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A docker-style env file (`KEY=value` lines, `#` comments, optional quotes, `export `).
/// opsctl reads it only to check and scrub secrets; docker reads it to run the app.
public enum EnvFile {
    public static func parse(_ text: String) -> [(key: String, value: String)] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            var trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), !trimmed.isEmpty else { return nil }
            if trimmed.hasPrefix("export ") { trimmed.removeFirst("export ".count) }
            guard let equals = trimmed.firstIndex(of: "=") else { return nil }
            let key = String(trimmed[..<equals]).trimmingCharacters(in: .whitespaces)
            var value = String(trimmed[trimmed.index(after: equals)...])
            if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "'" {
                value = String(value.dropFirst().dropLast())
            }
            return (key, value)
        }
    }

    public static func read(_ path: String) -> [(key: String, value: String)]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return parse(text)
    }

    /// Values of secret-named keys (`*_SECRET`, `*_TOKEN`, …): what must never leak.
    public static func secretValues(_ path: String?) -> [String] {
        guard let path, let pairs = read(path) else { return [] }
        return pairs.filter { Redactor.isSecretName($0.key) }.map(\.value)
    }
}
