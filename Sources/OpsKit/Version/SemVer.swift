// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// A strict Semantic Versioning 2.0.0 version (https://semver.org).
///
/// Numeric parts are kept as digit strings: the spec puts no bound on them, and
/// `99999999999999999999999.0.0` is valid.
public struct SemVer: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public let major: String
    public let minor: String
    public let patch: String
    public let preRelease: [String]
    public let build: [String]

    public var description: String {
        var text = "\(major).\(minor).\(patch)"
        if !preRelease.isEmpty { text += "-" + preRelease.joined(separator: ".") }
        if !build.isEmpty { text += "+" + build.joined(separator: ".") }
        return text
    }

    public var isPreRelease: Bool { !preRelease.isEmpty }

    /// Parses exactly the grammar of semver.org, no prefix.
    public init(parsing text: String) throws(SemVerError) {
        guard !text.isEmpty else { throw SemVerError(text, "the version is empty") }
        if let bad = text.unicodeScalars.first(where: { !Self.isAllowed($0) && $0 != "." && $0 != "+" }) {
            throw SemVerError(text, "character \(Self.show(bad)) is not allowed (only 0-9, A-Z, a-z, '-', '.', '+')")
        }
        var rest = Substring(text)
        var buildPart: Substring?
        if let plus = rest.firstIndex(of: "+") {
            buildPart = rest[rest.index(after: plus)...]
            rest = rest[..<plus]
        }
        var prePart: Substring?
        if let dash = rest.firstIndex(of: "-") {
            prePart = rest[rest.index(after: dash)...]
            rest = rest[..<dash]
        }
        let core = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard core.count == 3 else {
            throw SemVerError(text, "a version is MAJOR.MINOR.PATCH: three numbers, found \(core.count) part\(core.count == 1 ? "" : "s") in \"\(rest)\"")
        }
        for (name, part) in zip(["MAJOR", "MINOR", "PATCH"], core) {
            guard !part.isEmpty else { throw SemVerError(text, "\(name) is empty") }
            guard part.allSatisfy(\.isASCIIDigit) else { throw SemVerError(text, "\(name) \"\(part)\" is not a non-negative integer") }
            guard part == "0" || part.first != "0" else { throw SemVerError(text, "\(name) \"\(part)\" has a leading zero") }
        }
        var preRelease: [String] = []
        if let prePart {
            guard !prePart.isEmpty else { throw SemVerError(text, "the pre-release after '-' is empty") }
            for identifier in prePart.split(separator: ".", omittingEmptySubsequences: false) {
                guard !identifier.isEmpty else { throw SemVerError(text, "the pre-release \"\(prePart)\" has an empty identifier") }
                if identifier.allSatisfy(\.isASCIIDigit), identifier.count > 1, identifier.first == "0" {
                    throw SemVerError(text, "numeric pre-release identifier \"\(identifier)\" has a leading zero")
                }
                preRelease.append(String(identifier))
            }
        }
        var build: [String] = []
        if let buildPart {
            guard !buildPart.isEmpty else { throw SemVerError(text, "the build metadata after '+' is empty") }
            if buildPart.contains("+") { throw SemVerError(text, "build metadata may contain only one '+'") }
            for identifier in buildPart.split(separator: ".", omittingEmptySubsequences: false) {
                guard !identifier.isEmpty else { throw SemVerError(text, "the build metadata \"\(buildPart)\" has an empty identifier") }
                build.append(String(identifier))
            }
        }
        self.major = String(core[0])
        self.minor = String(core[1])
        self.patch = String(core[2])
        self.preRelease = preRelease
        self.build = build
    }

    /// What an operator types: `1.0.1` or `v1.0.1`.
    public init(commandLine text: String) throws(SemVerError) {
        if text.hasPrefix("v") {
            try self.init(parsing: String(text.dropFirst()))
        } else {
            try self.init(parsing: text)
        }
    }

    /// Precedence per semver.org §11: build metadata is ignored.
    public static func < (lhs: SemVer, rhs: SemVer) -> Bool {
        comparePrecedence(lhs, rhs) < 0
    }

    /// Equality of precedence: `1.0.0+a` and `1.0.0+b` have the same precedence but are different versions.
    public func hasSamePrecedence(as other: SemVer) -> Bool {
        Self.comparePrecedence(self, other) == 0
    }

    public static func comparePrecedence(_ lhs: SemVer, _ rhs: SemVer) -> Int {
        for (a, b) in [(lhs.major, rhs.major), (lhs.minor, rhs.minor), (lhs.patch, rhs.patch)] {
            let order = compareDigits(a, b)
            if order != 0 { return order }
        }
        switch (lhs.preRelease.isEmpty, rhs.preRelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1   // a release outranks its pre-releases
        case (false, true): return -1
        case (false, false): break
        }
        for (a, b) in zip(lhs.preRelease, rhs.preRelease) {
            let aNumeric = a.allSatisfy(\.isASCIIDigit)
            let bNumeric = b.allSatisfy(\.isASCIIDigit)
            let order: Int
            switch (aNumeric, bNumeric) {
            case (true, true): order = compareDigits(a, b)
            case (true, false): order = -1   // numeric identifiers sort before alphanumeric ones
            case (false, true): order = 1
            case (false, false): order = a == b ? 0 : (Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) ? -1 : 1)
            }
            if order != 0 { return order }
        }
        return lhs.preRelease.count == rhs.preRelease.count ? 0 : (lhs.preRelease.count < rhs.preRelease.count ? -1 : 1)
    }

    /// Compares unbounded non-negative integers written without leading zeros.
    private static func compareDigits(_ a: String, _ b: String) -> Int {
        if a.count != b.count { return a.count < b.count ? -1 : 1 }
        return a == b ? 0 : (a < b ? -1 : 1)
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "0"..."9", "a"..."z", "A"..."Z", "-": true
        default: false
        }
    }

    private static func show(_ scalar: Unicode.Scalar) -> String {
        scalar.isASCII && scalar.value >= 0x21 && scalar.value < 0x7f ? "'\(scalar)'" : "U+\(String(scalar.value, radix: 16, uppercase: true))"
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

public struct SemVerError: Error, Sendable, Equatable, CustomStringConvertible {
    public let input: String
    public let rule: String
    init(_ input: String, _ rule: String) {
        self.input = input
        self.rule = rule
    }
    public var description: String { "\"\(input)\" is not a semantic version: \(rule)" }

    public var opsError: OpsError {
        OpsError(.usage, code: "semver.invalid", description,
                 details: ["expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. 1.0.1 or v1.0.1 (https://semver.org)"])
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
