// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One line of nginx's access log in the format canary analysis reads:
///
///     log_format opsctl_canary '$upstream_addr $status $request_time';
///
/// e.g. `127.0.0.1:3002 200 0.004`. `$upstream_addr` is a list when nginx tried more than one
/// server (`127.0.0.1:3002, 127.0.0.1:3001 200 0.012`: the first failed, the second answered;
/// ` : ` separates the groups of an internal redirect) and `-` when no server was asked. Anything
/// after `$request_time` is optional: `$request_uri` or `"$request"` there gives the failing paths.
public struct AccessLogLine: Sendable, Equatable {
    /// Every server nginx tried, in order; the last one produced the response.
    public var upstreams: [String]
    public var status: Int
    /// `$request_time` in milliseconds: from the first byte read from the client to the log write.
    public var requestMs: Double
    /// The path without its query, when the line carries one.
    public var path: String?

    public static let format = "log_format opsctl_canary '$upstream_addr $status $request_time';"

    public init(upstreams: [String], status: Int, requestMs: Double, path: String? = nil) {
        self.upstreams = upstreams
        self.status = status
        self.requestMs = requestMs
        self.path = path
    }

    /// nil when the line is not in the format.
    public init?<S: StringProtocol>(parsing line: S) {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let (upstreams, next) = Self.upstreamList(words), next + 1 < words.count,
              words[next].count == 3, let status = Int(words[next]), (100...599).contains(status),
              let seconds = Self.seconds(words[next + 1]) else { return nil }
        self.init(upstreams: upstreams, status: status, requestMs: seconds * 1000, path: Self.path(Array(words[(next + 2)...])))
    }

    /// The addresses at the start of the line and the index of the word after them.
    static func upstreamList<W: StringProtocol>(_ words: [W]) -> ([String], Int)? {
        var addresses: [String] = []
        var index = 0
        while index < words.count {
            var word = Substring(words[index])
            index += 1
            if word == ":" { continue }   // between the groups of an internal redirect
            let more = word.hasSuffix(",")
            if more { word = word.dropLast() }
            guard !word.isEmpty else { return nil }
            if word != "-" { addresses.append(String(word)) }
            let nextIsSeparator = index < words.count && words[index] == ":"
            if !more && !nextIsSeparator { return (addresses, index) }
        }
        return nil
    }

    /// `$request_time`: seconds with a millisecond resolution (`0.004`).
    static func seconds<W: StringProtocol>(_ word: W) -> Double? {
        guard !word.isEmpty, word.allSatisfy({ $0.isASCIIDigit || $0 == "." }), let value = Double(String(word)) else { return nil }
        return value
    }

    /// `/api/orders?id=1` or `"GET /api/orders?id=1 HTTP/1.1"`: the path without its query.
    static func path<W: StringProtocol>(_ rest: [W]) -> String? {
        guard var target = rest.first.map({ String($0) }) else { return nil }
        if target.hasPrefix("\"") {
            guard rest.count >= 2 else { return nil }
            target = String(rest[1])
        }
        guard target.hasPrefix("/") else { return nil }
        return String(target.prefix { $0 != "?" && $0 != "\"" })
    }
}
