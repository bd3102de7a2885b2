// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit
import OpsTestSupport

@Suite struct CompletionTests {
    @Test func theConfigIsTheOneTheCommandWouldUse() {
        let environment = ["OPSCTL_CONFIG": "/etc/opsctl/from-env.yml", "HOME": "/home/oncall"]
        #expect(CompletionCandidates.configPath(words: ["opsctl", "deploy", ""], environment: [:]) == "opsctl.yml")
        #expect(CompletionCandidates.configPath(words: ["opsctl", "deploy", ""], environment: environment) == "/etc/opsctl/from-env.yml")
        #expect(CompletionCandidates.configPath(words: ["opsctl", "deploy", "--config", "a.yml", ""], environment: environment) == "a.yml")
        #expect(CompletionCandidates.configPath(words: ["opsctl", "deploy", "--config=b.yml", "p"], environment: environment) == "b.yml")
        #expect(CompletionCandidates.configPath(words: ["opsctl", "status", "--config", "'my dir/c.yml'", ""], environment: [:]) == "my dir/c.yml")
        #expect(CompletionCandidates.configPath(words: ["opsctl", "status", "--config", #"my\ dir/"d".yml"#, ""], environment: [:]) == "my dir/d.yml")
        #expect(CompletionCandidates.configPath(words: ["opsctl", "status", "--config", "~/ops/e.yml", ""], environment: environment) == "/home/oncall/ops/e.yml")
    }

    /// A config with an unknown key and a missing image still completes its environment names.
    @Test func environmentNamesComeFromTheConfigEvenWhenItHasAMistake() throws {
        let work = TemporaryDirectory("opsctl-completion")
        try work.write("ops.yml", """
            app: shop
            imag: typo
            environments:
              staging: {health: {url: http://127.0.0.1:1/health}}
              prod-eu: {}
              prod-us:
            """)
        #expect(CompletionCandidates.environments(words: ["opsctl", "status", "--config", work.file("ops.yml"), ""], environment: [:])
                == ["staging", "prod-eu", "prod-us"])
        #expect(CompletionCandidates.environments(words: ["opsctl", "status", ""], environment: ["OPSCTL_CONFIG": work.file("ops.yml")]).count == 3)
        try work.write("broken.yml", "environments: [unclosed\n")
        #expect(CompletionCandidates.environments(words: ["opsctl", "status", "--config", work.file("broken.yml")], environment: [:]).isEmpty)
        #expect(CompletionCandidates.environments(words: ["opsctl", "status", "--config", work.file("missing.yml")], environment: [:]).isEmpty)
    }

    /// Tags of `git.dir` (relative to the config file) with `tag_prefix`, semver only, highest first.
    @Test func versionsComeFromTheRepositoryTags() async throws {
        let work = TemporaryDirectory("opsctl-completion")
        let repo = work.file("app")
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        try await setUp("git", ["init", "-q", repo])
        try await setUp("git", ["-C", repo, "commit", "-q", "--allow-empty", "-m", "release"])
        for tag in ["release-1.0.0", "release-1.2.0", "release-1.10.0", "v9.9.9", "release-nightly"] {
            try await setUp("git", ["-C", repo, "tag", tag])
        }
        try work.write("ops/opsctl.yml", """
            app: shop
            image: shop
            git: {dir: ../app, tag_prefix: release-}
            environments: {production: {}}
            """)
        // Read from the repository's files: no process runs while the prompt waits.
        let noProcess = RecordingRunner { RecordingRunner.result($0, exit: 1) }
        let versions = await CompletionCandidates.versions(words: ["opsctl", "deploy", "production", ""],
                                                           environment: ["OPSCTL_CONFIG": work.file("ops/opsctl.yml")], runner: noProcess)
        #expect(versions == ["1.10.0", "1.2.0", "1.0.0"])
        #expect(noProcess.requests.isEmpty)
        // Packed (as after `git gc`) and loose tags together, seen from a linked worktree.
        try await setUp("git", ["-C", repo, "pack-refs", "--all"])
        try await setUp("git", ["-C", repo, "tag", "-a", "-m", "annotated", "release-2.0.0"])
        try await setUp("git", ["-C", repo, "worktree", "add", "-q", work.file("linked")])
        try work.write("linked-ops/opsctl.yml", "app: shop\nimage: shop\ngit: {dir: ../linked, tag_prefix: release-}\nenvironments: {production: {}}\n")
        let fromWorktree = await CompletionCandidates.versions(words: ["opsctl", "deploy", "production", ""],
                                                               environment: ["OPSCTL_CONFIG": work.file("linked-ops/opsctl.yml")], runner: noProcess)
        #expect(fromWorktree == ["2.0.0", "1.10.0", "1.2.0", "1.0.0"])
        #expect(noProcess.requests.isEmpty)
        let none = await CompletionCandidates.versions(words: ["opsctl", "deploy", "--config", work.file("nothing.yml"), "production", ""], environment: [:])
        #expect(none.isEmpty)
    }

    /// A repository whose refs GitTagFiles cannot read (reftable) is asked through git.
    @Test func refsGitTagFilesCannotReadGoThroughGit() async throws {
        let work = TemporaryDirectory("opsctl-completion")
        try FileManager.default.createDirectory(atPath: work.file("app/.git/reftable"), withIntermediateDirectories: true)
        try work.write("opsctl.yml", "app: shop\nimage: shop\ngit: {dir: app}\nenvironments: {production: {}}\n")
        let git = RecordingRunner { RecordingRunner.result($0, stdout: "v1.0.0\nv1.1.0\nvnext\n") }
        let versions = await CompletionCandidates.versions(words: ["opsctl", "deploy", "production", ""],
                                                           environment: ["OPSCTL_CONFIG": work.file("opsctl.yml")], runner: git)
        #expect(versions == ["1.1.0", "1.0.0"])
        #expect(git.requests.map(\.arguments.last) == ["v*"])
    }
}
