// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A filesystem's size and free space (statvfs), as `df` reports them.
public struct DiskUsage: Sendable, Equatable {
    public var totalBytes: Int64
    /// Available to unprivileged users (root's reserve excluded).
    public var freeBytes: Int64
    /// used / (used + available), as df computes Use%.
    public var usedPercent: Double

    public static func of(_ path: String) -> DiskUsage? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0, stats.f_blocks > 0 else { return nil }
        let blockSize = Int64(stats.f_frsize)
        let free = Int64(stats.f_bavail) * blockSize
        let used = Int64(stats.f_blocks - stats.f_bfree) * blockSize
        return DiskUsage(totalBytes: Int64(stats.f_blocks) * blockSize, freeBytes: free,
                         usedPercent: used + free > 0 ? Double(used) / Double(used + free) * 100 : 0)
    }
}
