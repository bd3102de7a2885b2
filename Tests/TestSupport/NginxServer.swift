// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import OpsKit

/// Ports for a test's servers: free now, below the range opsctl draws its own loopback ports
/// from (the proxy's front and the pause gate take 20000-32000, as a host needs) and the
/// ephemeral range (32768+), and never handed to two tests of this process: tests running at
/// once cannot take each other's port between the pick and the bind.
public func freeTestPorts(_ count: Int) -> [Int] { TestPorts.shared.take(count) }

/// The first of `count` consecutive such ports (the demo puts its slots right above nginx's).
public func freeConsecutiveTestPorts(_ count: Int) -> Int { TestPorts.shared.takeRun(count) }

final class TestPorts: @unchecked Sendable {
    static let shared = TestPorts()
    private let lock = NSLock()
    private var given: Set<Int> = []

    func take(_ count: Int) -> [Int] {
        (0..<count).map { _ in takeRun(1) }
    }

    func takeRun(_ count: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        while true {
            let first = Int.random(in: 10_000...(19_999 - count))
            let run = first..<(first + count)
            guard run.allSatisfy({ !given.contains($0) && SlotPort.isFree(ProxySlot(name: "test", host: "127.0.0.1", port: $0)) }) else { continue }
            given.formUnion(run)
            return first
        }
    }
}

/// Debian's nginx, started for one test in its own prefix directory (config, pid, temp files
/// and logs all there), listening on 127.0.0.1; stopped by its pid. Never the system nginx.
/// 4096 connections a worker: a request held by a pause takes four (runbooks/verify-and-restore.md).
public final class NginxServer {
    public let directory: String
    public let port: Int
    public let upstreamName: String
    /// More lines for the http block (a canary's log_format and access_log).
    public let httpExtra: String
    public private(set) var pid: pid_t = 0

    public init(directory: String, port: Int, upstreamName: String, firstUpstream: String, httpExtra: String = "") async throws {
        self.directory = directory
        self.port = port
        self.upstreamName = upstreamName
        self.httpExtra = httpExtra
        try FileManager.default.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)
        try config().write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        try "upstream \(upstreamName) { server \(firstUpstream); }\n".write(toFile: directory + "/upstream.conf", atomically: true, encoding: .utf8)
        try await setUp("nginx", argv(["-t"]) )
        try await setUp("nginx", argv([]))
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: directory + "/nginx.pid", encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                self.pid = pid
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw OpsError(.software, code: "test.setup", "nginx did not write its pid file in \(directory)")
    }

    deinit {
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        for _ in 0..<100 where kill(pid, 0) == 0 { usleep(20_000) }
    }

    /// `nginx -p DIR -c DIR/nginx.conf -e DIR/error.log` plus `extra`: Debian's build would
    /// otherwise open /var/log/nginx/error.log before it reads the config.
    public func argv(_ extra: [String]) -> [String] {
        ["-p", directory, "-c", directory + "/nginx.conf", "-e", directory + "/error.log"] + extra
    }

    public var upstreamFile: String { directory + "/upstream.conf" }
    public var url: String { "http://127.0.0.1:\(port)" }

    public func config(extra: String = "") -> String {
        """
        \(getuid() == 0 ? "user root;" : "")
        worker_processes 2;
        pid \(directory)/nginx.pid;
        error_log \(directory)/error.log;
        \(extra)
        events { worker_connections 4096; }
        http {
            log_format upstreams '$upstream_addr $status $request_uri "$http_user_agent"';
            access_log \(directory)/access.log upstreams;
            \(httpExtra)
            client_body_temp_path \(directory)/tmp/body;
            proxy_temp_path \(directory)/tmp/proxy;
            fastcgi_temp_path \(directory)/tmp/fastcgi;
            uwsgi_temp_path \(directory)/tmp/uwsgi;
            scgi_temp_path \(directory)/tmp/scgi;
            include \(upstreamFile);
            server {
                listen 127.0.0.1:\(port);
                location / { proxy_pass http://\(upstreamName); }
            }
        }
        """
    }

    /// The upstream addresses nginx sent each request to, in order.
    public func accessLog() -> [String] {
        ((try? String(contentsOfFile: directory + "/access.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

