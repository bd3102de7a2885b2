// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// The replica's pieces on their own: the segment format, the names, which points a moment
/// reaches, the WAL index header, the moments `--at` accepts, and the config.
struct ReplicaUnitTests {
    let directory = TemporaryDirectory("opsctl-replica-unit")

    func page(_ byte: UInt8, size: Int = 4096) -> [UInt8] { [UInt8](repeating: byte, count: size) }

    @Test func aSegmentRoundTripsAndAnyDamageIsAReason() throws {
        let segment = ReplicaSegment(pageSize: 4096, pageCount: 9, seq: 42, timeMs: 1_796_637_330_250, pages: [(1, page(1)), (9, page(9))])
        let bytes = segment.encoded()
        #expect(try ReplicaSegment.decode(bytes).get() == segment)
        var flipped = bytes
        flipped[ReplicaSegment.headerSize + 100] ^= 0x40
        #expect(throws: ReplicaDamage.self) { try ReplicaSegment.decode(flipped).get() }
        #expect(throws: ReplicaDamage.self) { try ReplicaSegment.decode(Array(bytes.dropLast(10))).get() }
        #expect(throws: ReplicaDamage.self) { try ReplicaSegment.decode(Array("not a segment at all, not at all".utf8)).get() }
        let outside = ReplicaSegment(pageSize: 4096, pageCount: 2, seq: 1, timeMs: 0, pages: [(5, page(5))]).encoded()
        #expect(throws: ReplicaDamage.self) { try ReplicaSegment.decode(outside).get() }
    }

    @Test func namesCarrySeqAndCutAndAnythingElseIsIgnored() throws {
        let generation = ReplicaGeneration.newName(at: Date(timeIntervalSince1970: 1_796_637_330.25))
        #expect(generation.hasPrefix("20261207T095530.250Z-") && ReplicaGeneration.isValid(generation))
        let point = ReplicaPoint(generation: generation, seq: 3, timeMs: 1_796_637_333_000, kind: .segment, encrypted: true, bytes: 10)
        #expect(point.fileName == "0000000003-1796637333000.segment.gz.age")
        #expect(ReplicaPoint(generation: generation, fileName: point.fileName, bytes: 10) == point)
        #expect(ReplicaPoint(generation: generation, fileName: ".tmp-12-0000000003-1796637333000.segment.gz", bytes: 1) == nil)
        #expect(ReplicaPoint(generation: generation, fileName: "0000000000-1796637333000.segment.gz", bytes: 1) == nil, "seq 0 is the snapshot")
        #expect(ReplicaPoint(generation: "not-a-generation", fileName: point.fileName, bytes: 1) == nil)
    }

    func catalog(_ generations: [(String, [Int64])], gap: Bool = false) -> ReplicaCatalog {
        var files: [(key: String, bytes: Int64)] = []
        for (name, times) in generations {
            for (seq, time) in times.enumerated() where !(gap && seq == 2) {
                files.append(("\(name)/" + ReplicaPoint.fileName(seq: UInt64(seq), timeMs: time, kind: seq == 0 ? .snapshot : .segment, encrypted: false), 1))
            }
        }
        files.append(("\(generations[0].0)/.tmp-1-0000000009-1.segment.gz", 1))
        return ReplicaCatalog(files: files)
    }

