// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The pages of a generation's snapshot on their way to the compressor: in memory when the
/// database comfortably fits (the policy backups use), else in a scratch file, removed when this
/// goes (and, after a kill, when `replicate` starts again: `ReplicaStore.removeTemporaryFiles`).
final class SnapshotImage {
    private var memory: [UInt8] = []
    private let scratch: HashingFile?
    private var mapped: Data?

    /// `destination`: where the pages go; by default memory when the database fits.
    static let scratchPrefix = "\(BackupNaming.temporaryPrefix)replica-snapshot-"
    static func scratchName(pid: Int32) -> String { "\(scratchPrefix)\(pid).db" }

    /// The pid in a scratch file's name, nil for any other file.
    static func scratchOwner(_ fileName: String) -> Int32? {
        guard fileName.hasPrefix(scratchPrefix), fileName.hasSuffix(".db") else { return nil }
        return Int32(fileName.dropFirst(scratchPrefix.count).dropLast(3))
    }

    /// `scratchDirectory`: the replica's own directory, or next to the database when the replica
    /// is encrypted (plaintext never lands beside it).
    init(bytes: Int64, databasePath: String, scratchDirectory: String, destination: OnlineSnapshot.Destination? = nil) throws(OpsError) {
        let scratchPath = "\(scratchDirectory)/\(Self.scratchName(pid: getpid()))"
        switch destination ?? OnlineSnapshot.destination(forDatabase: databasePath, scratchFile: scratchPath) {
        case .memory:
            scratch = nil
            memory.reserveCapacity(Int(bytes))
        case .file(let path):
            unlink(path)
            scratch = try HashingFile(creating: path)
        }
    }

    deinit {
        scratch?.closeQuietly()
        if let scratch { unlink(scratch.path) }
    }

    func append(_ page: [UInt8]) throws(OpsError) {
        guard let scratch else { memory += page; return }
        try page.withUnsafeBytes { bytes in Result { () throws(OpsError) in try scratch.write(bytes) } }.get()
    }

    /// The whole image as one buffer: the array, or the scratch file mapped.
    func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws(OpsError) -> T) throws(OpsError) -> T {
        guard let scratch else {
            return try memory.withUnsafeBytes { bytes in Result { () throws(OpsError) in try body(bytes) } }.get()
        }
        if mapped == nil {
            try scratch.synchronizeAndClose()
            do { mapped = try Data(contentsOf: URL(fileURLWithPath: scratch.path), options: .alwaysMapped) } catch {
                throw OpsError(.io, code: "replica.unreadable", "\(scratch.path): cannot map the snapshot: \(YAMLReader.reason(error))")
            }
        }
        return try mapped!.withUnsafeBytes { bytes in Result { () throws(OpsError) in try body(bytes) } }.get()
    }
}
