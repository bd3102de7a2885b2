// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Writes files so a reader sees the old content or the new, never a half-written mix:
/// a temp file in the same directory, fsync, rename over the target, fsync the directory.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, permissions: mode_t = 0o644) throws(OpsError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = "\(directory)/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard descriptor >= 0 else { throw failure("cannot create \(temporary)") }
        var written = 0
        let writeError: Int32? = data.withUnsafeBytes { buffer -> Int32? in
            while written < buffer.count {
                let count = Foundation.write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if count < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += count
            }
            return nil
        }
        if let writeError {
            close(descriptor)
            unlink(temporary)
            throw failure("cannot write \(path)", errno: writeError)
        }
        // fchmod: the umask must not weaken (or widen) the mode we asked for.
        guard fchmod(descriptor, permissions) == 0, fsync(descriptor) == 0 else {
            let code = errno
            close(descriptor)
            unlink(temporary)
            throw failure("cannot sync \(path)", errno: code)
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw failure("cannot move the new \(path) into place", errno: code)
        }
        syncDirectory(directory)
    }

    public static func write(_ text: String, to path: String, permissions: mode_t = 0o644) throws(OpsError) {
        try write(Data(text.utf8), to: path, permissions: permissions)
    }

    /// Makes a rename durable: the directory entry itself must reach the disk.
    public static func syncDirectory(_ directory: String) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    static func failure(_ what: String, errno code: Int32 = errno) -> OpsError {
        let reason = String(cString: strerror(code))
        return OpsError(.io, code: code == ENOSPC ? "io.disk_full" : "io.write_failed", "\(what): \(reason)")
    }
}
