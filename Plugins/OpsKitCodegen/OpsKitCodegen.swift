// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import PackagePlugin

/// Generates two OpsKit sources at build time, so neither is checked in nor can drift:
/// `EmbeddedTemplate` from every file under templates/ (the package root's, declared as inputs)
/// and `GitDescribe.version` from `git describe`.
///
/// SwiftPM asks this plugin for its commands only when it plans the build (a clean build, a
/// changed manifest or environment, a file added to or removed from a target's folder, which
/// includes templates/ through the excluded Sources/OpsKit/Templates symlink), not on every
/// build. Between plans each command's inputs decide when it runs again, and the tool reads the
/// current state when it does: every file and folder under templates/ (an edit re-embeds), and
/// the git files a commit, a checkout or a new tag rewrites (a new commit re-stamps).
@main
struct OpsKitCodegen: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let tool = try context.tool(named: "opskit-codegen").url
        let root = context.package.directoryURL
        let templates = root.appending(path: "templates", directoryHint: .isDirectory)
        let templatesSource = context.pluginWorkDirectoryURL.appending(path: "EmbeddedTemplates.swift")
        let versionSource = context.pluginWorkDirectoryURL.appending(path: "GitDescribe.swift")
        // A packager building from a tarball (no git) names the version; a changed environment
        // makes SwiftPM plan again, so this argument stays current.
        let fixed = ProcessInfo.processInfo.environment["OPSCTL_VERSION"].flatMap { $0.isEmpty ? nil : [$0] } ?? []
        return [
            .buildCommand(displayName: "Embedding templates/",
                          executable: tool, arguments: ["templates", templates.path, templatesSource.path],
                          inputFiles: Self.tree(templates), outputFiles: [templatesSource]),
            .buildCommand(displayName: "Stamping the version from git describe",
                          executable: tool, arguments: ["version", root.path, versionSource.path] + fixed,
                          inputFiles: fixed.isEmpty ? Self.gitState(of: root) : [], outputFiles: [versionSource]),
        ]
    }

    /// `directory` and everything under it but dot files, directories included.
    static func tree(_ directory: URL) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil,
                                                          options: [.skipsHiddenFiles]) else { return [directory] }
        return [directory] + walker.compactMap { $0 as? URL }.sorted { $0.path < $1.path }
    }

    /// Where git records a commit, a checkout or a tag (worktrees included): HEAD, the worktree's
    /// and the repository's git directories, refs/heads and refs/tags. Directories, because git
    /// writes refs by renaming a lock file, and because a ref file can vanish (`git pack-refs`)
    /// where a missing input would fail the build. None when this is no git checkout.
    static func gitState(of root: URL) -> [URL] {
        let arguments = ["rev-parse", "--git-dir", "--git-common-dir", "--git-path", "HEAD",
                         "--git-path", "refs/heads", "--git-path", "refs/tags"]
        guard let paths = git(root, arguments) else { return [] }
        return paths.split(separator: "\n").map(String.init).map { URL(fileURLWithPath: $0, relativeTo: root).standardizedFileURL }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
    }
}
