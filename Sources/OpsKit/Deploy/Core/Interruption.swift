// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Dispatch
import Foundation
import Synchronization

/// SIGINT/SIGTERM during a deploy: the signal is caught (not fatal), recorded here, and the
/// deploy notices at its next checkpoint, rolls back and records `interrupted`.
public final class Interruption: Sendable {
    private let received = Atomic<Int32>(0)
    /// The dispatch sources must outlive `install()`; installed once, from the main task.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    public init() {}

    /// The signal that arrived, if any.
    public var signal: Int32? {
        let value = received.load(ordering: .acquiring)
        return value == 0 ? nil : value
    }

    public var reason: String? {
        signal.map { "interrupted by \($0 == SIGINT ? "SIGINT" : $0 == SIGTERM ? "SIGTERM" : "signal \($0)")" }
    }

    /// For tests, and for callers that learn of a stop some other way.
    public func trigger(_ signal: Int32) {
        received.store(signal, ordering: .releasing)
    }

    /// Catches SIGINT and SIGTERM for the life of the process (a second signal changes nothing:
    /// the rollback in progress must finish).
    public func install(_ what: String = "finishing safely (undoing the change, or completing a switch already made), please wait") {
        for number in [SIGINT, SIGTERM] {
            Foundation.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                if self.signal == nil { self.trigger(number) }
                FileHandle.standardError.write(Data("opsctl: caught \(number == SIGINT ? "SIGINT" : "SIGTERM"); \(what)\n".utf8))
            }
            source.resume()
            Self.sources.append(source)
        }
    }
}
