// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit
import OpsTestSupport

/// The build-time generator (Tools/opskit-codegen, run by the OpsKitCodegen plugin), run here on
/// its own: templates that would break a naive literal, clashing names, git describe's cases.
@Suite struct CodegenTests {
    /// Built next to this test binary: SwiftPM builds plugin tools into the same directory.
    static let tool: String = {
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent("opskit-codegen-tool").path
    }()

    func codegen(_ arguments: [String]) async throws -> ProcessResult {
        try await SubprocessRunner().run(ProcessRequest(Self.tool, arguments, timeout: .seconds(60)))
    }

    @Test func theToolIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.tool), "\(Self.tool) missing")
    }

    /// Generated, compiled with swiftc and run: every file comes back byte for byte.
    @Test func awkwardTemplatesSurviveTheRoundTrip() async throws {
        let work = TemporaryDirectory("opsctl-codegen")
        let awkward: [String: String] = [
            "quotes.txt": ##"a "quoted" line, a raw end """# and \#(interpolation) \(too) \n"##,
            "crlf/windows.ini": "one\r\ntwo\r\n\ttabbed\u{7F}\u{01}",
            "2-unicode.md": "Grüße → ✓ 日本 🙂\n",
            "empty.txt": "",
            "deep/er/x.yml": "key: 'value' # \\\\ backslashes\n",
        ]
        for (path, text) in awkward { try work.write("templates/\(path)", text) }
        try work.write("templates/.hidden.swp", "editor junk")
        let generated = work.file("EmbeddedTemplates.swift")
        let result = try await codegen(["templates", work.file("templates"), generated])
        #expect(result.succeeded, "\(result.standardErrorTail)")
        try work.write("main.swift", """
            import Foundation
            for template in EmbeddedTemplate.allCases {
                let target = CommandLine.arguments[1] + "/" + template.path
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(template.contents.utf8).write(to: URL(fileURLWithPath: target))
            }
            print(EmbeddedTemplate._2UnicodeMd.path, EmbeddedTemplate.crlfWindowsIni.path)
            """)
        try await setUp("swiftc", ["-o", work.file("roundtrip"), generated, work.file("main.swift")], in: work.path, timeout: .seconds(300))
        let names = try await setUp(work.file("roundtrip"), [work.file("out")])
        #expect(names == "2-unicode.md crlf/windows.ini\n")
        for (path, text) in awkward {
            let back = try Data(contentsOf: URL(fileURLWithPath: work.file("out/\(path)")))
            #expect(back == Data(text.utf8), "\(path) changed on the way through")
        }
        #expect(!FileManager.default.fileExists(atPath: work.file("out/.hidden.swp")))
    }

    @Test func namesThatClashAndBinaryFilesAreRefusedByName() async throws {
        let work = TemporaryDirectory("opsctl-codegen")
        try work.write("templates/a-b.txt", "1")
        try work.write("templates/a_b.txt", "2")
        let clash = try await codegen(["templates", work.file("templates"), work.file("out.swift")])
        #expect(clash.termination == .exited(1))
        #expect(clash.standardErrorTail.contains("templates/a_b.txt") && clash.standardErrorTail.contains("templates/a-b.txt"))
        #expect(!FileManager.default.fileExists(atPath: work.file("out.swift")))

        try FileManager.default.removeItem(atPath: work.file("templates/a_b.txt"))
        try Data([0xFF, 0xFE, 0x00]).write(to: URL(fileURLWithPath: work.file("templates/logo.bin")))
        let binary = try await codegen(["templates", work.file("templates"), work.file("out.swift")])
        #expect(binary.termination == .exited(1))
        #expect(binary.standardErrorTail.contains("templates/logo.bin is not UTF-8"))
    }

    /// No tags, a release tag, commits after it, a foreign tag, a packager's override, and a
    /// source tree inside somebody else's repository.
    @Test func theVersionComesFromGitDescribe() async throws {
        let work = TemporaryDirectory("opsctl-codegen")
        let repo = work.file("repo")
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        func git(_ arguments: String...) async throws -> String {
            try await setUp("git", ["-C", repo] + arguments).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func version(_ extra: String...) async throws -> String {
            let output = work.file("GitDescribe.swift")
            let result = try await codegen(["version", repo, output] + extra)
            #expect(result.succeeded, "\(result.standardErrorTail)")
            let source = try String(contentsOfFile: output, encoding: .utf8)
            return try #require(source.firstMatch(of: /static let version = "([^"]*)"/)).1.description
        }
        _ = try await git("init", "-q")
        _ = try await git("commit", "-q", "--allow-empty", "-m", "one")
        _ = try await git("commit", "-q", "--allow-empty", "-m", "two")
        #expect(try await version() == "0.0.0-2-g\(try await git("rev-parse", "--short", "HEAD"))")
        _ = try await git("tag", "v1.2.0")
        _ = try await git("tag", "nightly")
        #expect(try await version() == "1.2.0")
        _ = try await git("commit", "-q", "--allow-empty", "-m", "three")
        #expect(try await version() == "1.2.0-1-g\(try await git("rev-parse", "--short", "HEAD"))")
        #expect(try await version("2.0.0-rc.1") == "2.0.0-rc.1")

        let unpacked = "\(repo)/vendor/opsctl"
        try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        let inner = try await codegen(["version", unpacked, work.file("inner.swift")])
        #expect(inner.succeeded)
        #expect(try String(contentsOfFile: work.file("inner.swift"), encoding: .utf8).contains(#""0.0.0-unknown""#))
    }
}
