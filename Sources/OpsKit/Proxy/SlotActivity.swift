// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What may still send a request to a release nginx no longer routes to. After a reload only
/// nginx's old workers run the configuration that routed there, and each request they pass on
/// is its own TCP connection (opsctl's upstream blocks keep no upstream keepalive), so the
/// release is idle once the old workers have exited and no connection to its address is open.
/// Either alone would miss something: an old worker may still be reading an upload it will
/// pass on, and a connection may come from elsewhere (a monitor probing the slot).
public struct SlotActivity: Sendable, Equatable {
    /// Open TCP connections to (or accepted at) the release's address.
    public var connections: Int
    /// nginx workers from before the reload, still finishing what they hold.
    public var oldWorkers: Int

    public init(connections: Int, oldWorkers: Int) {
        self.connections = connections
        self.oldWorkers = oldWorkers
    }

    public var idle: Bool { connections == 0 && oldWorkers == 0 }

    public var description: String {
        "\(connections) connection(s) open, \(oldWorkers) old nginx worker(s) still shutting down"
    }
}

/// Reads activity now; tests answer without a kernel.
public protocol SlotActivityProbe: Sendable {
    func activity(at addresses: [String], oldWorkers: [Int32: Int32]) -> SlotActivity
    /// nginx's workers now, each with its master's pid (taken right before a reload: afterwards
    /// the reloaded master's are the old ones).
    func runningWorkers() -> [Int32: Int32]
}

/// The kernel's TCP tables (/proc/net/tcp, tcp6) and nginx's process titles.
public struct KernelSlotActivity: SlotActivityProbe {
    public init() {}

    public func activity(at addresses: [String], oldWorkers: [Int32: Int32]) -> SlotActivity {
        let endpoints = addresses.flatMap(TCPEndpoint.resolve)
        let tables = ["/proc/net/tcp", "/proc/net/tcp6"].compactMap(ProcFile.read)
        let connections = endpoints.isEmpty ? 0 : TCPTable.openConnections(tables.joined(separator: "\n"), to: endpoints)
        return SlotActivity(connections: connections, oldWorkers: NginxWorkers.retired(oldWorkers, now: NginxWorkers.running()).count)
    }

    public func runningWorkers() -> [Int32: Int32] { NginxWorkers.running() }
}

/// An IP address and port, as the kernel's tables spell them (IPv4-mapped IPv6 read as IPv4).
struct TCPEndpoint: Hashable {
    var address: [UInt8]
    var port: Int
    /// `0.0.0.0` / `::`: any local address on the port.
    var anyAddress: Bool { address.allSatisfy { $0 == 0 } }

    /// `host:port` resolved numerically (a name through the resolver), every address it has.
    static func resolve(_ text: String) -> [TCPEndpoint] {
        guard let slot = ProxySlot(name: "", address: text) else { return [] }
        let host = slot.host.hasPrefix("[") && slot.host.hasSuffix("]") ? String(slot.host.dropFirst().dropLast()) : slot.host
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var endpoints: [TCPEndpoint] = []
        var entry = list
        while let current = entry {
            if let address = current.pointee.ai_addr {
                if current.pointee.ai_family == AF_INET {
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                        let raw = pointer.pointee.sin_addr.s_addr
                        endpoints.append(TCPEndpoint(address: withUnsafeBytes(of: raw) { Array($0) }, port: slot.port))
                    }
                } else if current.pointee.ai_family == AF_INET6 {
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        let bytes = withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                        endpoints.append(TCPEndpoint(address: Self.unmapped(bytes), port: slot.port))
                    }
                }
            }
            entry = current.pointee.ai_next
        }
        return Array(Set(endpoints))
    }

    /// `::ffff:a.b.c.d` is the IPv4 address a.b.c.d.
    static func unmapped(_ bytes: [UInt8]) -> [UInt8] {
        bytes.count == 16 && bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF ? Array(bytes[12...]) : bytes
    }

    func matches(_ other: TCPEndpoint) -> Bool {
        port == other.port && (address == other.address || anyAddress)
    }
}

/// /proc/net/tcp and tcp6: `sl local_address rem_address st …`, addresses in hex, each 32-bit
/// word in the host's byte order (little-endian here), ports in big-endian hex.
enum TCPTable {
    /// ESTABLISHED, SYN_SENT, SYN_RECV: a request on its way or being answered.
    static let openStates: Set<String> = ["01", "02", "03"]

    /// Connections with one end at one of `endpoints`. On loopback both ends are in the table;
    /// the larger count of either side is the number of connections.
    static func openConnections(_ table: String, to endpoints: [TCPEndpoint]) -> Int {
        var accepted = 0, made = 0
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 3, openStates.contains(String(fields[3])),
                  let local = endpoint(fields[1]), let remote = endpoint(fields[2]) else { continue }
            if endpoints.contains(where: { $0.matches(local) }) { accepted += 1 }
            if endpoints.contains(where: { $0.matches(remote) }) { made += 1 }
        }
        return max(accepted, made)
    }

    /// `0100007F:0BB9` → 127.0.0.1:3001.
    static func endpoint<S: StringProtocol>(_ text: S) -> TCPEndpoint? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1], radix: 16), parts[0].count == 8 || parts[0].count == 32 else { return nil }
        var bytes: [UInt8] = []
        let hex = Array(parts[0])
        for word in stride(from: 0, to: hex.count, by: 8) {
            var wordBytes: [UInt8] = []
            for index in stride(from: word, to: word + 8, by: 2) {
                guard let byte = UInt8(String(hex[index..<index + 2]), radix: 16) else { return nil }
                wordBytes.append(byte)
            }
            bytes += wordBytes.reversed()
        }
        return TCPEndpoint(address: TCPEndpoint.unmapped(bytes), port: port)
    }
}

/// nginx's workers as their process titles show them (`nginx: worker process`, and after a
/// reload or a graceful stop `… is shutting down`) and their masters.
enum NginxWorkers {
    /// Every nginx worker now: pid → its master's pid.
    static func running() -> [Int32: Int32] {
        var workers: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let title = title(of: pid), title.hasPrefix("nginx: worker process"), let master = parent(of: pid) else { continue }
            workers[pid] = master
        }
        return workers
    }

    /// Which of `before` (the workers right before a reload) still run the old configuration.
    /// The master that reloaded is the one with a worker that was not there before; until one
    /// has, the reload has not taken yet and every worker of `before` still counts. Workers of
    /// another nginx on the host (no new worker) never count.
    static func retired(_ before: [Int32: Int32], now: [Int32: Int32]) -> [Int32] {
        guard !before.isEmpty else { return [] }
        let reloaded = Set(now.filter { before[$0.key] == nil }.map(\.value)).intersection(before.values)
        guard !reloaded.isEmpty else { return Array(before.keys) }
        return before.filter { reloaded.contains($0.value) && now[$0.key] != nil }.map(\.key)
    }

    static func title(of pid: Int32) -> String? {
        guard let text = ProcFile.read("/proc/\(pid)/cmdline"), !text.isEmpty else { return nil }
        return text.split(separator: "\0", omittingEmptySubsequences: true).joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }

    /// The parent pid from /proc/PID/stat (`pid (comm) state ppid …`; comm may hold spaces).
    static func parent(of pid: Int32) -> Int32? {
        guard let stat = ProcFile.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }
}
