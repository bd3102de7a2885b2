// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// What can go wrong reading or writing an age file. Each case says what an operator needs to
/// know; `opsError` maps them onto opsctl's exit codes (a key that does not fit is exit 7, a
/// damaged file is a failed check).
public enum AgeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not an age file at all (no `age-encryption.org/v1` line), or an empty one.
    case notAgeFile(String)
    /// An age file of a version other than v1.
    case unsupportedVersion(String)
    /// The header does not parse: a damaged or hand-edited file.
    case malformedHeader(String)
    /// None of the identities unwraps any recipient stanza of the file.
    case noMatchingIdentity(stanzas: [String])
    /// The file key was unwrapped but the header's MAC does not match: the header was changed.
    case badHeaderMAC
    /// A payload chunk does not authenticate: corruption or tampering.
    case payloadCorrupt(chunk: Int, atByte: Int64)
    /// The last chunk in the file does not authenticate: cut short inside it, or damaged.
    case finalChunkCorrupt(chunk: Int, atByte: Int64)
    /// The file ends before the final chunk.
    case truncated(atByte: Int64)
    /// Bytes after the final chunk.
    case trailingData(atByte: Int64)
    /// A recipient (`age1…`) that does not parse.
    case malformedRecipient(String)
    /// An identity line that does not parse; never carries the line itself.
    case malformedIdentity(String)
    /// The encryptor was given no recipients.
    case noRecipients

    public var description: String {
        switch self {
        case .notAgeFile(let why): "not an age file (\(why))"
        case .unsupportedVersion(let version): "unsupported age format version \"\(version)\" (opsctl reads age-encryption.org/v1)"
        case .malformedHeader(let why): "damaged age header: \(why)"
        case .noMatchingIdentity(let stanzas):
            "the identity does not match the backup's recipients (the file has \(stanzas.count) recipient stanza(s): \(stanzas.joined(separator: ", ")))"
        case .badHeaderMAC: "damaged age header: its MAC does not match (the header was changed after encryption)"
        case .payloadCorrupt(let chunk, let byte):
            "age payload chunk \(chunk) (at byte \(byte)) does not authenticate: the file is corrupted or was tampered with"
        case .finalChunkCorrupt(let chunk, let byte):
            "the last age payload chunk in the file, chunk \(chunk) (at byte \(byte)), does not authenticate: the file is truncated or corrupted"
        case .truncated(let byte): "truncated at byte \(byte): the age payload ends before its final chunk"
        case .trailingData(let byte): "trailing data after the age payload's final chunk at byte \(byte)"
        case .malformedRecipient(let why): "malformed age recipient: \(why)"
        case .malformedIdentity(let why): "malformed age identity: \(why)"
        case .noRecipients: "no age recipients given"
        }
    }

    /// A key that does not fit is exit 7 (`identityMismatch`); a damaged file is a failed check.
    public var opsError: OpsError {
        switch self {
        case .noMatchingIdentity: OpsError(.identityMismatch, code: "encryption.identity_mismatch", description)
        case .malformedRecipient, .malformedIdentity, .noRecipients: OpsError(.config, code: "encryption.bad_key", description)
        default: OpsError(.checkFailed, code: "encryption.corrupt", description)
        }
    }
}
