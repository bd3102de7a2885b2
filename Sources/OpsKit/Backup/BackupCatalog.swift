// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `<name>_<YYYYMMDD_HHMMSS>.db.gz`, UTC: the seed script's naming, so its backups are managed too.
/// An encrypted backup is the same name with `.age` after it: `<name>_<stamp>.db.gz.age`.
public enum BackupNaming {
    public static let suffix = ".db.gz"
    public static let ageExtension = ".age"
    public static let encryptedSuffix = suffix + ageExtension

    /// Encrypted (age) by its name: the one thing every listing, local or remote, can tell.
    public static func isEncrypted(_ fileName: String) -> Bool { fileName.hasSuffix(ageExtension) }
    public static let manifestSuffix = ".manifest.json"
    /// Work files of a running backup; hidden, and never matching the backup pattern.
    public static let temporaryPrefix = ".opsctl-tmp-"

    /// One lock per directory and name serialises every backup, prune and restore of a database.
    public static func lockPath(directory: String, name: String) -> String { "\(directory)/.\(name).opsctl-backup.lock" }

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    public static func fileName(name: String, time: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: time)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(name)_\(pad(parts.year, 4))\(pad(parts.month, 2))\(pad(parts.day, 2))_\(pad(parts.hour, 2))\(pad(parts.minute, 2))\(pad(parts.second, 2))\(suffix)"
    }

    /// The backup time, when `fileName` is exactly `<name>_YYYYMMDD_HHMMSS.db.gz` (or `.db.gz.age`)
    /// with a real date.
    public static func time(of fileName: String, name: String) -> Date? {
        let prefix = name + "_"
        let ending = isEncrypted(fileName) ? encryptedSuffix : suffix
        guard fileName.hasPrefix(prefix), fileName.hasSuffix(ending) else { return nil }
        let stamp = Array(fileName.dropFirst(prefix.count).dropLast(ending.count).utf8)
        guard stamp.count == 15, stamp[8] == UInt8(ascii: "_") else { return nil }
        let digits = stamp[0..<8] + stamp[9..<15]
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        func number(_ range: Range<Int>) -> Int { range.reduce(0) { $0 * 10 + Int(stamp[$1] - UInt8(ascii: "0")) } }
        let components = DateComponents(year: number(0..<4), month: number(4..<6), day: number(6..<8),
                                        hour: number(9..<11), minute: number(11..<13), second: number(13..<15))
        guard (1...12).contains(components.month!), (1...31).contains(components.day!), components.hour! < 24,
              components.minute! < 60, components.second! < 60,
              let date = utc.date(from: components),
              utc.dateComponents([.day], from: date).day == components.day else { return nil }
        return date
    }

    /// The default backup name for a database file: `dashboard.db` -> `dashboard`.
    public static func defaultName(forDatabase path: String) -> String {
        let file = URL(fileURLWithPath: path).lastPathComponent
        for ending in [".sqlite3", ".sqlite", ".db"] where file.hasSuffix(ending) && file.count > ending.count {
            return String(file.dropLast(ending.count))
        }
        return file
    }

    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)
        }
    }
}

/// What a backup manifest records (`<file>.manifest.json`, next to the backup).
public struct BackupManifest: Codable, Sendable, Equatable {
    public static let formatName = "opsctl-backup-manifest/1"

    public struct Database: Codable, Sendable, Equatable {
        public var source: String
        public var bytes: Int64
        public var pageSize: Int
        public var pageCount: Int
        public var journalMode: String
        public var lockWindowMs: Int
    }

    public struct Compression: Codable, Sendable, Equatable {
        public var format: String
        public var level: Int
        public var blockSize: Int
        public var threads: Int
    }

    public struct Verification: Codable, Sendable, Equatable {
        public var status: VerificationStatus
        public var at: Date
        public var deep: Bool
        public var reason: String?
        /// An encrypted backup checked without an identity: why the database inside was not.
        public var skipped: String?
    }

    public var format: String = Self.formatName
    public var file: String
    public var sha256: String
    public var bytes: Int64
    public var crc32: UInt32
    public var database: Database
    public var compression: Compression
    public var createdAt: Date
    public var durationMs: Int
    public var copyMs: Int
    public var compressMs: Int
    public var sqliteVersion: String
    public var opsctlVersion: String
    public var verification: Verification?
    /// Set for an encrypted backup (absent in older manifests and for plaintext backups): then
    /// `sha256` and `bytes` are the age file's, and this holds the gzip stream's inside it.
    public var encryption: Encryption?

