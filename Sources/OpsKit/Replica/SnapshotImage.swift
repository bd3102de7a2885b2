// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The pages of a generation's snapshot on their way to the compressor: in memory when the
/// database comfortably fits (the policy backups use), else in a scratch file next to the
/// database (plaintext never lands beside the replica), removed when this goes.
final class SnapshotImage {
    private var memory: [UInt8] = []
    private let scratch: HashingFile?
    private var mapped: Data?

    /// `destination`: where the pages go; by default memory when the database fits.
    init(bytes: Int64, databasePath: String, destination: OnlineSnapshot.Destination? = nil) throws(OpsError) {
        let scratchPath = URL(fileURLWithPath: databasePath).deletingLastPathComponent().path
            + "/\(BackupNaming.temporaryPrefix)replica-snapshot-\(getpid()).db"
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
