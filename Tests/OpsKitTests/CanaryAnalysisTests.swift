// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

struct AccessLogLineTests {
    @Test func theDocumentedFormat() throws {
        let line = try #require(AccessLogLine(parsing: "127.0.0.1:3002 200 0.004"))
        #expect(line == AccessLogLine(upstreams: ["127.0.0.1:3002"], status: 200, requestMs: 4, path: nil))
    }

    @Test func retriesRedirectsAndNoUpstream() throws {
        let retried = try #require(AccessLogLine(parsing: "127.0.0.1:3002, 127.0.0.1:3001 200 0.012"))
        #expect(retried.upstreams == ["127.0.0.1:3002", "127.0.0.1:3001"] && retried.status == 200)
        let redirected = try #require(AccessLogLine(parsing: "10.0.0.1:80 : 127.0.0.1:3001 502 1.500"))
        #expect(redirected.upstreams == ["10.0.0.1:80", "127.0.0.1:3001"] && redirected.requestMs == 1500)
        let threeTries = try #require(AccessLogLine(parsing: "a:1, b:2, c:3 : d:4 504 60.000"))
        #expect(threeTries.upstreams == ["a:1", "b:2", "c:3", "d:4"])
        let none = try #require(AccessLogLine(parsing: "- 404 0.000"))
        #expect(none.upstreams.isEmpty && none.status == 404)
        let unix = try #require(AccessLogLine(parsing: "unix:/run/app.sock 200 0.001"))
        #expect(unix.upstreams == ["unix:/run/app.sock"])
    }

    @Test func anOptionalPathAfterTheTime() throws {
        #expect(AccessLogLine(parsing: "127.0.0.1:3002 500 0.004 /api/items?id=3")?.path == "/api/items")
        #expect(AccessLogLine(parsing: "127.0.0.1:3002 500 0.004 \"GET /api/items?id=3 HTTP/1.1\"")?.path == "/api/items")
        #expect(AccessLogLine(parsing: "127.0.0.1:3002 500 0.004 whatever")?.path == nil)
    }

    @Test func otherFormatsAreRefused() {
        for line in ["127.0.0.1 - - [25/Nov/2025:10:00:00 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"curl/7.88\"",
                     "127.0.0.1:3002 200", "127.0.0.1:3002 OK 0.004", "127.0.0.1:3002 200 fast", "127.0.0.1:3002, 200 0.1", "", "1.2.3.4:80 2000 0.1"] {
            #expect(AccessLogLine(parsing: line) == nil, "\(line)")
        }
    }
}

struct CanaryTallyTests {
    func tally(_ lines: [String]) -> CanaryTally {
        var tally = CanaryTally(old: ["o:1"], new: "n:2")
        for line in lines { tally.add(line) }
        return tally
    }

    @Test func linesCountForTheReleaseThatAnsweredAndRetriesAgainstTheOneThatFailed() {
        let counted = tally(["o:1 200 0.010", "n:2 200 0.020", "n:2 503 0.030", "n:2, o:1 200 0.040", "x:9 500 0.1", "- 404 0", "garbage"])
        #expect(counted.old.requests == 2 && counted.old.errors == 0)
        #expect(counted.new.requests == 3 && counted.new.errors == 2, "the 503 and the attempt nginx gave up on")
        #expect(counted.new.latencies == [20, 30], "a given-up attempt has no latency of its own")
        #expect(counted.unparsed == 1 && counted.lines == 7)
    }

    @Test func nearestRankP99() {
        #expect(ReleaseSample.percentile([], 0.99) == nil)
        #expect(ReleaseSample.percentile([5], 0.99) == 5)
        let hundred = (1...100).map(Double.init)
        #expect(ReleaseSample.percentile(hundred, 0.99) == 99)
        #expect(ReleaseSample.percentile(hundred + [1000], 0.99) == 100)
    }
}

struct CanaryJudgeTests {
    func judge(rate: Double = 0.01, p99: Int? = nil, min: Int = 20) -> CanaryJudge {
        var settings = CanarySettings()
        settings.maxErrorRate = rate
        settings.maxP99Ms = p99
        settings.minRequests = min
        return CanaryJudge(settings: settings)
    }

    func sample(requests: Int, errors: Int, slow: Int = 0) -> ReleaseSample {
        var sample = ReleaseSample()
        sample.requests = requests
        sample.errors = errors
        sample.latencies = Array(repeating: 10, count: requests - slow) + Array(repeating: 900, count: slow)
        return sample
    }

    @Test func theFirstFailureIsEnoughWhenNoRestCouldSaveIt() {
        // 1 of at least 20 is 5 %: above 1 % whatever the next 19 do.
        #expect(judge().breach(sample(requests: 1, errors: 1), final: false)?.hasSuffix("(decided after 1 of min_requests 20: no later success can bring it under)") == true)
        // With a 10 % limit, 2 errors among the first 3 are 2 of at least 20: 10 %, not above.
        #expect(judge(rate: 0.10).breach(sample(requests: 3, errors: 2), final: false) == nil)
        #expect(judge(rate: 0.10).breach(sample(requests: 3, errors: 3), final: false) != nil)
    }

