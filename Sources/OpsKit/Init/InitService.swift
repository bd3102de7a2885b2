// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `opsctl init [--dir D]`: a commented opsctl.yml plus cron and systemd examples, Prometheus
/// alert rules, a Grafana dashboard and a GitHub Actions deploy workflow.
public struct InitReport: Report {
    public var directory: String
    public var written: [String]
    public var overwritten: [String]

    public func renderText() -> String {
        var lines = ["scaffolded \(directory):"]
        lines += written.map { "  created     \($0)" }
        lines += overwritten.map { "  overwritten \($0)" }
        lines.append("next: edit opsctl.yml, then run `opsctl config check`")
        return lines.joined(separator: "\n")
    }
}

public enum InitService {
    /// Where each template lands, relative to the target directory.
    static func destination(forTemplate path: String) -> String? {
        if path == "opsctl.yml" { return "opsctl.yml" }
        if path.hasPrefix("cron/") || path.hasPrefix("systemd/") || path.hasPrefix("prometheus/") { return "ops/" + path }
        // The Markdown layout, to copy and point handoff.template at (the HTML one is built in).
        if path == "handoff/handoff.md.mustache" { return path }
        // GitHub runs workflows only from .github/workflows of the repository.
        if path == "ci/github-actions.yml" { return ".github/workflows/opsctl-deploy.yml" }
        if path == "ci/actionlint.yaml" { return ".github/actionlint.yaml" }
        if path.hasPrefix("grafana/") { return "ops/" + path }
        return nil
    }

    public static func scaffold(directory: String, force: Bool) throws(OpsError) -> InitReport {
        let plan = EmbeddedTemplate.allCases.compactMap { template in
            destination(forTemplate: template.path).map { (relative: $0, contents: template.contents) }
        }
        // Check everything before writing anything: a refused init leaves the directory untouched.
        let existing = plan.map(\.relative).filter { FileManager.default.fileExists(atPath: "\(directory)/\($0)") }
        if !existing.isEmpty && !force {
            throw OpsError(.usage, code: "init.exists", "\(directory) already has \(existing.joined(separator: ", ")); refusing to overwrite",
                           details: ["pass --force to overwrite them"])
        }
        var report = InitReport(directory: directory, written: [], overwritten: [])
        for file in plan {
            let path = "\(directory)/\(file.relative)"
            let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
            do {
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            } catch {
                throw OpsError(.io, code: "io.write_failed", "\(parent): cannot create directory: \(YAMLReader.reason(error))")
            }
            try AtomicFile.write(file.contents, to: path)
            if existing.contains(file.relative) { report.overwritten.append(file.relative) } else { report.written.append(file.relative) }
        }
        return report
    }
}
