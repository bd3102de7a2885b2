// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// The one error type opsctl throws. `code` is a stable, dotted identifier that scripts can
/// match on; `exitCode` follows the contract in docs/reference.md, "Exit codes" (sysexits where one fits).
public struct OpsError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        case checkFailed          // a verify, smoke or health assertion failed
        case deployRolledBack     // deploy failed, previous version restored
        case serviceMayBeDown     // deploy or rollback failed and could not recover
        case lockHeld             // another run holds the lock
        case usage                // bad arguments: semver, unknown env
        case unavailable          // docker daemon, git, a binary missing
        case software             // a bug or an unexpected state inside opsctl
        case io                   // disk full, unreadable or unwritable file
        case config               // opsctl.yml is invalid
        case outsideWindow        // a point in time outside what a replica can restore
        case identityMismatch     // an encrypted backup and no identity, or one that does not match its recipients
        case noSuchIncident       // no open incident to close or note, or an unknown incident id
        case databaseMissing      // the environment's database file does not exist
        case databaseCorrupt      // the database fails SQLite's own integrity checks, or is not SQLite
        case databaseBusy         // the database stayed locked past the busy timeout
        case databaseMode         // the database is not in the mode the operation needs (e.g. not WAL)

        public var exitCode: Int32 {
            switch self {
            case .checkFailed: 1
            case .deployRolledBack: 3
            case .serviceMayBeDown: 4
            case .lockHeld: 5
            case .usage: 64
            case .unavailable: 69
            case .software: 70
            case .io: 74
            case .config: 78
            case .outsideWindow: 6
            case .identityMismatch: 7
            case .noSuchIncident: 8
            case .databaseMode: 9
            case .databaseCorrupt: 65
            case .databaseMissing: 66
            case .databaseBusy: 75
            }
        }
    }

    public let kind: Kind
    /// Stable identifier, e.g. `config.unknown_key`, `semver.invalid`, `docker.unavailable`.
    public let code: String
    public let message: String
    /// Extra lines for humans (a stderr tail, a suggestion). Never contains secrets.
    public let details: [String]

    public init(_ kind: Kind, code: String, _ message: String, details: [String] = []) {
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details
    }

    public var exitCode: Int32 { kind.exitCode }
    public var description: String { message }
}

/// The JSON shape of an error on stdout under `--json`.
public struct ErrorReport: Encodable, Sendable {
    public let ok = false
    public let error: Body

    public struct Body: Encodable, Sendable {
        public let code: String
        public let kind: OpsError.Kind
        public let exitCode: Int32
        public let message: String
        public let details: [String]
    }

    public init(_ error: OpsError) {
        self.error = Body(code: error.code, kind: error.kind, exitCode: error.exitCode,
                          message: error.message, details: error.details)
    }
}