    @Test func aMomentReachesTheLastPointAtOrBeforeItInTheGenerationThenRunning() throws {
        let first = "20261207T100000.000Z-00000001", second = "20261207T100010.000Z-00000002"
        let catalog = catalog([(second, [10_000, 11_000]), (first, [0, 1000, 2000, 3000])])
        #expect(catalog.generations.map(\.name) == [first, second], "in time order")
        #expect(catalog.window == RestoreWindow(earliest: Date(timeIntervalSince1970: 0), latest: Date(timeIntervalSince1970: 11)))
        #expect(catalog.chain(at: Date(timeIntervalSince1970: 2.5))?.map(\.seq) == [0, 1, 2])
        #expect(catalog.chain(at: Date(timeIntervalSince1970: 2))?.last?.seq == 2, "a point exactly at the moment is reached")
        #expect(catalog.chain(at: Date(timeIntervalSince1970: 7))?.last.map { ($0.generation, $0.seq) } ?? ("", 0) == (first, 3),
                "between generations: the last point before the moment")
        #expect(catalog.chain(at: Date(timeIntervalSince1970: 10.5))?.map(\.seq) == [0])
        #expect(catalog.latestChain()?.last?.timeMs == 11_000)
        #expect(catalog.expired(before: Date(timeIntervalSince1970: 5)).map(\.name) == [first])
        #expect(catalog.expired(before: Date(timeIntervalSince1970: 500)).map(\.name) == [first], "never the newest generation")
        #expect(throws: OpsError.self) { try ReplicaRestore.chain(for: .at(Date(timeIntervalSince1970: -1)), in: catalog, source: "here") }
        #expect(throws: OpsError.self) { try ReplicaRestore.chain(for: .at(Date(timeIntervalSince1970: 12)), in: catalog, source: "here") }
    }

    /// An idle database: the replicator's rounds found nothing new after the last point, so a
    /// moment up to its last round is in the window (the same window status and backups show).
    @Test func aMomentAfterTheLastPointIsReachableUpToTheLastRound() throws {
        let generation = "20261207T100000.000Z-00000001"
        let catalog = catalog([(generation, [0, 1000, 2000, 3000])])
        let moment = PointInTime.at(Date(timeIntervalSince1970: 4.5))
        #expect(throws: OpsError.self) { try ReplicaRestore.chain(for: moment, in: catalog, source: "here") }
        let status = ReplicaStatus(pid: 1, host: "h", database: "db", generation: generation, seq: 3, lastSync: Date(timeIntervalSince1970: 5))
        #expect(try ReplicaRestore.chain(for: moment, in: catalog, source: "here", confirmedUntil: status).last?.timeMs == 3000)
        var other = status
        other.generation = "20261207T090000.000Z-00000009"
        #expect(throws: OpsError.self, "a heartbeat of another generation confirms nothing") {
            try ReplicaRestore.chain(for: moment, in: catalog, source: "here", confirmedUntil: other)
        }
    }

    @Test func aHoleEndsWhatAGenerationCanRestore() {
        let catalog = catalog([("20261207T100000.000Z-00000001", [0, 1000, 2000, 3000])], gap: true)
        let generation = catalog.generations[0]
        #expect(generation.gapAt == 2)
        #expect(generation.usable.map(\.seq) == [0, 1])
        #expect(catalog.chain(at: Date(timeIntervalSince1970: 5))?.last?.seq == 1, "the points after a hole are never applied")
    }

    @Test func momentsAreRFC3339OrLatest() throws {
        #expect(try PointInTime.parse("latest") == .latest)
        #expect(try PointInTime.parse("2026-12-06T10:15:30Z") == .at(Date(timeIntervalSince1970: 1_796_552_130)))
        #expect(try PointInTime.parse("2026-12-06T11:15:30.250+01:00") == .at(Date(timeIntervalSince1970: 1_796_552_130.25)))
        for bad in ["yesterday", "2026-12-06", "2026-12-06T10:15:30", "2026-12-06T25:15:30Z", "1796552130"] {
            #expect(throws: OpsError.self, "\(bad)") { try PointInTime.parse(bad) }
            do { _ = try PointInTime.parse(bad) } catch { #expect(error.kind == .usage) }
        }
        #expect(PointInTime.format(Date(timeIntervalSince1970: 1_796_637_333_768 / 1000)) == "2026-12-07T09:55:33.768Z", "rounded, not truncated")
        #expect(ReplicaPoint.milliseconds(atOrBefore: Date(timeIntervalSince1970: 1_796_637_333.768)) == 1_796_637_333_768)
    }

    /// A WAL index as SQLite lays it out (two copies of the header, then nBackfill at 96).
    @Test func theWALIndexHeaderIsReadAsSQLiteWritesIt() throws {
        var bytes = [UInt8](repeating: 0, count: WALIndexHeader.byteCount)
        func put(_ value: UInt32, at offset: Int) { withUnsafeBytes(of: value) { bytes.replaceSubrange(offset..<offset + 4, with: $0) } }
        put(3_007_000, at: 0)
        bytes[12] = 1
        put(UInt32(4096) << 16 | 1, at: 12)
        put(17, at: 16)
        put(9, at: 20)
        bytes.replaceSubrange(32..<40, with: [1, 2, 3, 4, 5, 6, 7, 8])
        bytes.replaceSubrange(48..<96, with: bytes[0..<48])
        put(5, at: 96)
        let header = try #require(WALIndexHeader(bytes))
        #expect(header.pageSize == 4096 && header.mxFrame == 17 && header.pageCount == 9 && header.backfilled == 5)
        var torn = bytes
        torn[60] ^= 1
        #expect(WALIndexHeader(torn) == nil, "copies that differ are a torn read")
    }

    /// A database too large for memory goes through a scratch file beside it, gone afterwards.
    @Test func aSnapshotImageInAScratchFileHoldsThePagesAndLeavesNothing() throws {
        let database = directory.file("app.db")
        let scratch = directory.file(".opsctl-tmp-replica-snapshot-\(getpid()).db")
        do {
            let image = try SnapshotImage(bytes: 8192, databasePath: database, scratchDirectory: directory.path, destination: .file(scratch))
            try image.append(page(1))
            try image.append(page(2))
            #expect(try image.withBytes { Array($0) } == page(1) + page(2))
            #expect(FileManager.default.fileExists(atPath: scratch))
        }
        #expect(!FileManager.default.fileExists(atPath: scratch), "removed with the image")
        // A killed run's scratch file (its pid is gone) goes when replicate starts again; a live one stays.
        let dead = directory.file(SnapshotImage.scratchName(pid: 999_999_999))
        let live = directory.file(SnapshotImage.scratchName(pid: getppid()))
        for path in [dead, live] { _ = FileManager.default.createFile(atPath: path, contents: Data("pages".utf8)) }
        let removed = ReplicaStore(directory: directory.file("replica"), encryption: nil).removeTemporaryFiles(databasePath: database)
        #expect(removed == [dead])
        #expect(FileManager.default.fileExists(atPath: live))
    }

    @Test func theConfigHasDefaultsAndRefusesWhatCannotWork() throws {
        func parse(_ replica: String, offsite: Bool = false) throws(OpsError) -> ReplicaSettings? {
            let offsiteYAML = offsite ? "\n      offsite: {url: s3://bucket/app/, endpoint: http://127.0.0.1:9000, access_key_id: a, secret_access_key: b}" : ""
            let yaml = """
                app: dashboard
                image: dashboard
                environments:
                  production:
                    backup:
                      dir: backups\(offsiteYAML)
                      replica: \(replica)

                """
            let config = try ConfigLoader.parse(yaml, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: [:])
            return try config.environment(named: "production").backup?.replica
        }
        let defaults = try #require(try parse("{}"))
        #expect(defaults.dir == directory.path + "/backups/replica")
        #expect(defaults.syncInterval == .seconds(1) && defaults.snapshotInterval == .hours(24) && defaults.retention == .hours(72) && !defaults.offsite)
        #expect(try parse("{}", offsite: true)?.offsite == true)
        #expect(try parse("{offsite: false}", offsite: true)?.offsite == false)
        for bad in ["{sync_interval: 10ms}", "{sync_interval: 2h}", "{offsite: true}", "{snapshot_interval: 500ms}", "{dir: backups}", "{sync: 1s}"] {
            #expect(throws: OpsError.self, "\(bad)") { try parse(bad) }
        }
    }
}
