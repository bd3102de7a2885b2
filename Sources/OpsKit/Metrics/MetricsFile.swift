// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// One gauge for node_exporter's textfile collector.
public struct MetricSample: Sendable, Equatable {
    public var name: String
    public var help: String
    public var labels: [(String, String)]
    public var value: Double

    public init(_ name: String, _ help: String, labels: [(String, String)] = [], _ value: Double) {
        self.name = name
        self.help = help
        self.labels = labels
        self.value = value
    }

    public static func == (lhs: MetricSample, rhs: MetricSample) -> Bool {
        lhs.name == rhs.name && lhs.help == rhs.help && lhs.value == rhs.value && lhs.labels.map { "\($0)=\($1)" } == rhs.labels.map { "\($0)=\($1)" }
    }
}

/// `<textfile_dir>/opsctl_<env>.prom`, shared by backup, verify and deploy: each run replaces
/// its own metric families and keeps the others. Written atomically (node_exporter must never
/// read half a file) under a lock (two commands may finish at once).
public enum MetricsFile {
    public static func path(directory: String, env: String) -> String { "\(directory)/opsctl_\(env).prom" }

    public static func update(directory: String, env: String, samples: [MetricSample]) throws(OpsError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw OpsError(.io, code: "metrics.unwritable", "\(directory): cannot create the metrics directory: \(YAMLReader.reason(error))")
        }
        let target = path(directory: directory, env: env)
        let lock = try FileLock.acquire(path: "\(directory)/.opsctl_\(env).prom.lock", what: "a metrics update", command: "metrics",
                                        wait: .seconds(10))
        defer { lock.release() }
        let existing = (try? String(contentsOfFile: target, encoding: .utf8)) ?? ""
        var families = parseFamilies(existing)
        for (name, group) in Dictionary(grouping: samples, by: \.name) {
            families[name] = render(group)
        }
        let text = families.keys.sorted().map { families[$0]! }.joined()
        try AtomicFile.write(text, to: target)
    }

    /// Family name -> its lines (HELP, TYPE, samples), as text.
    static func parseFamilies(_ text: String) -> [String: String] {
        var families: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let name: Substring
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                name = line.dropFirst(7).prefix { $0 != " " }
            } else if line.hasPrefix("#") {
                continue
            } else {
                name = line.prefix { $0 != "{" && $0 != " " }
            }
            families[String(name), default: ""] += line + "\n"
        }
        return families
    }

    static func render(_ samples: [MetricSample]) -> String {
        guard let first = samples.first else { return "" }
        var text = "# HELP \(first.name) \(first.help)\n# TYPE \(first.name) gauge\n"
        for sample in samples {
            let labels = sample.labels.isEmpty ? "" : "{" + sample.labels.map { "\($0)=\"\(escape($1))\"" }.joined(separator: ",") + "}"
            text += "\(sample.name)\(labels) \(format(sample.value))\n"
        }
        return text
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
