// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A repository's tag names read from its files (`packed-refs` and `refs/tags/`), without
/// starting git: completion runs while someone waits at a prompt, and on a busy host starting
/// a process can take longer than any bound a prompt can afford. nil when the repository keeps
/// its refs in a way this does not read (reftable), so the caller asks git instead.
enum GitTagFiles {
    static func tagNames(in directory: String) -> [String]? {
        guard let commonDirectory = commonGitDirectory(from: directory), !usesReftable(commonDirectory) else { return nil }
        var names = Set(packedTagNames(commonDirectory))
        names.formUnion(looseTagNames(commonDirectory))
        return names.sorted()
    }

    /// The directory holding refs and packed-refs: `.git` of the nearest enclosing work tree
    /// (following a `.git` file's `gitdir:` and a linked worktree's `commondir`), or a bare repository.
    static func commonGitDirectory(from directory: String) -> String? {
        guard let gitDirectory = gitDirectory(from: URL(fileURLWithPath: directory).standardizedFileURL) else { return nil }
        guard let common = firstLine(of: gitDirectory + "/commondir") else { return gitDirectory }
        return resolve(common, against: gitDirectory)
    }

    static func gitDirectory(from start: URL) -> String? {
        var candidate = start
        while true {
            let dotGit = candidate.appendingPathComponent(".git").path
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dotGit, isDirectory: &isDirectory) {
                if isDirectory.boolValue { return dotGit }
                guard let line = firstLine(of: dotGit), line.hasPrefix("gitdir:") else { return nil }
                return resolve(line.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespaces), against: candidate.path)
            }
            if isBareRepository(candidate.path) { return candidate.path }
            let parent = candidate.deletingLastPathComponent()
            guard parent.path != candidate.path else { return nil }
            candidate = parent
        }
    }

    static func isBareRepository(_ path: String) -> Bool {
        let manager = FileManager.default
        return manager.fileExists(atPath: path + "/HEAD") && manager.fileExists(atPath: path + "/objects") && manager.fileExists(atPath: path + "/refs")
    }

    static func usesReftable(_ gitDirectory: String) -> Bool {
        if FileManager.default.fileExists(atPath: gitDirectory + "/reftable") { return true }
        let config = (try? String(contentsOfFile: gitDirectory + "/config", encoding: .utf8)) ?? ""
        return config.lowercased().contains("refstorage")
    }

    /// `<sha> refs/tags/NAME` lines; `^<sha>` lines peel the tag above and `#` lines are headers.
    static func packedTagNames(_ gitDirectory: String) -> [String] {
        guard let text = try? String(contentsOfFile: gitDirectory + "/packed-refs", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), !line.hasPrefix("^"), let space = line.firstIndex(of: " ") else { return nil }
            let reference = line[line.index(after: space)...]
            return reference.hasPrefix("refs/tags/") ? String(reference.dropFirst("refs/tags/".count)) : nil
        }
    }

    /// Files under refs/tags, nested names (`release/1.0.0`) included.
    static func looseTagNames(_ gitDirectory: String) -> [String] {
        let root = gitDirectory + "/refs/tags"
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var names: [String] = []
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue,
               !relative.hasSuffix(".lock") {   // a ref git is writing right now
                names.append(relative)
            }
        }
        return names
    }

    static func firstLine(of path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: "\n", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    static func resolve(_ path: String, against base: String) -> String {
        URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: base, isDirectory: true)).standardizedFileURL.path
    }
}
