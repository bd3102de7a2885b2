// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing

/// The documentation a user clones must be whole: every relative link in README.md, runbooks/
/// and docs/ points at a file in the repository (never outside it, as ../shared/ did).
struct DocsTests {
    static let documents: [String] = {
        let root = URL(fileURLWithPath: repositoryRoot)
        var files = ["README.md"]
        for folder in ["runbooks", "docs"] {
            let enumerator = FileManager.default.enumerator(atPath: root.appendingPathComponent(folder).path)
            while let file = enumerator?.nextObject() as? String {
                if file.hasSuffix(".md") { files.append("\(folder)/\(file)") }
            }
        }
        return files.sorted()
    }()

    @Test func everyRelativeLinkPointsInsideTheRepository() throws {
        #expect(Self.documents.contains("docs/reference.md"))
        let root = URL(fileURLWithPath: repositoryRoot).standardizedFileURL.path
        for document in Self.documents {
            let text = try String(contentsOfFile: "\(root)/\(document)", encoding: .utf8)
            for match in text.matches(of: /\]\(([^)\s]+)\)/) {
                let target = String(match.1)
                guard !target.contains("://"), !target.hasPrefix("#"), !target.hasPrefix("mailto:") else { continue }
                let path = String(target.split(separator: "#", maxSplits: 1)[0])
                let resolved = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: "\(root)/\(document)").deletingLastPathComponent())
                    .standardizedFileURL.path
                #expect(resolved.hasPrefix(root + "/"), "\(document): \(target) leaves the repository")
                #expect(FileManager.default.fileExists(atPath: resolved), "\(document): \(target) does not exist")
            }
        }
    }

    @Test func noDocumentOrSourcePointsAtTheSharedDesignNotes() throws {
        let root = repositoryRoot
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["grep", "-rlE", "\\.\\./shared|shared/design|design\\.md", "README.md", "runbooks", "docs", "templates", "Sources", "scripts"]
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let found = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(found.isEmpty, "files that point at notes outside the repository: \(found)")
    }

    /// Apache-2.0 (LICENSE) file by file, as the Swift projects it follows mark theirs.
    @Test func everySourceAndScriptCarriesTheLicenceHeader() throws {
        let root = repositoryRoot
        #expect(try String(contentsOfFile: root + "/LICENSE", encoding: .utf8).contains("Apache License"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", root, "ls-files", "*.swift", "*.sh", "*.py", ".ci/run"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let files = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        process.waitUntilExit()
        #expect(files.count > 100, "git ls-files found \(files.count) sources")
        for file in files {
            let path = "\(root)/\(file)"
            guard (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == nil else { continue }
            let head = try String(contentsOfFile: path, encoding: .utf8).prefix(400)
            #expect(head.contains("SPDX-License-Identifier: Apache-2.0"), "\(file) has no SPDX licence header")
        }
    }

    /// A newcomer finds every capability from README's layout: each folder of OpsKit and of Deploy's parts is named there.
    @Test func theReadmeLayoutNamesEveryFolder() throws {
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        let layout = try #require(readme.components(separatedBy: "## Layout").dropFirst().first?.components(separatedBy: "\n## ").first)
        let files = FileManager.default
        let opskit = repositoryRoot + "/Sources/OpsKit"
        var folders = try files.contentsOfDirectory(atPath: opskit).filter { $0 != "Deploy" }.map { "\($0)/" }
        for part in ["Core", "Strategies", "Runtimes"] {
            folders.append("Deploy/\(part)/")
            if part != "Core" { folders += try files.contentsOfDirectory(atPath: "\(opskit)/Deploy/\(part)").map { "\($0)/" } }
        }
        #expect(try files.contentsOfDirectory(atPath: opskit + "/Deploy").sorted() == ["Core", "Runtimes", "Strategies"])
        for folder in folders { #expect(layout.contains(folder), "README's layout does not name \(folder)") }
    }
}
