// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CSQLite
import CZlib
import Crypto
import Foundation

/// Proves a backup restores: in one streaming pass over the file, the gzip structure (header,
/// CRC-32, ISIZE, truncation, trailing garbage) and its SHA-256 against the manifest, while
/// inflating into a temp file; then SQLite's own checks on that file and the page count
/// against the manifest. `gzip -t` alone passes a perfectly compressed corrupt database.
public struct VerificationResult: Sendable, Codable, Equatable {
    public var file: String
    public var ok: Bool
    /// The first problem found, e.g. `CRC mismatch`, `truncated at byte 1234`.
    public var reason: String?
    public var hasManifest: Bool
    public var compressedBytes: Int64
    public var databaseBytes: Int64
    public var pageCount: Int?
    public var deep: Bool
    public var durationMs: Int
    /// Worth knowing, not a problem: e.g. the file is a renamed copy of the backup its manifest names.
    public var note: String?
    /// An age-encrypted backup (decrypted on the fly when an identity was at hand).
    public var encrypted = false
    /// Set when an encrypted backup was checked without an identity: what was not checked, and why.
    public var skipped: String?
}

public enum BackupVerifier {
    static let readSize = 1 << 20

    /// Verifies one backup file. Problems in the backup are results (`ok: false`), not thrown;
    /// only failures of this machine (temp space, I/O) throw.
    /// `keepAs`: inflate into this path and leave it there when the backup is sound (restore).
    /// `keys`: what decrypts an age-encrypted backup (none: the checks that need no key, and a note).
    public static func verify(path: String, deep: Bool, temporaryDirectory: String, keepAs: String? = nil,
                              keys: BackupKeys = .none("no identity was given")) throws(OpsError) -> VerificationResult {
        let manifestPath = path + BackupNaming.manifestSuffix
        var manifest: BackupManifest?
        var manifestProblem: String?
        if FileManager.default.fileExists(atPath: manifestPath) {
            do { manifest = try BackupManifest.read(manifestPath) } catch { manifestProblem = "manifest unreadable: \(error.message)" }
        }
        guard let input = FileHandle(forReadingAtPath: path) else {
            throw OpsError(.io, code: "verify.unreadable", "\(path): cannot open: \(String(cString: strerror(errno)))")
        }
        defer { try? input.close() }
        return try verify(input: input, file: path, manifest: manifest, manifestProblem: manifestProblem, deep: deep,
                          temporaryDirectory: temporaryDirectory, keepAs: keepAs, keys: keys)
    }

    /// The same checks on a backup read from `input` (a file, or an off-site copy as it downloads).
    /// `file` names it in the result; its last path component must be the manifest's file.
    static func verify(input: FileHandle, file: String, manifest: BackupManifest?, manifestProblem: String?, deep: Bool,
                       temporaryDirectory: String, keepAs: String?, keys: BackupKeys) throws(OpsError) -> VerificationResult {
        let started = ContinuousClock.now
        let fileName = URL(fileURLWithPath: file).lastPathComponent
        var result = VerificationResult(file: file, ok: false, reason: nil, hasManifest: manifest != nil, compressedBytes: 0,
                                        databaseBytes: 0, pageCount: nil, deep: deep, durationMs: 0)
        func finish(_ reason: String?) -> VerificationResult {
            result.ok = reason == nil
            result.reason = reason
            result.durationMs = (ContinuousClock.now - started).milliseconds
            return result
        }
        if let manifestProblem { return finish(manifestProblem) }
        // Copies are normal (pre-migration.db.gz, a download from off-site storage): the bytes
        // decide, through the manifest's SHA-256 and size below, not the name.
        if let manifest, manifest.file != fileName {
            result.note = "a copy of \(manifest.file) (its manifest names that file; sha256 and size checked against it)"
        }

        let source = BackupSource(input: input, expectAge: BackupNaming.isEncrypted(fileName) || manifest?.encryption != nil,
                                  identities: keys.identities)
        result.encrypted = source.isAge
        if source.isAge, !keys.hasIdentity {
            // Restoring needs the database itself; a verify does what it can without the key.
            if keepAs != nil { throw keys.missing(for: fileName) }
            return finish(checkWithoutIdentity(source, manifest: manifest, keys: keys, result: &result))
        }
        let temporary = keepAs ?? "\(temporaryDirectory)/\(BackupNaming.temporaryPrefix)verify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).db"
        var keep = false
        defer {
            if !keep { unlink(temporary) }
            for suffix in ["-journal", "-wal", "-shm"] { unlink(temporary + suffix) }
        }
        let stream: GzipCheck
        let readAhead = ReadAhead(source.next)
        do {
            defer { readAhead.stop() }   // before the catches below read the source
            stream = try GzipCheck.inflate(read: readAhead.next, into: temporary)
        } catch let failure as GzipCheck.Failure {
            result.compressedBytes = source.isAge ? source.fileBytes : failure.compressedBytes
            return finish(failure.reason)
        } catch let mismatch as BackupSource.IdentityMismatch {
            result.compressedBytes = source.fileBytes
            return finish(try damagedOrMismatched(mismatch, file: fileName, manifest: manifest, keys: keys))
        } catch let error as OpsError {
            throw error
        } catch {
            throw OpsError(.software, code: "verify.failed", "\(file): \(error)")
        }
        result.compressedBytes = source.isAge ? source.fileBytes : stream.compressedBytes
        result.databaseBytes = stream.uncompressedBytes
        if let manifest, let problem = differences(source, stream, manifest: manifest) { return finish(problem) }
        let problem = try checkDatabase(temporary, deep: deep, manifest: manifest, result: &result)
        keep = problem == nil && keepAs != nil
        return finish(problem)
    }

