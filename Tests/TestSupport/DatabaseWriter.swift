// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import OpsKit

/// A writer process inserting sequential ids every few ms (Tests/Fixtures/db/writer.py): the
/// busy app whose commits a test must not lose or block.
public final class WriterProcess {
    public let process = Process()
    /// `<id> <unix time>` per commit, flushed as it goes (`--commits`).
    public let commits: String
    let stderr: String
    let scratch: TemporaryDirectory

    public var pid: Int32 { process.processIdentifier }

    /// `extra`: more of writer.py's flags, e.g. ["--checkpoint-every", "40", "--checkpoint-mode", "truncate"].
    public init(database: String, intervalMs: Double = 2, journalMode: String = "wal", payloadBytes: Int? = nil, seconds: Double = 120,
                extra: [String] = []) throws {
        scratch = TemporaryDirectory("opsctl-writer")
        commits = scratch.file("commits")
        stderr = scratch.file("stderr")
        _ = FileManager.default.createFile(atPath: stderr, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // --seconds bounds it even if the test dies without stopping it.
        process.arguments = ["python3", repositoryRoot + "/Tests/Fixtures/db/writer.py", database, "--interval-ms", String(intervalMs),
                             "--journal-mode", journalMode, "--seconds", String(seconds), "--commits", commits]
            + (payloadBytes.map { ["--payload-bytes", String($0)] } ?? []) + extra
        let ready = Pipe()
        process.standardOutput = ready
        process.standardError = FileHandle(forWritingAtPath: stderr)
        try process.run()
        // Wait for "ready": the table exists and rows are flowing.
        _ = ready.fileHandleForReading.readData(ofLength: 6)
    }

    /// The ids committed so far, as the writer logged them after each COMMIT returned.
    public func committedIDs() -> [Int] {
        ((try? String(contentsOfFile: commits, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { $0.split(separator: " ").first.flatMap { Int($0) } }
    }

    /// Waits until the writer has committed `count` more rows than now (a hang catcher bounds it, not a guess of speed).
    public func waitForCommits(_ count: Int, bound: Duration = .seconds(120)) async throws {
        let target = (committedIDs().last ?? 0) + count
        let deadline = ContinuousClock.now + bound
        while (committedIDs().last ?? 0) < target {
            guard ContinuousClock.now < deadline, process.isRunning else {
                throw OpsError(.software, code: "test.writer", "the writer did not commit \(count) more rows (running: \(process.isRunning))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Every commit with the time COMMIT returned (logged just after it, so a commit is always at
    /// or before its logged time).
    public func commitLog() -> [(id: Int, time: Date)] {
        ((try? String(contentsOfFile: commits, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let id = Int(parts[0]), let time = Double(parts[1]) else { return nil }
            return (id, Date(timeIntervalSince1970: time))
        }
    }

    /// Waits for `seconds` to run out (a hang catcher bounds it); the exit status and the counts.
    public func finished(bound: Duration = .seconds(300)) async throws -> (status: Int32, report: String) {
        let deadline = ContinuousClock.now + bound
        while process.isRunning {
            guard ContinuousClock.now < deadline else { throw OpsError(.software, code: "test.writer", "the writer did not finish within \(bound)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return finish()
    }

    /// SIGTERM: the writer ends its transaction, prints its counts and exits, 3 when any commit failed.
    public func finish() -> (status: Int32, report: String) {
        if process.isRunning { kill(pid, SIGTERM) }
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: stderr, encoding: .utf8)) ?? "")
    }

    /// SIGKILL (nothing printed).
    public func stop() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// Another process holding a transaction open on the database until stopped: a reader on an
/// old snapshot, the app's write transaction, an exclusive lock.
public final class LockHolder {
    let process = Process()

    public init(database: String, statements: String, pragmas: String = "") throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            for statement in sys.argv[2].split(";") + sys.argv[3].split(";"):
                if statement.strip(): db.execute(statement).fetchall()
            print("held", flush=True)
            time.sleep(600)
            """, database, pragmas, statements]
        let ready = Pipe()
        process.standardOutput = ready
        try process.run()
        _ = ready.fileHandleForReading.readData(ofLength: 5)
    }

    public var pid: Int32 { process.processIdentifier }

    public func stop() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}
