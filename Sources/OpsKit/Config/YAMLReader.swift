// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Yams

/// Walks a composed YAML tree with the key path and source position of every node at hand,
/// so each error reads `opsctl.yml:14:18: environments.production.health.timeout: ...`.
///
/// Codable decoding would lose both the position and the set of keys actually present,
/// which the unknown-key check needs.
struct YAMLReader: Sendable {
    let fileName: String
    let environment: [String: String]
    /// Where relative `*_file` paths are resolved: the config file's directory.
    let baseDirectory: URL

    func error(at node: Node?, path: String, _ message: String, details: [String] = []) -> OpsError {
        let position = node?.mark.map { "\($0.line):\($0.column)" } ?? "1:1"
        let prefix = path.isEmpty ? "" : "\(path): "
        return OpsError(.config, code: "config.invalid", "\(fileName):\(position): \(prefix)\(message)", details: details)
    }

    /// Expands `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`.
    func expand(_ text: String, node: Node, path: String) throws(OpsError) -> String {
        guard text.contains("$") else { return text }
        var output = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            guard character == "$", next < text.endIndex else {
                output.append(character)
                index = next
                continue
            }
            if text[next] == "$" {
                output.append("$")
                index = text.index(after: next)
                continue
            }
            guard text[next] == "{" else {
                output.append(character)
                index = next
                continue
            }
            guard let close = text[next...].firstIndex(of: "}") else {
                throw error(at: node, path: path, "unterminated ${ in \"\(text)\"")
            }
            let inner = text[text.index(after: next)..<close]
            let name: Substring
            let fallback: Substring?
            if let separator = inner.range(of: ":-") {
                name = inner[..<separator.lowerBound]
                fallback = inner[separator.upperBound...]
            } else {
                name = inner
                fallback = nil
            }
            guard Self.isEnvironmentName(name) else {
                throw error(at: node, path: path, "\"${\(inner)}\" is not a valid variable reference (use ${NAME} or ${NAME:-default})")
            }
            if let value = environment[String(name)], !(value.isEmpty && fallback != nil) {
                output += value
            } else if let fallback {
                output += fallback
            } else {
                throw error(at: node, path: path, "environment variable \(name) is not set",
                            details: ["set it, or give a default: ${\(name):-value}"])
            }
            index = text.index(after: close)
        }
        return output
    }

    static func isEnvironmentName<S: StringProtocol>(_ name: S) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    /// Reads a secret from a file named in the config (`*_file` keys). Trailing newlines are dropped.
    func readSecretFile(_ pathText: String, node: Node, path: String) throws(OpsError) -> String {
        let url = URL(fileURLWithPath: pathText, relativeTo: baseDirectory)
        do {
            var text = try String(contentsOf: url, encoding: .utf8)
            while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
            return text
        } catch {
            throw self.error(at: node, path: path, "cannot read secret file \(pathText): \(Self.reason(error))")
        }
    }

    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if nsError.domain == NSCocoaErrorDomain {
            switch nsError.code {
            case NSFileReadNoSuchFileError, NSFileNoSuchFileError: return "No such file or directory"
            case NSFileReadNoPermissionError: return "Permission denied"
            default: break
            }
        }
        return nsError.localizedDescription
    }
}

/// A mapping being read: every key must be one the schema knows.
struct MappingReader {
    let reader: YAMLReader
    let node: Node
    let path: String
    private let pairs: [(key: String, keyNode: Node, value: Node)]