    /// The file's hash and size against the manifest; for an age file, the gzip stream's too.
    static func differences(_ source: BackupSource, _ stream: GzipCheck, manifest: BackupManifest) -> String? {
        let (sha256, bytes) = source.isAge ? (source.fileSha256, source.fileBytes) : (stream.sha256, stream.compressedBytes)
        if sha256 != manifest.sha256 { return "sha256 differs from manifest" }
        if bytes != manifest.bytes { return "size \(bytes) differs from manifest (\(manifest.bytes))" }
        if source.isAge, let inner = manifest.encryption, inner.plaintextSha256 != stream.sha256 {
            return "the decrypted gzip stream's sha256 differs from manifest"
        }
        return nil
    }

    /// An encrypted backup and no identity: the ciphertext's SHA-256 and size against the
    /// manifest, the age header, and a payload length that is a whole STREAM. nil when all hold.
    static func checkWithoutIdentity(_ source: BackupSource, manifest: BackupManifest?, keys: BackupKeys,
                                     result: inout VerificationResult) -> String? {
        let header = source.readHeaderOnly()
        result.compressedBytes = source.fileBytes
        result.skipped = "deep check skipped: \(keys.unavailable ?? "no identity"); the database inside was not checked"
        if let manifest {
            if source.fileSha256 != manifest.sha256 { return "sha256 differs from manifest" }
            if source.fileBytes != manifest.bytes { return "size \(source.fileBytes) differs from manifest (\(manifest.bytes))" }
        }
        switch header {
        case .failure(let failure): return failure.description
        case .success(let parsed):
            if let recipients = manifest?.encryption?.recipients, recipients.count != parsed.stanzas.count {
                return "the age header has \(parsed.stanzas.count) recipient stanza(s), the manifest lists \(recipients.count) recipient(s)"
            }
            return nil
        }
    }

    /// No identity opened the file. When the manifest says it was encrypted to one of them, the
    /// header is damaged (a result); otherwise the key is wrong (exit 7, nothing checked).
    static func damagedOrMismatched(_ mismatch: BackupSource.IdentityMismatch, file: String, manifest: BackupManifest?,
                                    keys: BackupKeys) throws(OpsError) -> String {
        let ours = keys.identities.map(\.recipient.description)
        let recipients = manifest?.encryption?.recipients ?? []
        if let match = recipients.first(where: ours.contains) {
            return "the age header's stanza for \(match) does not open with its identity: the header is damaged"
        }
        let encryptedTo = recipients.isEmpty ? "\(mismatch.stanzas.count) recipient stanza(s)" : recipients.joined(separator: ", ")
        throw OpsError(.identityMismatch, code: "encryption.identity_mismatch",
                       "\(file): the identity does not match the backup's recipients (encrypted to \(encryptedTo); the identity is for \(ours.joined(separator: ", ")))",
                       details: ["use the identity whose public key (age-keygen -y FILE) is one of the backup's recipients"])
    }

    /// SQLite's checks on the inflated copy; nil when it is sound.
    static func checkDatabase(_ path: String, deep: Bool, manifest: BackupManifest?, result: inout VerificationResult) throws(OpsError) -> String? {
        guard result.databaseBytes > 0 else { return "the backup holds an empty file, not a database" }
        do { try OnlineSnapshot.requireSQLiteHeader(path) } catch { return "not an SQLite database (bad header)" }
        let database: SQLiteDatabase
        do { database = try SQLiteDatabase(path: path, mode: .readOnly) } catch { return "cannot open as a database: \(error.message)" }
        do {
            let pageCount = try database.pragmaInt("page_count")
            result.pageCount = pageCount
            if let manifest, pageCount != manifest.database.pageCount {
                return "page count \(pageCount) differs from manifest (\(manifest.database.pageCount))"
            }
            let check = deep ? "integrity_check" : "quick_check"
            let problems = try database.query("PRAGMA \(check)").compactMap { $0.string(0) }
            if problems != ["ok"] { return "\(check): " + problems.prefix(3).joined(separator: "; ") }
            if deep {
                let violations = try database.query("PRAGMA foreign_key_check")
                if let first = violations.first {
                    return "foreign_key_check: \(violations.count) violation(s), first in table \(first.string(0) ?? "?") row \(first.string(1) ?? "?")"
                }
            }
        } catch {
            // SQLite's own verdict on the bytes is a result; a failure of this machine (I/O, memory) is not.
            guard let failure = database.lastFailure, SQLiteDatabase.isCorruption(failure.code) || failure.code & 0xff == SQLITE_ERROR else { throw error }
            return "database is corrupt: \(failure.message) (sqlite code \(failure.code))"
        }
        return nil
    }
}
