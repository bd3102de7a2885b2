// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// The upstream block opsctl owns in nginx's config: `upstream NAME { server ADDRESS [weight=N]; … }`.
/// One server is a blue/green switch; several with weights are a canary step.
public struct Upstream: Sendable, Equatable, Codable {
    public struct Server: Sendable, Equatable, Codable {
        public var address: String
        /// nil: nginx's default share. 0: no traffic (`down`; nginx refuses weight=0).
        public var weight: Int?

        public init(address: String, weight: Int? = nil) {
            self.address = address
            self.weight = weight
        }

        var directive: String {
            switch weight {
            case nil: "server \(address);"
            case 0?: "server \(address) down;"
            case let weight?: "server \(address) weight=\(weight);"
            }
        }

        /// Whether nginx sends it any traffic.
        public var receivesTraffic: Bool { weight != 0 }
    }

    public var name: String
    public var servers: [Server]

    public init(name: String, servers: [Server]) {
        self.name = name
        self.servers = servers
    }

    /// Every request to the one address.
    public static func routing(_ name: String, to address: String) -> Upstream {
        Upstream(name: name, servers: [Server(address: address)])
    }

    /// The addresses that receive traffic, in file order.
    public var liveAddresses: [String] { servers.filter(\.receivesTraffic).map(\.address) }

    /// The file's whole text. Deterministic: the same routing always writes the same bytes.
    public func render() -> String {
        var lines = ["# Written by opsctl: it rewrites this file on every switch (blue/green, rollback)."]
        lines.append("# By hand only when opsctl is unavailable: runbooks/deploy-and-rollback.md.")
        lines.append("upstream \(name) {")
        lines += servers.map { "    " + $0.directive }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The upstream block named `name` in an nginx config text (comments ignored); nil when the
    /// text has none.
    public static func parse(_ text: String, name: String) -> Upstream? {
        let tokens = tokenize(text)
        var index = 0
        while index + 2 < tokens.count {
            defer { index += 1 }
            guard tokens[index] == "upstream", tokens[index + 1] == name, tokens[index + 2] == "{" else { continue }
            guard let close = tokens[(index + 3)...].firstIndex(of: "}") else { return nil }
            return Upstream(name: name, servers: servers(in: Array(tokens[(index + 3)..<close])))
        }
        return nil
    }

    /// Words and the punctuation nginx's grammar cares about (`{`, `}`, `;`), comments dropped.
    static func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let code = line.firstIndex(of: "#").map { line[..<$0] } ?? line
            var word = ""
            for character in code {
                if character.isWhitespace || "{};".contains(character) {
                    if !word.isEmpty { tokens.append(word); word = "" }
                    if !character.isWhitespace { tokens.append(String(character)) }
                } else {
                    word.append(character)
                }
            }
            if !word.isEmpty { tokens.append(word) }
        }
        return tokens
    }

    /// `server ADDRESS [weight=N] [down] …;` statements among the block's tokens.
    static func servers(in tokens: [String]) -> [Server] {
        tokens.split(separator: ";").compactMap { statement in
            guard statement.count >= 2, statement.first == "server" else { return nil }
            let parameters = statement.dropFirst(2)
            var server = Server(address: statement[statement.startIndex + 1])
            for parameter in parameters where parameter.hasPrefix("weight=") { server.weight = Int(parameter.dropFirst(7)) }
            if parameters.contains("down") { server.weight = 0 }
            return server
        }
    }
}
