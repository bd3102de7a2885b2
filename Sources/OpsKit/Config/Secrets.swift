// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// Where a secret's value comes from: written in opsctl.yml (or `${VAR}`), read from a file
/// (`NAME_FILE`, `key_file`), or printed by a command (`NAME_COMMAND`, `key_command`: a secret
/// manager's CLI, run without a shell).
public enum SecretSource: Sendable, Hashable {
    case inline
    /// The resolved path of the file.
    case file(String)
    /// The argv whose stdout is the value.
    case command([String])
}

/// A configuration value that must never be printed, logged or stored in the ledger.
/// Its encoded and described forms are always the redaction marker.
///
/// A secret from a command has no value until `SecretResolver` fetched it: commands run only
/// for the commands that use the value (deploy, smoke, preflight, handoff), never while a
/// config is merely loaded.
public struct Secret: Sendable, Hashable, Encodable, CustomStringConvertible {
    public static let marker = "<redacted>"
    public let source: SecretSource
    private let fetched: String?

    public init(_ value: String, source: SecretSource = .inline) {
        self.source = source
        self.fetched = value
    }

    /// A secret a command will print; `SecretResolver` fetches it.
    public static func command(_ argv: [String]) -> Secret { Secret(source: .command(argv), fetched: nil) }

    private init(source: SecretSource, fetched: String?) {
        self.source = source
        self.fetched = fetched
    }

    /// The same secret, with the value its command printed.
    public func resolved(_ value: String) -> Secret { Secret(source: source, fetched: value) }

    public var isResolved: Bool { fetched != nil }
    /// The value, or nil while a command secret is not fetched yet.
    public var valueIfResolved: String? { fetched }

    /// The value. Reading a command secret before `SecretResolver` ran is a bug in opsctl:
    /// an empty string would reach the app as if it were the secret.
    public var value: String {
        guard let fetched else { preconditionFailure("secret from \(source) read before its command ran") }
        return fetched
    }

    public var command: [String]? {
        if case .command(let argv) = source { return argv }
        return nil
    }

    public var file: String? {
        if case .file(let path) = source { return path }
        return nil
    }

    public var description: String { Self.marker }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Self.marker)
    }
}

/// Decides what counts as a secret and scrubs known secret values from free text.
public struct Redactor: Sendable {
    /// The suffixes secrets conventionally carry (docs/reference.md, "Secrets").
    static let secretSuffixes = ["_SECRET", "_PASSWORD", "_TOKEN", "_KEY", "_CREDENTIALS", "_PASSPHRASE"]

    public private(set) var secretValues: [String] = []

    public init(secretValues: [String] = []) {
        // Very short values would redact ordinary words; they are still never printed as config values.
        self.secretValues = secretValues.filter { $0.count >= 4 }.sorted { $0.count > $1.count }
    }

    public static func isSecretName(_ name: String) -> Bool {
        let upper = name.uppercased()
        return secretSuffixes.contains { upper.hasSuffix($0) } || ["SECRET", "PASSWORD", "TOKEN"].contains(upper)
    }

    /// Replaces every known secret value, and the password of any `scheme://user:password@host` URL.
    public func scrub(_ text: String) -> String {
        var output = text
        for secret in secretValues { output = output.replacingOccurrences(of: secret, with: Secret.marker) }
        return Self.redactURLCredentials(output)
    }

    /// `https://user:pw@host/x` becomes `https://user:<redacted>@host/x`.
    public static func redactURLCredentials(_ text: String) -> String {
        // A plain byte scan: the generic searches of String and its views cost more than the rest
        // of a handoff together on a report that is megabytes long.
        let bytes = Array(text.utf8)
        guard bytes.contains(UInt8(ascii: "@")) else { return text }
        var output: [UInt8] = []
        var copied = 0
        var next = 0
        while let separator = schemeSeparator(in: bytes, from: next) {
            let authority = separator + 3
            let authorityEnd = bytes[authority...].firstIndex(where: authorityTerminators.contains) ?? bytes.endIndex
            // Without credentials the search resumes inside the authority, where `b://` of
            // `a://b://user:pw@host` begins the URL that does carry them.
            next = authority
            guard let at = bytes[authority..<authorityEnd].lastIndex(of: UInt8(ascii: "@")) else { continue }
            next = authorityEnd
            let colon = bytes[authority..<at].firstIndex(of: UInt8(ascii: ":"))
            output += bytes[copied..<(colon.map { $0 + 1 } ?? authority)]
            output += Secret.marker.utf8
            copied = at
        }
        guard copied > 0 else { return text }
        output += bytes[copied...]
        return String(decoding: output, as: UTF8.self)
    }

    private static let authorityTerminators: Set<UInt8> = Set("/?# \t\n\"'".utf8)

    /// The index of the next `://` at or after `start`.
    private static func schemeSeparator(in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index + 2 < bytes.count {
            if bytes[index] == UInt8(ascii: ":"), bytes[index + 1] == UInt8(ascii: "/"), bytes[index + 2] == UInt8(ascii: "/") { return index }
            index += 1
        }
        return nil
    }
}

import Foundation