    init(_ node: Node, path: String, reader: YAMLReader, allowedKeys: [String]) throws(OpsError) {
        guard case .mapping(let mapping) = node else {
            throw reader.error(at: node, path: path, "expected a mapping (key: value), found \(node.kindDescription)")
        }
        var pairs: [(String, Node, Node)] = []
        var seen = Set<String>()
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                throw reader.error(at: keyNode, path: path, "keys must be plain strings")
            }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if !allowedKeys.isEmpty, !allowedKeys.contains(key) {
                let suggestion = Suggestion.closest(to: key, among: allowedKeys)
                throw reader.error(at: keyNode, path: keyPath,
                                   "unknown key" + (suggestion.map { "; did you mean \"\($0)\"?" } ?? ""),
                                   details: ["known keys here: " + allowedKeys.joined(separator: ", ")])
            }
            guard seen.insert(key).inserted else {
                throw reader.error(at: keyNode, path: keyPath, "duplicate key")
            }
            pairs.append((key, keyNode, value))
        }
        self.reader = reader
        self.node = node
        self.path = path
        self.pairs = pairs
    }

    /// Open mappings (env, headers, facts): any key, in file order.
    static func open(_ node: Node, path: String, reader: YAMLReader) throws(OpsError) -> MappingReader {
        try MappingReader(node, path: path, reader: reader, allowedKeys: [])
    }

    var keys: [String] { pairs.map(\.key) }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value node, or nil when absent or explicitly null.
    func value(_ key: String) -> Node? {
        guard let value = pairs.first(where: { $0.key == key })?.value else { return nil }
        if case .scalar(let scalar) = value, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
            return nil
        }
        return value
    }

    func keyNode(_ key: String) -> Node? { pairs.first(where: { $0.key == key })?.keyNode }

    func missing(_ key: String) -> OpsError {
        reader.error(at: node, path: keyPath(key), "required key is missing")
    }

    func string(_ key: String) throws(OpsError) -> String? {
        guard let value = value(key) else { return nil }
        return try scalarString(value, path: keyPath(key))
    }

    func requiredString(_ key: String) throws(OpsError) -> String {
        guard let text = try string(key) else { throw missing(key) }
        guard !text.isEmpty else { throw reader.error(at: value(key), path: keyPath(key), "must not be empty") }
        return text
    }

    func scalarString(_ value: Node, path: String) throws(OpsError) -> String {
        guard case .scalar(let scalar) = value else {
            throw reader.error(at: value, path: path, "expected a string, found \(value.kindDescription)")
        }
        return try reader.expand(scalar.string, node: value, path: path)
    }

    func int(_ key: String, range: ClosedRange<Int>) throws(OpsError) -> Int? {
        guard let value = value(key) else { return nil }
        let text = try scalarString(value, path: keyPath(key))
        guard let number = Int(text) else {
            throw reader.error(at: value, path: keyPath(key), "\"\(text)\" is not a whole number")
        }
        guard range.contains(number) else {
            throw reader.error(at: value, path: keyPath(key), "\(number) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    func bool(_ key: String) throws(OpsError) -> Bool? {
        guard let value = value(key) else { return nil }
        let text = try scalarString(value, path: keyPath(key))
        switch text {
        case "true", "True", "TRUE", "yes", "on": return true
        case "false", "False", "FALSE", "no", "off": return false
        default: throw reader.error(at: value, path: keyPath(key), "\"\(text)\" is not true or false")
        }
    }

    func duration(_ key: String) throws(OpsError) -> OpsDuration? {
        guard let value = value(key) else { return nil }
        let text = try scalarString(value, path: keyPath(key))
        guard let duration = OpsDuration(parsing: text) else {
            let hint = Int(text) != nil ? "add a unit, e.g. \(text)s" : "use a number and a unit: 250ms, 60s, 5m, 8h, 2d"
            throw reader.error(at: value, path: keyPath(key), "\"\(text)\" is not a duration", details: [hint])
        }
        return duration
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) throws(OpsError) -> T? where T.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let choice = T(rawValue: text) else {
            let options = T.allCases.map(\.rawValue)
            let suggestion = Suggestion.closest(to: text, among: options)
            throw reader.error(at: value(key), path: keyPath(key),
                               "\"\(text)\" is not one of \(options.joined(separator: ", "))" + (suggestion.map { "; did you mean \"\($0)\"?" } ?? ""))
        }
        return choice
    }

    func mapping(_ key: String, allowedKeys: [String]) throws(OpsError) -> MappingReader? {
        guard let value = value(key) else { return nil }
        return try MappingReader(value, path: keyPath(key), reader: reader, allowedKeys: allowedKeys)
    }

    func openMapping(_ key: String) throws(OpsError) -> MappingReader? {
        guard let value = value(key) else { return nil }
        return try MappingReader.open(value, path: keyPath(key), reader: reader)
    }

    /// Sequence items with their paths (`key[0]`, `key[1]`, ...).
    func sequence(_ key: String) throws(OpsError) -> [(node: Node, path: String)]? {
        guard let value = value(key) else { return nil }
        guard case .sequence(let items) = value else {
            throw reader.error(at: value, path: keyPath(key), "expected a list, found \(value.kindDescription)")
        }
        return items.enumerated().map { ($0.element, "\(keyPath(key))[\($0.offset)]") }
    }

    func stringList(_ key: String) throws(OpsError) -> [String]? {
        guard let items = try sequence(key) else { return nil }
        var strings: [String] = []
        for item in items { strings.append(try scalarString(item.node, path: item.path)) }
        return strings
    }

    /// An open mapping of strings (env, headers), in file order.
    func stringPairs(_ key: String) throws(OpsError) -> [(key: String, value: String, node: Node)]? {
        guard let map = try openMapping(key) else { return nil }
        var result: [(String, String, Node)] = []
        for name in map.keys {
            guard let value = map.value(name) else {
                result.append((name, "", map.keyNode(name)!))
                continue
            }
            result.append((name, try map.scalarString(value, path: map.keyPath(name)), value))
        }
        return result
    }
}

extension Node {
    var kindDescription: String {
        switch self {
        case .scalar(let scalar): "the scalar \"\(scalar.string)\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}

enum Suggestion {
    /// The closest candidate within a small edit distance, for did-you-mean hints.
    static func closest(to word: String, among candidates: [String]) -> String? {
        let lowered = word.lowercased()
        let scored = candidates.map { ($0, editDistance(lowered, $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= max(2, word.count / 3) ? best.0 : nil
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