    @Test func atTheLimitIsAllowedAboveIsNot() {
        #expect(judge().breach(sample(requests: 100, errors: 1), final: false) == nil)
        #expect(judge().breach(sample(requests: 100, errors: 2), final: false)?.hasPrefix("5xx 2 of 100 request(s) (2.0%) > max_error_rate 1%") == true)
        #expect(judge(rate: 0).breach(sample(requests: 500, errors: 1), final: false) != nil)
    }

    @Test func theLatencyGate() {
        // p99 of 20 is the slowest: one slow request among the first 20 decides it.
        #expect(judge(p99: 300).breach(sample(requests: 5, errors: 0, slow: 1), final: false)?.hasPrefix("p99 900 ms > max_p99_ms 300") == true)
        // p99 of 200 is the 198th fastest: two slow ones are allowed, three are not.
        #expect(judge(p99: 300).breach(sample(requests: 200, errors: 0, slow: 2), final: false) == nil)
        #expect(judge(p99: 300).breach(sample(requests: 200, errors: 0, slow: 3), final: false) != nil)
        #expect(judge().breach(sample(requests: 200, errors: 0, slow: 200), final: false) == nil, "no gate without max_p99_ms")
    }

    @Test func judgedOnWhatItSawAtTheEnd() {
        #expect(judge(rate: 0.5).breach(sample(requests: 3, errors: 1), final: true) == nil)
        #expect(judge(rate: 0.2).breach(sample(requests: 3, errors: 1), final: true) != nil)
    }
}

struct AccessLogTailTests {
    let directory = TemporaryDirectory("opsctl-tail")
    var path: String { directory.file("access.log") }

    func append(_ text: String, to file: String? = nil) throws {
        let handle = try #require(FileHandle(forWritingAtPath: file ?? path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    @Test func onlyWhatIsAppendedAfterOpeningAndWholeLinesOnly() throws {
        try directory.write("access.log", "old 200 0.1\n")
        let tail = try AccessLogTail(path: path)
        #expect(tail.read().isEmpty)
        try append("a:1 200 0.001\na:1 50")
        #expect(tail.read() == ["a:1 200 0.001"])
        try append("0 0.002\n")
        #expect(tail.read() == ["a:1 500 0.002"], "the half line waited for its end")
    }

    @Test func aRenameRotationKeepsReadingTheOldFileUntilNginxReopens() throws {
        try directory.write("access.log", "")
        let tail = try AccessLogTail(path: path)
        try append("one 200 0.1\n")
        #expect(tail.read() == ["one 200 0.1"])
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        // nginx writes to the renamed file until `nginx -s reopen`.
        try append("two 200 0.1\n", to: path + ".1")
        #expect(tail.read() == ["two 200 0.1"])
        try directory.write("access.log", "three 200 0.1\n")
        try append("late 200 0.1\n", to: path + ".1")
        #expect(Set(tail.read()) == ["three 200 0.1", "late 200 0.1"])
        try append("four 200 0.1\n")
        #expect(tail.read() == ["four 200 0.1"])
        #expect(tail.rotations == 1)
    }

    @Test func aTruncationStartsAgainFromTheTop() throws {
        try directory.write("access.log", String(repeating: "x:1 200 0.1\n", count: 50))
        let tail = try AccessLogTail(path: path)
        try append("a:1 200 0.1\n")
        #expect(tail.read().count == 1)
        let truncate = try #require(FileHandle(forWritingAtPath: path))
        try truncate.truncate(atOffset: 0)
        try truncate.close()
        try append("b:1 200 0.1\n")
        #expect(tail.read() == ["b:1 200 0.1"])
        #expect(tail.rotations == 1)
    }

    @Test func aMissingLogIsAClearError() throws {
        #expect(throws: OpsError.self) { try AccessLogTail(path: directory.file("nope.log")) }
    }
}

struct CanaryReadinessTests {
    let directory = TemporaryDirectory("opsctl-canary-log")

    @Test func theNewestLinesMustBeInTheFormat() throws {
        let good = try directory.write("good.log", "127.0.0.1:3001 200 0.003\n127.0.0.1:3001 200 0.004\n")
        #expect(try CanaryReadiness.check(good) == .ready(lines: 2))
        let empty = try directory.write("empty.log", "")
        #expect(try CanaryReadiness.check(empty) == .empty)
        let combined = try directory.write("combined.log", "127.0.0.1 - - [25/Nov/2025:10:00:00 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"curl/7.88\"\n")
        let error = try #require(throws: OpsError.self) { try CanaryReadiness.check(combined) }
        #expect(error.code == "proxy.access_log" && error.exitCode == 78)
        #expect(error.message.contains("1 of its last 1 line(s) are not in the opsctl_canary format; found: 127.0.0.1 - - [25/Nov/2025"), "\(error.message)")
        #expect(error.details.contains(AccessLogLine.format) && error.details.contains { $0.contains("combined format") })
        let missing = try #require(throws: OpsError.self) { try CanaryReadiness.check(directory.file("missing.log")) }
        #expect(missing.message.contains("cannot be read: No such file or directory"), "\(missing.message)")
    }

    @Test func aLongLogIsReadFromItsEnd() throws {
        let lines = String(repeating: "garbage from before the format changed\n", count: 2000) + String(repeating: "127.0.0.1:3001 200 0.003\n", count: 10)
        let path = try directory.write("long.log", lines)
        #expect(try CanaryReadiness.check(path) == .ready(lines: 10))
    }
}
