// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Synchronization

/// Raw reads of a database file or its `-shm` beside SQLite's own connections (a header check,
/// the WAL index, who holds a lock). POSIX drops every lock a process holds on a file when the
/// process closes *any* descriptor of that file: closing ours would silently drop the locks of a
/// connection this process has open to the same database, and another process could then
/// checkpoint and delete the WAL under it. So a descriptor opened here while this process has a
/// connection stays open until its last connection closes (SQLite's own unix VFS does the same
/// with the descriptors it no longer needs).
enum SideDescriptors {
    private struct State {
        var connections = 0
        var kept: [Int32] = []
    }

    private static let state = Mutex(State())

    /// `SQLiteDatabase` calls this before it opens a connection...
    static func connectionOpening() { state.withLock { $0.connections += 1 } }

    /// ...and this after it closed one: with none left, what was kept is closed.
    static func connectionClosed() {
        let release = state.withLock { state -> [Int32] in
            state.connections -= 1
            guard state.connections == 0 else { return [] }
            defer { state.kept = [] }
            return state.kept
        }
        for descriptor in release { close(descriptor) }
    }

    /// `body` with a read-only descriptor of `path`; nil when it cannot be opened (errno says why).
    static func reading<T>(_ path: String, _ body: (Int32) throws(OpsError) -> T) throws(OpsError) -> T? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { done(with: descriptor) }
        return try body(descriptor)
    }

    /// Closed now when no connection is open, else kept until the last one closes. Decided under
    /// the lock a connection must take before it opens, so no connection can start in between.
    private static func done(with descriptor: Int32) {
        state.withLock { state in
            if state.connections > 0 { state.kept.append(descriptor) } else { close(descriptor) }
        }
    }
}
