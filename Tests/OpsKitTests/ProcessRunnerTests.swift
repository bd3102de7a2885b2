// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

struct ProcessRunnerTests {
    let runner = SubprocessRunner(gracePeriod: .milliseconds(500))
    let directory = TemporaryDirectory("opsctl-process")

    @Test func capturesOutputAndExitStatus() async throws {
        let ok = try await runner.run(ProcessRequest("printf", ["%s|%s", "a b", "$HOME;rm"]))
        #expect(ok.succeeded)
        #expect(ok.standardOutput == "a b|$HOME;rm")   // argv, no shell: nothing expands

        let failed = try await runner.run(ProcessRequest("sh", ["-c", "echo first >&2; echo 'fatal: boom' >&2; exit 3"]))
        #expect(failed.termination == .exited(3))
        #expect(failed.standardErrorTail == "first\nfatal: boom")
        #expect(failed.failureSummary == "sh exited with status 3: fatal: boom")
    }

    @Test func keepsOnlyTheTailOfStderr() async throws {
        let result = try await runner.run(ProcessRequest("sh", ["-c", "i=0; while [ $i -lt 500 ]; do echo line$i >&2; i=$((i+1)); done"]))
        let lines = result.standardErrorTail.split(separator: "\n")
        #expect(lines.count == ProcessResult.stderrTailLines)
        #expect(lines.last == "line499")
    }

    @Test func passesEnvironmentWorkingDirectoryAndInput() async throws {
        let result = try await runner.run(ProcessRequest("sh", ["-c", "pwd; echo $OPSCTL_TEST_VALUE; cat"], workingDirectory: directory.path,
                                                         environment: ["OPSCTL_TEST_VALUE": "42"], standardInput: "from stdin"))
        #expect(result.standardOutput == "\(directory.path)\n42\nfrom stdin")
    }

    @Test func aMissingProgramIsUnavailable() async {
        await #expect(throws: OpsError.self) { try await runner.run(ProcessRequest("opsctl-no-such-program", [])) }
        do {
            _ = try await runner.run(ProcessRequest("opsctl-no-such-program", []))
        } catch {
            #expect(error.exitCode == 69)
            #expect(error.code == "process.not_found")
        }
    }

    static func isAlive(_ pid: pid_t) -> Bool {
        // A zombie still answers kill(0); check /proc for the real state.
        guard kill(pid, 0) == 0 else { return false }
        let status = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !status.contains(") Z ")
    }

    static func waitUntilDead(_ pids: [pid_t], within seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if pids.allSatisfy({ !isAlive($0) }) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return pids.allSatisfy { !isAlive($0) }
    }

    /// The child forks two grandchildren (one of which ignores SIGTERM) and records their pids;
    /// a timeout must leave none of them running.
    @Test func aTimeoutKillsTheWholeProcessGroup() async throws {
        let pidFile = directory.file("pids")
        let script = """
            sleep 300 & echo $! >> \(pidFile)
            (trap '' TERM; sleep 300) & echo $! >> \(pidFile)
            echo $$ >> \(pidFile)
            wait
            """
        let started = ContinuousClock.now
        let result = try await runner.run(ProcessRequest("sh", ["-c", script], timeout: .seconds(1)))
        #expect(result.termination == .timedOut)
        // 1 s timeout + 2 s grace; the whole suite on 2 loaded cores has taken 11-14 s here. The
        // bound only has to tell "the timeout fired" from "waited for sleep 300".
        #expect(ContinuousClock.now - started < .seconds(60))
        let pids = try String(contentsOfFile: pidFile, encoding: .utf8).split(separator: "\n").compactMap { pid_t($0) }
        #expect(pids.count == 3)
        #expect(await Self.waitUntilDead(pids, within: 5), "orphans left: \(pids.filter(Self.isAlive))")
        #expect(result.failureSummary.contains("did not finish within"))
    }

    /// A busy host: every thread of the concurrency pool is blocked while the child exits and its
    /// deadline passes, so both are noticed together. The exit decides, not the deadline.
    @Test func aProcessThatExitedWhileThePoolWasBusyDidNotTimeOut() async throws {
        let started = directory.file("started")
        let runner = self.runner
        let run = Task {
            try await runner.run(ProcessRequest("sh", ["-c", "touch \"$0\"; exit 7", started], timeout: .milliseconds(300)))
        }
        for _ in 0..<24_000 where !FileManager.default.fileExists(atPath: started) { try await Task.sleep(for: .milliseconds(5)) }
        let blockers = (0..<ProcessInfo.processInfo.activeProcessorCount).map { _ in
            Task.detached(priority: .high) { _ = usleep(1_500_000) }
        }
        for blocker in blockers { await blocker.value }
        #expect(try await run.value.termination == .exited(7))
    }

    @Test func cancellingTheTaskKillsTheProcessGroup() async throws {
        let pidFile = directory.file("pids")
        let runner = self.runner
        let task = Task {
            try await runner.run(ProcessRequest("sh", ["-c", "sleep 300 & echo $! >> \(pidFile); echo $$ >> \(pidFile); wait"], timeout: .seconds(120)))
        }
        var pids: [pid_t] = []
        for _ in 0..<2400 where pids.count < 2 {
            try await Task.sleep(for: .milliseconds(50))
            pids = ((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0) }
        }
        #expect(pids.count == 2)
        task.cancel()
        _ = await task.result
        #expect(await Self.waitUntilDead(pids, within: 5), "orphans left: \(pids.filter(Self.isAlive))")
    }
}

