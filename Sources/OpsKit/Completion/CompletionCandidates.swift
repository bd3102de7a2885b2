// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Yams

/// What the shell completion scripts (`opsctl --generate-completion-script bash|zsh|fish`) offer
/// on TAB: environment names from opsctl.yml and release versions from the app's git tags.
///
/// The config is read leniently, only the keys needed, so a file with a mistake elsewhere still
/// completes; and silently: a completion that fails offers nothing rather than printing into
/// the user's command line.
public enum CompletionCandidates {
    /// The config the command line being completed would use: its `--config F` or `--config=F`,
    /// else `$OPSCTL_CONFIG`, else ./opsctl.yml (what `ConfigLoader.resolvePath` decides when the
    /// command runs).
    public static func configPath(words: [String], environment: [String: String]) -> String {
        var explicit: String?
        for (index, word) in words.enumerated() {
            if word == "--config", index + 1 < words.count {
                explicit = shellWord(words[index + 1], home: environment["HOME"])
            } else if word.hasPrefix("--config=") {
                explicit = shellWord(String(word.dropFirst("--config=".count)), home: environment["HOME"])
            }
        }
        return ConfigLoader.resolvePath(explicit: explicit, environment: environment)
    }

    /// The environments defined in that config, in file order.
    public static func environments(words: [String], environment: [String: String]) -> [String] {
        guard let root = configRoot(configPath(words: words, environment: environment)),
              let environments = root["environments"]?.mapping else { return [] }
        return environments.keys.compactMap(\.string)
    }

    /// Release versions (`tag_prefix` + semver tags of `git.dir`), highest first.
    public static func versions(words: [String], environment: [String: String],
                                runner: any ProcessRunning = SubprocessRunner()) async -> [String] {
        let path = configPath(words: words, environment: environment)
        guard let root = configRoot(path) else { return [] }
        let git = root["git"]?.mapping
        let prefix = git?["tag_prefix"]?.string ?? GitSettings().tagPrefix
        let directory = git?["dir"]?.string ?? GitSettings().dir
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        let repository = URL(fileURLWithPath: directory, relativeTo: base).standardizedFileURL.path
        let names: [String]
        if let fromFiles = GitTagFiles.tagNames(in: repository) {
            names = fromFiles
        } else {
            names = await tagsFromGit(repository, prefix: prefix, runner: runner)
        }
        return GitClient.releaseTags(names, prefix: prefix).map(\.version.description)
    }

    /// Only for refs kept where GitTagFiles cannot read them (reftable). The bound is generous:
    /// someone waits at the prompt, but on a busy host just starting git can take seconds.
    static func tagsFromGit(_ repository: String, prefix: String, runner: any ProcessRunning) async -> [String] {
        var client = GitClient(runner: runner, directory: repository)
        client.timeout = .seconds(15)
        return (try? await client.tags(prefix: prefix)) ?? []
    }

    static func configRoot(_ path: String) -> Node? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let root = try? Yams.compose(yaml: text), root.mapping != nil else { return nil }
        return root
    }

    /// A shell word as typed, the way the shell would pass it: quotes and backslashes removed,
    /// a leading `~/` expanded. Completion functions receive words verbatim.
    static func shellWord(_ word: String, home: String?) -> String {
        var text = ""
        var quote: Character?
        var escaped = false
        for character in word {
            if escaped { text.append(character); escaped = false; continue }
            switch (character, quote) {
            case ("\\", nil), ("\\", "\""): escaped = true
            case ("'", nil), ("\"", nil): quote = character
            case (let close, let open?) where close == open: quote = nil
            default: text.append(character)
            }
        }
        if let home, text == "~" || text.hasPrefix("~/") { text = home + text.dropFirst() }
        return text
    }
}
