// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// One recipient stanza of an age header: `-> TYPE ARG…` and a base64 body wrapped at 64 columns.
public struct AgeStanza: Sendable, Equatable {
    public var type: String
    public var arguments: [String]
    public var body: [UInt8]

    public init(type: String, arguments: [String], body: [UInt8]) {
        self.type = type
        self.arguments = arguments
        self.body = body
    }

    func encoded() -> [UInt8] {
        var text = "->" + ([type] + arguments).map { " " + $0 }.joined() + "\n"
        let base64 = AgeBase64.encode(body)
        var index = base64.startIndex
        // Full 64-column lines, then a final line shorter than 64 (empty when the body fills the last one).
        while base64.distance(from: index, to: base64.endIndex) >= AgeHeader.columnsPerLine {
            let end = base64.index(index, offsetBy: AgeHeader.columnsPerLine)
            text += base64[index..<end] + "\n"
            index = end
        }
        text += base64[index...] + "\n"
        return Array(text.utf8)
    }
}

/// The textual header of an age v1 file (c2sp.org/age, "Header"): the version line, one or more
/// recipient stanzas, and `--- MAC`, where the MAC is HMAC-SHA-256 over everything up to and
/// including `---`, keyed by HKDF(file key, info "header").
public struct AgeHeader: Sendable, Equatable {
    public static let versionLine = "age-encryption.org/v1\n"
    static let versionPrefix = "age-encryption.org/"
    static let columnsPerLine = 64
    static let bytesPerLine = columnsPerLine / 4 * 3
    /// Far more than any real header (each X25519 stanza is about 100 bytes); stops a search for
    /// the end of a header in a file that is not one.
    static let maximumLength = 1 << 20

    public var stanzas: [AgeStanza]
    public var mac: [UInt8]
    /// The exact bytes the MAC covers: the header up to and including `---`.
    var macInput: [UInt8]
    /// The whole header, `--- MAC\n` included.
    public var length: Int

    /// A new header for `stanzas`, with its MAC computed from `fileKey`.
    init(stanzas: [AgeStanza], fileKey: SymmetricKey) {
        self.stanzas = stanzas
        var bytes = Array(Self.versionLine.utf8)
        for stanza in stanzas { bytes += stanza.encoded() }
        bytes += Array("---".utf8)
        macInput = bytes
        mac = Self.mac(over: bytes, fileKey: fileKey)
        length = bytes.count + 1 + 43 + 1
    }

    func encoded() -> [UInt8] { macInput + Array((" " + AgeBase64.encode(mac) + "\n").utf8) }

