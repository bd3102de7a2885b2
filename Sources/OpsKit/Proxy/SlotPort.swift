// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Whether something already listens on a slot's port: a bind test, the only answer that
/// covers every process (ours, another app, a system service) without asking each one.
public enum SlotPort {
    /// True when `host:port` can be bound right now (SO_REUSEADDR: connections in TIME_WAIT do not count).
    public static func isFree(_ slot: ProxySlot) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let host = slot.host.hasPrefix("[") && slot.host.hasSuffix("]") ? String(slot.host.dropFirst().dropLast()) : slot.host
        guard getaddrinfo(host, String(slot.port), &hints, &list) == 0, let first = list else { return true }
        defer { freeaddrinfo(list) }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard descriptor >= 0 else { return true }
        defer { close(descriptor) }
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        return bind(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0
    }
}