    public struct Encryption: Codable, Sendable, Equatable {
        /// `age-encryption.org/v1`.
        public var format: String
        /// The age1… public keys it was encrypted to (public: which identity restores it).
        public var recipients: [String]
        /// SHA-256 and size of the gzip stream (what `age -d` prints).
        public var plaintextSha256: String
        public var plaintextBytes: Int64
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    public func encoded() throws(OpsError) -> Data {
        do { return try Self.encoder.encode(self) + Data("\n".utf8) } catch {
            throw OpsError(.software, code: "manifest.encode", "cannot encode the manifest: \(error)")
        }
    }

    public static func read(_ path: String) throws(OpsError) -> BackupManifest {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw OpsError(.io, code: "manifest.unreadable", "\(path): cannot read: \(YAMLReader.reason(error))")
        }
        do { return try decoder.decode(BackupManifest.self, from: data) } catch {
            throw OpsError(.checkFailed, code: "manifest.invalid", "\(path): not a valid opsctl manifest")
        }
    }
}

/// One backup file in a directory.
public struct BackupEntry: Sendable, Encodable {
    public var file: String
    public var path: String
    public var time: Date
    public var bytes: Int64
    public var manifest: BackupManifest?
    /// `<name>_<stamp>.db.gz.age`: age-encrypted.
    public var encrypted = false
    /// Set when a manifest file exists but cannot be read.
    public var manifestError: String?

    public var verified: Bool { manifest?.verification?.status == .ok }

    public var manifestPath: String { path + BackupNaming.manifestSuffix }
    /// Uncompressed database size over compressed size, from the manifest.
    public var ratio: Double? {
        guard let manifest, bytes > 0 else { return nil }
        return Double(manifest.database.bytes) / Double(bytes)
    }
}

public enum BackupCatalog {
    /// Backups of `name` in `directory`, newest first. Files not matching the pattern are ignored.
    public static func list(directory: String, name: String, readManifests: Bool = true) throws(OpsError) -> [BackupEntry] {
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw OpsError(.io, code: "backup.dir_unreadable", "\(directory): cannot list backups: \(YAMLReader.reason(error))")
        }
        var entries: [BackupEntry] = []
        for file in files {
            guard let time = BackupNaming.time(of: file, name: name) else { continue }
            let path = "\(directory)/\(file)"
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            var entry = BackupEntry(file: file, path: path, time: time, bytes: Int64(info.st_size))
            entry.encrypted = BackupNaming.isEncrypted(file)
            if readManifests, FileManager.default.fileExists(atPath: entry.manifestPath) {
                do { entry.manifest = try BackupManifest.read(entry.manifestPath) } catch { entry.manifestError = error.message }
            }
            entries.append(entry)
        }
        return entries.sorted { $0.time > $1.time || ($0.time == $1.time && $0.file > $1.file) }
    }
}

extension BackupCatalog {
    /// The backup names present in a directory (`dashboard` for `dashboard_20261122_020000.db.gz`).
    public static func names(in directory: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var names = Set<String>()
        for file in files where (file.hasSuffix(BackupNaming.suffix) || file.hasSuffix(BackupNaming.encryptedSuffix)) && !file.hasPrefix(".") {
            let stem = file.dropLast(BackupNaming.isEncrypted(file) ? BackupNaming.encryptedSuffix.count : BackupNaming.suffix.count)
            guard stem.count > 16 else { continue }
            let name = String(stem.dropLast(16))
            if BackupNaming.time(of: file, name: name) != nil { names.insert(name) }
        }
        return names.sorted()
    }

    /// `--name`, or the only backup name in the directory.
    public static func resolveName(_ explicit: String?, directory: String) throws(OpsError) -> String {
        if let explicit { return explicit }
        let found = names(in: directory)
        guard found.count == 1 else {
            throw OpsError(.usage, code: "backup.name_needed",
                           found.isEmpty ? "no backups (<name>_YYYYMMDD_HHMMSS.db.gz[.age]) in \(directory); pass --name"
                                         : "\(directory) holds backups of several names (\(found.joined(separator: ", "))); pass --name")
        }
        return found[0]
    }
}