    static func mac(over bytes: [UInt8], fileKey: SymmetricKey) -> [UInt8] {
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: fileKey, salt: [UInt8](), info: Array("header".utf8), outputByteCount: 32)
        return Array(HMAC<SHA256>.authenticationCode(for: bytes, using: key))
    }

    func hasValidMAC(fileKey: SymmetricKey) -> Bool {
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: fileKey, salt: [UInt8](), info: Array("header".utf8), outputByteCount: 32)
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: macInput, using: key)
    }

    /// What the start of a stream says: not yet enough bytes, or the header's length once its
    /// `---` line is complete. Throws as soon as the bytes cannot be an age v1 header.
    static func headerLength(in bytes: UnsafeRawBufferPointer) throws(AgeError) -> Int? {
        let intro = Array(versionLine.utf8)
        let prefix = min(bytes.count, intro.count)
        if !bytes.prefix(prefix).elementsEqual(intro.prefix(prefix)) {
            let introPrefix = Array(versionPrefix.utf8)
            if bytes.count >= introPrefix.count, bytes.prefix(introPrefix.count).elementsEqual(introPrefix) {
                let line = bytes.prefix(while: { $0 != 0x0a }).dropFirst(introPrefix.count)
                throw .unsupportedVersion(String(decoding: line.prefix(40), as: UTF8.self))
            }
            throw .notAgeFile(bytes.isEmpty ? "empty" : "it does not start with \"age-encryption.org/v1\"")
        }
        guard bytes.count > intro.count else { return nil }
        // The footer is the first line starting with "---": base64 bodies never contain '-', and
        // stanza lines start with "->".
        var lineStart = intro.count
        while lineStart < bytes.count {
            guard let newline = bytes[lineStart...].firstIndex(of: 0x0a) else { break }
            if newline - lineStart >= 3, bytes[lineStart] == 0x2d, bytes[lineStart + 1] == 0x2d, bytes[lineStart + 2] == 0x2d {
                return newline + 1
            }
            lineStart = newline + 1
        }
        if bytes.count > maximumLength { throw .malformedHeader("no \"---\" line in the first \(maximumLength) bytes") }
        return nil
    }

    /// Parses a complete header (as `headerLength` delimited it), strictly: canonical base64,
    /// every stanza ending with a short line, a 32-byte MAC.
    static func parse(_ bytes: [UInt8]) throws(AgeError) -> AgeHeader {
        var lines = bytes.split(separator: 0x0a, omittingEmptySubsequences: false)[...]
        guard bytes.last == 0x0a else { throw .malformedHeader("the header does not end with a newline") }
        lines = lines.dropLast()   // after the final newline
        guard let first = lines.popFirst(), first.elementsEqual(versionLine.utf8.dropLast()) else {
            throw .notAgeFile("it does not start with \"age-encryption.org/v1\"")
        }
        var stanzas: [AgeStanza] = []
        var consumed = versionLine.utf8.count
        while let line = lines.popFirst() {
            if line.starts(with: Array("---".utf8)) {
                let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].elementsEqual("---".utf8), lines.isEmpty,
                      let mac = AgeBase64.decode(parts[1]), mac.count == 32 else {
                    throw .malformedHeader("bad MAC line \(quoted(line))")
                }
                guard !stanzas.isEmpty else { throw .malformedHeader("no recipient stanza") }
                return AgeHeader(stanzas: stanzas, mac: mac, macInput: Array(bytes[..<(consumed + 3)]), length: bytes.count)
            }
            consumed += line.count + 1
            let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].elementsEqual("->".utf8),
                  parts.dropFirst().allSatisfy({ !$0.isEmpty && $0.allSatisfy { (33...126).contains($0) } }) else {
                throw .malformedHeader("bad stanza line \(quoted(line))")
            }
            var body: [UInt8] = []
            while true {
                guard let bodyLine = lines.popFirst() else { throw .malformedHeader("a stanza ends without its final short line") }
                consumed += bodyLine.count + 1
                guard let decoded = AgeBase64.decode(bodyLine) else { throw .malformedHeader("bad stanza body line \(quoted(bodyLine))") }
                guard decoded.count <= bytesPerLine else { throw .malformedHeader("stanza body line longer than 64 columns") }
                body += decoded
                if decoded.count < bytesPerLine { break }
            }
            let words = parts.dropFirst().map { String(decoding: $0, as: UTF8.self) }
            stanzas.append(AgeStanza(type: words[0], arguments: Array(words.dropFirst()), body: body))
        }
        throw .malformedHeader("no MAC line")
    }

    private init(stanzas: [AgeStanza], mac: [UInt8], macInput: [UInt8], length: Int) {
        self.stanzas = stanzas
        self.mac = mac
        self.macInput = macInput
        self.length = length
    }

    static func quoted(_ line: ArraySlice<UInt8>) -> String {
        let text = String(decoding: line.prefix(70), as: UTF8.self)
        return "\"" + text.replacingOccurrences(of: "\r", with: "\\r") + (line.count > 70 ? "…" : "") + "\""
    }
}

/// RFC 4648 base64 without padding, as age writes it; decoding rejects padding, line breaks and
/// any non-canonical encoding (spare bits set), as the spec requires.
enum AgeBase64 {
    static func encode(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    static func decode<Bytes: Collection>(_ text: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        guard text.count % 4 != 1 else { return nil }
        let alphabet = { (byte: UInt8) in
            (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2b || byte == 0x2f
        }
        guard text.allSatisfy(alphabet) else { return nil }
        let string = String(decoding: text, as: UTF8.self)
        let padded = string + String(repeating: "=", count: (4 - string.count % 4) % 4)
        guard let data = Data(base64Encoded: padded) else { return nil }
        let bytes = [UInt8](data)
        // Canonical: re-encoding gives the same text (no spare bits set in the last character).
        guard encode(bytes) == string else { return nil }
        return bytes
    }
}
