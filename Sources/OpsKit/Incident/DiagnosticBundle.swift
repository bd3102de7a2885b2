// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One part of a diagnostic bundle and how collecting it went.
public struct BundlePart: Sendable, Codable, Equatable {
    public enum Name: String, Sendable, Codable, CaseIterable {
        case logs, stats, inspect, health, smoke, ledger, disk, database, replication

        /// How long the part may take. Docker's parts stay well under the 15 s a dead or
        /// hanging daemon may cost the whole bundle; every part runs at the same time.
        var limit: OpsDuration {
            switch self {
            case .logs, .stats, .inspect, .health, .ledger: .seconds(10)
            case .smoke: .seconds(12)
            case .database: .seconds(12)
            case .disk, .replication: .seconds(5)
            }
        }
    }

    public enum Outcome: String, Sendable, Codable {
        case ok, failed
        /// Its time limit passed; whatever it waited on was stopped.
        case timedOut = "timed_out"
        case notConfigured = "not_configured"
    }

    public var name: Name
    public var outcome: Outcome
    /// Its files inside the bundle's folder.
    public var files: [String]
    public var summary: String?
    /// Why it failed, or what part of it did.
    public var error: String?
    public var ms: Int
}

/// A written bundle: the file and each part's outcome.
public struct BundleSummary: Sendable, Codable, Equatable {
    public var file: String
    public var bytes: Int
    public var takenAt: Date
    public var parts: [BundlePart]

    /// `9 parts: 7 ok, failed: stats, inspect (timed out)`.
    public var line: String {
        let ok = parts.filter { $0.outcome == .ok }.count
        let bad = parts.filter { $0.outcome == .failed || $0.outcome == .timedOut }
            .map { $0.name.rawValue + ($0.outcome == .timedOut ? " (timed out)" : "") }
        return "\(parts.count) parts: \(ok) ok" + (bad.isEmpty ? "" : ", failed: " + bad.joined(separator: ", "))
    }
}

/// A file of a part, as text; every byte is scrubbed of secrets before it enters the archive.
struct BundleFile: Sendable {
    var path: String
    var text: String
}

/// What a part's collector hands back.
struct PartOutput: Sendable {
    var files: [BundleFile] = []
    var summary: String?
    /// Some of it could not be collected (the rest is kept).
    var problem: String?
    var notConfigured = false

    static func notConfigured(_ why: String, file: BundleFile? = nil) -> PartOutput {
        PartOutput(files: file.map { [$0] } ?? [], summary: why, notConfigured: true)
    }
}

/// What a part's collector works with: a context whose subprocesses end by the part's deadline.
struct PartContext: Sendable {
    var context: OpsContext
    var takenAt: Date
    /// When the part's time is up, and how long it had.
    var deadline: ContinuousClock.Instant = .now
    var limit: OpsDuration = .seconds(0)

    /// What is left of the part's time (at least a moment, so a call still reports why it failed).
    var timeLeft: Duration { max(deadline - ContinuousClock.now, .milliseconds(1)) }
    /// The release the ledger says is live, read once before the parts start.
    var liveVersion: String?
}

/// The evidence an incident needs before anyone restarts anything, in one `.tar.gz` under
/// `<state dir>/incidents/<id>/`: each part collected at the same time, each bounded by its own
/// time limit, a failed part recorded as such (manifest.json, index.txt) instead of stopping
/// the rest.
public struct DiagnosticBundle: Sendable {
    public let config: OpsConfig
    public let environment: EnvironmentConfig
    public let context: OpsContext
    public let incident: IncidentRecord
    /// Secret commands that failed: the logs are withheld (they could hold a secret that cannot
    /// be scrubbed) and checks that send such a secret are not run.
    public var unresolvedSecrets: [OpsError] = []
    /// Time limits other than each part's own (tests shorten them).
    public var limits: [BundlePart.Name: OpsDuration] = [:]

    public init(config: OpsConfig, environment: EnvironmentConfig, context: OpsContext, incident: IncidentRecord) {
        self.config = config
        self.environment = environment
        self.context = context
        self.incident = incident
    }

    static let stampFormat = ClockFormat("yyyyMMdd'T'HHmmss'Z'", timeZone: TimeZone(identifier: "UTC")!)

    public func write() async throws(OpsError) -> BundleSummary {
        let takenAt = context.now()
        let live = try? Ledger(path: config.state, busyTimeout: .seconds(2)).lastDeployment(env: environment.name, status: .succeeded)?.version
        let collected = await collectAll(PartContext(context: context, takenAt: takenAt, liveVersion: live))
        let folderName = "incident-\(incident.id)-\(Self.stampFormat.string(takenAt))"
        var archive = TarArchive(modified: takenAt)
        archive.addDirectory(folderName)
        let redactor = config.redactor
        for file in collected.flatMap(\.files) {
            archive.addFile("\(folderName)/\(file.path)", Data(redactor.scrub(file.text).utf8))
        }
        let parts = collected.map(\.part)
        archive.addFile("\(folderName)/manifest.json", Data(redactor.scrub(manifest(parts, takenAt: takenAt)).utf8))
        archive.addFile("\(folderName)/index.txt", Data(redactor.scrub(index(parts, takenAt: takenAt)).utf8))
        let data = try archive.gzipped()
        let folder = IncidentFiles.folder(state: config.state, id: incident.id)
        try IncidentFiles.makeDirectory(folder)
        let path = Self.freshPath(in: folder, stamp: Self.stampFormat.string(takenAt))
        try AtomicFile.write(data, to: path, permissions: 0o600)
        return BundleSummary(file: path, bytes: data.count, takenAt: takenAt, parts: parts)
    }

