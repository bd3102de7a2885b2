// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// The reverse proxy in front of a blue/green environment (the team's own nginx).
public enum ProxyKind: String, Sendable, Codable, CaseIterable { case nginx }

/// One of the two places a release can run behind the proxy, e.g. blue = 127.0.0.1:3001.
public struct ProxySlot: Sendable, Hashable, Codable {
    public var name: String
    public var host: String
    public var port: Int

    public init(name: String, host: String, port: Int) {
        self.name = name
        self.host = host
        self.port = port
    }

    /// `host:port`, as the upstream file names it (IPv6 hosts keep their brackets).
    public var address: String { "\(host):\(port)" }

    /// Parses `host:port`; nil when it is not one.
    public init?(name: String, address: String) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (1...65_535).contains(port) else { return nil }
        let host = String(address[..<colon])
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == ";" || $0 == "{" || $0 == "}" }) else { return nil }
        self.init(name: name, host: host, port: port)
    }
}

/// When a release that lost its traffic may stop: after a fixed wait, or once nginx has no
/// request in flight to it (at most `drain_timeout`).
public enum ProxyDrain: Sendable, Equatable, Encodable, CustomStringConvertible {
    case fixed(OpsDuration)
    case untilIdle

    public static let untilIdleText = "until-idle"

    public var description: String {
        switch self {
        case .fixed(let duration): duration.description
        case .untilIdle: Self.untilIdleText
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

public struct ProxySettings: Sendable, Encodable {
    public static let slotNames = ["blue", "green"]

    public var kind: ProxyKind = .nginx
    /// The file opsctl owns and rewrites: `upstream <upstreamName> { server <slot>; }`.
    public var upstreamFile: String
    public var upstreamName: String
    /// Run before every reload; a failure stops the switch.
    public var check: [String] = ["nginx", "-t"]
    public var reload: [String] = ["nginx", "-s", "reload"]
    /// The public side of the proxy, used to confirm a switch.
    public var url: String
    /// blue, then green.
    public var slots: [ProxySlot]
    /// Host network: the slot's port reaches the app in this variable.
    public var portEnv: String?
    /// Bridge network: the slot's port is published to this container port.
    public var containerPort: Int?
    /// How long the previous release keeps running after a switch, for an instant rollback.
    public var standby: OpsDuration = .minutes(5)
    /// When a release that just lost its traffic is stopped: after a fixed wait (nginx's old
    /// workers finish the requests they still have in flight meanwhile), or once nothing is in
    /// flight to it any more.
    public var drain: ProxyDrain = .fixed(.seconds(2))
    /// `drain: until-idle`: the longest wait for the last request in flight.
    public var drainTimeout: OpsDuration = .seconds(30)
    /// How long the proxy may take to show the new release after a reload.
    public var confirmTimeout: OpsDuration = .seconds(10)
    /// canary: nginx's access log written with `log_format opsctl_canary '$upstream_addr $status $request_time'`.
    public var accessLog: String?

    public init(upstreamFile: String, upstreamName: String, url: String, slots: [ProxySlot]) {
        self.upstreamFile = upstreamFile
        self.upstreamName = upstreamName
        self.url = url
        self.slots = slots
    }

    public func slot(named name: String?) -> ProxySlot? { slots.first { $0.name == name } }

    public func slot(at address: String) -> ProxySlot? { slots.first { $0.address == address } }
}
