// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What must hold before a canary starts: the access log opsctl judges the new release from is
/// readable, and its newest lines are in the opsctl_canary format. Shared by deploy (which
/// refuses before anything starts) and `opsctl preflight` (the `proxy.access_log` check).
public enum CanaryReadiness {
    /// How many of the newest lines are looked at.
    static let sampleLines = 10

    public enum State: Sendable, Equatable {
        /// Readable; `lines` of the newest lines are in the format.
        case ready(lines: Int)
        /// Readable but empty: the format is checked as lines arrive.
        case empty
    }

    /// Throws (exit 78, `proxy.access_log`) saying what is wrong and what was found.
    public static func check(_ path: String) throws(OpsError) -> State {
        let lines = try newestLines(path)
        guard !lines.isEmpty else { return .empty }
        let bad = lines.filter { AccessLogLine(parsing: $0) == nil }
        guard let first = bad.first else { return .ready(lines: lines.count) }
        throw OpsError(.config, code: "proxy.access_log",
                       "proxy.access_log \(path): \(bad.count) of its last \(lines.count) line(s) are not in the opsctl_canary format; found: \(String(first.prefix(200)))",
                       details: ["expected e.g. `127.0.0.1:3002 200 0.004`, written by:",
                                 AccessLogLine.format,
                                 "access_log \(path) opsctl_canary;   (in the server or location that proxies to the upstream)",
                                 Self.guess(first)].compactMap { $0 })
    }

    /// The last few non-empty lines (read from the end: access logs grow large).
    static func newestLines(_ path: String) throws(OpsError) -> [String] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw OpsError(.config, code: "proxy.access_log", "proxy.access_log \(path) cannot be read: \(String(cString: strerror(errno))); nothing was started",
                           details: ["nginx creates it once an `access_log \(path) opsctl_canary;` line is in its config and it reloaded (docs/reference/canary.md)"])
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw OpsError(.config, code: "proxy.access_log", "proxy.access_log \(path) is not a regular file; nothing was started")
        }
        let size = Int64(info.st_size)
        let start = max(0, size - 16_384)
        var buffer = [UInt8](repeating: 0, count: Int(size - start))
        let count = pread(descriptor, &buffer, buffer.count, off_t(start))
        guard count >= 0 else {
            throw OpsError(.config, code: "proxy.access_log", "proxy.access_log \(path) cannot be read: \(String(cString: strerror(errno))); nothing was started")
        }
        var lines = String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        if start > 0, !lines.isEmpty { lines.removeFirst() }   // cut in the middle
        return Array(lines.suffix(sampleLines))
    }

    /// A hint when the line looks like nginx's default formats.
    static func guess(_ line: String) -> String? {
        if line.contains("\" ") && line.contains(" [") { return "that looks like nginx's default combined format: add `opsctl_canary` after the file name in access_log" }
        return nil
    }
}
