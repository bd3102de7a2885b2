// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// The parallel gzip stream must be one standard gzip member that every common reader accepts
/// and that decompresses to exactly the input.
struct GzipInteropTests {
    let directory = TemporaryDirectory("opsctl-gzip")

    static func input(size: Int, compressible: Bool) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        if !compressible { return (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        let words = Array("deploy rollback backup verify health smoke handoff production ".utf8)
        return (0..<size).map { words[($0 * 7 + $0 / 13) % words.count] }
    }

    func compress(_ bytes: [UInt8], level: Int, threads: Int, blocksPerRound: Int? = nil) throws -> String {
        let path = directory.path + "/data-\(UUID().uuidString).gz"
        let output = try HashingFile(creating: path)
        var gzip = ParallelGzip(level: level, threads: threads)
        if let blocksPerRound { gzip.blocksPerRound = blocksPerRound }
        let summary = try bytes.withUnsafeBytes { buffer throws(OpsError) in
            try gzip.compress(buffer) { chunk throws(OpsError) in try output.write(chunk) }
        }
        try output.synchronizeAndClose()
        #expect(summary.inputBytes == bytes.count)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(size == summary.outputBytes)
        return path
    }

    func decompressed(_ path: String, with tool: [String]) async throws -> [UInt8] {
        let out = path + ".out"
        defer { unlink(out) }
        try await setUp("sh", ["-c", "\"$@\" < \"\(path)\" > \"\(out)\"", "sh"] + tool)
        return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    static let sizes = [0, 1, 1000, ParallelGzip.blockSize, ParallelGzip.blockSize + 1, 3 * ParallelGzip.blockSize + 17, 2_500_000]

    @Test(arguments: sizes, [1, 6, 9])
    func gunzipPigzAndPythonReadIt(size: Int, level: Int) async throws {
        for compressible in [true, false] {
            let bytes = Self.input(size: size, compressible: compressible)
            let path = try compress(bytes, level: level, threads: 2, blocksPerRound: 3)
            try await setUp("gzip", ["-t", path])
            try await setUp("pigz", ["-t", path])
            #expect(try await decompressed(path, with: ["gunzip", "-c"]) == bytes, "gunzip, \(size) bytes, compressible \(compressible)")
            #expect(try await decompressed(path, with: ["pigz", "-dc"]) == bytes, "pigz")
            #expect(try await decompressed(path, with: ["python3", "-c", "import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))"]) == bytes, "python")
            #expect(try await decompressed(path, with: ["zcat"]) == bytes, "zcat")
        }
    }

    @Test func oneThreadAndManyThreadsWriteTheSameStream() throws {
        let bytes = Self.input(size: 1_000_000, compressible: true)
        let single = try Data(contentsOf: URL(fileURLWithPath: try compress(bytes, level: 6, threads: 1)))
        let many = try Data(contentsOf: URL(fileURLWithPath: try compress(bytes, level: 6, threads: 4, blocksPerRound: 2)))
        #expect(single == many)
        #expect(single.count < bytes.count / 5)
    }

    @Test func aFailingSinkStopsWithItsError() throws {
        let bytes = Self.input(size: 2_000_000, compressible: false)
        var gzip = ParallelGzip(level: 1, threads: 2)
        gzip.blocksPerRound = 2
        let sink: @Sendable (UnsafeRawBufferPointer) throws(OpsError) -> Void = { _ throws(OpsError) in
            throw OpsError(.io, code: "io.disk_full", "disk full")
        }
        let result = bytes.withUnsafeBytes { buffer -> Result<ParallelGzip.Summary, OpsError> in
            do throws(OpsError) { return .success(try gzip.compress(buffer, sink: sink)) } catch { return .failure(error) }
        }
        guard case .failure(let error) = result else { Issue.record("expected a failure"); return }
        #expect(error.code == "io.disk_full")
    }
}