    /// `bundle-<stamp>.tar.gz`, or with `-2`, `-3` when two bundles fall in the same second.
    static func freshPath(in folder: String, stamp: String) -> String {
        var path = "\(folder)/bundle-\(stamp).tar.gz"
        var counter = 2
        while FileManager.default.fileExists(atPath: path) {
            path = "\(folder)/bundle-\(stamp)-\(counter).tar.gz"
            counter += 1
        }
        return path
    }

    /// Every part at once, in `Name` order.
    func collectAll(_ part: PartContext) async -> [(part: BundlePart, files: [BundleFile])] {
        await withTaskGroup(of: (BundlePart, [BundleFile]).self) { group in
            for name in BundlePart.Name.allCases {
                group.addTask { await self.collect(name, part) }
            }
            var results: [BundlePart.Name: (BundlePart, [BundleFile])] = [:]
            for await result in group { results[result.0.name] = result }
            return BundlePart.Name.allCases.compactMap { results[$0] }.map { (part: $0.0, files: $0.1) }
        }
    }

    /// One part within its limit: its subprocesses end by the deadline, and the part itself is
    /// abandoned a little after it, whatever it waits on.
    func collect(_ name: BundlePart.Name, _ part: PartContext) async -> (BundlePart, [BundleFile]) {
        let started = ContinuousClock.now
        let limit = limits[name] ?? name.limit
        let runner = DeadlineRunner(part.context.runner, deadline: started + limit.swiftDuration)
        var bounded = part
        bounded.context.runner = runner
        bounded.deadline = runner.deadline
        bounded.limit = limit
        let frozen = bounded
        let outcome = await TimeBound.run(within: limit.swiftDuration + .seconds(1)) { () async -> Result<PartOutput, OpsError> in
            do throws(OpsError) { return .success(try await self.collector(name, frozen)) } catch { return .failure(error) }
        }
        var result = BundlePart(name: name, outcome: .ok, files: [], ms: (ContinuousClock.now - started).milliseconds)
        switch outcome {
        case nil:
            result.outcome = .timedOut
            result.error = "no result within \(limit)"
            return (result, [])
        case .failure(let error):
            result.outcome = runner.ranOutOfTime ? .timedOut : .failed
            result.error = config.redactor.scrub(error.message) + (runner.ranOutOfTime ? " (its \(limit) were up)" : "")
            return (result, [])
        case .success(let output):
            result.outcome = output.notConfigured ? .notConfigured : output.problem == nil ? .ok : runner.ranOutOfTime ? .timedOut : .failed
            result.summary = output.summary.map(config.redactor.scrub)
            result.error = output.problem.map(config.redactor.scrub)
            result.files = output.files.map(\.path)
            return (result, output.files)
        }
    }

    func collector(_ name: BundlePart.Name, _ part: PartContext) async throws(OpsError) -> PartOutput {
        switch name {
        case .logs: try await logs(part)
        case .stats: try await stats(part)
        case .inspect: try await inspect(part)
        case .health: await health(part)
        case .smoke: try await smoke(part)
        case .ledger: try await ledgerPart(part)
        case .disk: await disk(part)
        case .database: await database(part)
        case .replication: ReplicationLag.reading(for: environment, now: context.now()).bundlePart
        }
    }

    func manifest(_ parts: [BundlePart], takenAt: Date) -> String {
        struct Manifest: Encodable {
            var incident: IncidentRecord
            var app: String
            var takenAt: Date
            var takenBy: String
            var opsctlVersion: String
            var parts: [BundlePart]
        }
        return ReportEncoder.json(Manifest(incident: incident, app: config.app, takenAt: takenAt, takenBy: context.actor,
                                           opsctlVersion: OpsctlVersion.current, parts: parts)) + "\n"
    }

    /// The bundle's table of contents for a human: each part, how it went, its files.
    func index(_ parts: [BundlePart], takenAt: Date) -> String {
        let rows = parts.map { part in
            [part.name.rawValue, part.outcome.rawValue.replacingOccurrences(of: "_", with: " "), TextFormat.duration(milliseconds: part.ms),
             ([part.summary, part.error.map { "ERROR: \($0)" }].compactMap { $0 } + (part.files.isEmpty ? [] : ["files: " + part.files.joined(separator: ", ")]))
                .joined(separator: "; ")]
        }
        return """
            incident #\(incident.id) on \(config.app) / \(incident.env) (\(incident.severity.rawValue)): \(incident.title)
            opened \(TextFormat.timestamp(incident.openedAt)) by \(incident.openedBy ?? "?"); this bundle taken \(TextFormat.timestamp(takenAt)) by \(context.actor) (opsctl \(OpsctlVersion.current))

            \(TextFormat.table(["part", "outcome", "took", "what"], rows))

            """
    }
}
