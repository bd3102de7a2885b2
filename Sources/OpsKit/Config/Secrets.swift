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
        // Searched as UTF-8 bytes: Foundation's contains/range(of:) would convert a report that
        // is megabytes long to UTF-16, again for every URL in it.
        guard text.utf8.firstRange(of: "://".utf8) != nil, text.utf8.contains(UInt8(ascii: "@")) else { return text }
        var output = ""
        var rest = Substring(text)
        while let schemeRange = rest.utf8.firstRange(of: "://".utf8) {
            output += rest[..<schemeRange.upperBound]
            rest = rest[schemeRange.upperBound...]
            let authorityEnd = rest.firstIndex(where: { "/?# \t\n\"'".contains($0) }) ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@") {
                let userInfo = authority[..<at]
                if let colon = userInfo.firstIndex(of: ":") {
                    output += userInfo[..<colon] + ":" + Secret.marker
                } else {
                    output += Secret.marker
                }
                output += authority[at...]
            } else {
                output += authority
            }
            rest = rest[authorityEnd...]
        }
        return output + rest
    }
}

import Foundation
