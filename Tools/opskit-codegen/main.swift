// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
// opskit-codegen: the Swift sources the OpsKitCodegen build-tool plugin adds to OpsKit.
//
//   opskit-codegen templates <templates-dir> <output.swift>
//       every file under <templates-dir> (dot files skipped) as a case of `EmbeddedTemplate`
//   opskit-codegen version <package-root> <output.swift> [<version>]
//       `GitDescribe.version`: <version> when given, else from `git describe` in <package-root>
//
// Contents are emitted as escaped string literals, not raw multi-line ones, so no template
// text (quotes, backslashes, `"""#`, CRLF) can end a literal early.
import Foundation

struct CodegenError: Error, CustomStringConvertible {
    let description: String
}

/// The files under `directory`, as sorted paths relative to it. Dot files and dot directories
/// (editor swap files, .DS_Store) are not templates.
func templateFiles(under directory: URL) throws -> [String] {
    let root = directory.standardizedFileURL.path
    guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey],
                                                      options: [.skipsHiddenFiles]) else {
        throw CodegenError(description: "\(root): cannot list the templates directory")
    }
    var paths: [String] = []
    for case let url as URL in walker {
        guard try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true else { continue }
        let path = url.standardizedFileURL.path
        guard path.hasPrefix(root + "/") else { continue }
        paths.append(String(path.dropFirst(root.count + 1)))
    }
    return paths.sorted()
}

/// `handoff/handoff.md.mustache` → `handoffHandoffMdMustache`: lower camel case of the
/// path's alphanumeric runs, `_` in front when it would start with a digit.
func caseName(forPath path: String) -> String {
    let words = path.split { !($0.isASCII && ($0.isLetter || $0.isNumber)) }.map(String.init)
    let camel = words.enumerated().map { index, word in
        index == 0 ? word.prefix(1).lowercased() + word.dropFirst() : word.prefix(1).uppercased() + word.dropFirst()
    }.joined()
    return camel.first?.isNumber == true || camel.isEmpty ? "_" + camel : camel
}

/// A Swift string literal that evaluates to exactly `text`.
func literal(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            out += "\\u{" + String(scalar.value, radix: 16) + "}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

func templatesSource(directory: URL) throws -> String {
    var cases: [(name: String, path: String, contents: String)] = []
    var seen: [String: String] = [:]
    for path in try templateFiles(under: directory) {
        let name = caseName(forPath: path)
        if let other = seen[name] {
            throw CodegenError(description: "templates/\(path) and templates/\(other) both become EmbeddedTemplate.\(name); rename one")
        }
        seen[name] = path
        let data = try Data(contentsOf: directory.appendingPathComponent(path))
        guard let contents = String(data: data, encoding: .utf8) else {
            throw CodegenError(description: "templates/\(path) is not UTF-8 text; only text templates can be embedded")
        }
        cases.append((name, path, contents))
    }
    var lines = [
        "// Generated at build time by the OpsKitCodegen plugin from templates/. Do not edit: change templates/.",
        "",
        "/// The files under templates/, embedded in the binary (`opsctl init` writes them, handoff renders",
        "/// its own). A new file under templates/ becomes a new case on the next build.",
        "public enum EmbeddedTemplate: String, CaseIterable, Sendable {",
    ]
    lines += cases.map { "    case `\($0.name)` = \(literal($0.path))" }
    lines += ["", "    /// The path under templates/.", "    public var path: String { rawValue }", "",
              "    /// The file, byte for byte.", "    public var contents: String {", "        switch self {"]
    lines += cases.map { "        case .`\($0.name)`: \(literal($0.contents))" }
    lines += ["        }", "    }", "}", ""]
    return lines.joined(separator: "\n")
}

/// `$OPSCTL_VERSION` as the plugin passed it; else the nearest release tag of the package's own
/// repository (`v1.2.0` → 1.2.0, plus `-3-gabc1234` between releases); else, in a clone without
/// tags, 0.0.0-<commits>-g<hash>; else (no git) 0.0.0-unknown.
func describeVersion(root: URL, fixed: String?) -> String {
    if let fixed { return fixed }
    // Only this package's own repository: a source tree unpacked inside another one must not
    // take that one's tags.
    guard let top = git(root, ["rev-parse", "--show-toplevel"]),
          URL(fileURLWithPath: top).resolvingSymlinksInPath().path == root.resolvingSymlinksInPath().path else {
        return "0.0.0-unknown"
    }
    if let described = git(root, ["describe", "--tags", "--match", "v[0-9]*", "--match", "[0-9]*"]) {
        return described.hasPrefix("v") ? String(described.dropFirst()) : described
    }
    if let commits = git(root, ["rev-list", "--count", "HEAD"]), let hash = git(root, ["rev-parse", "--short", "HEAD"]) {
        return "0.0.0-\(commits)-g\(hash)"
    }
    return "0.0.0-unknown"
}

func versionSource(version: String) -> String {
    """
    // Generated at build time by the OpsKitCodegen plugin from `git describe`. Do not edit.

    enum GitDescribe {
        /// The release tag without its `v` (1.2.0), or tag-commits-hash between releases
        /// (1.2.0-3-gabc1234), or 0.0.0-<commits>-g<hash> in a clone without tags.
        static let version = \(literal(version))
    }

    """
}

func main() throws {
    let arguments = Array(CommandLine.arguments.dropFirst())
    let source: String
    switch (arguments.first, arguments.count) {
    case ("templates", 3):
        source = try templatesSource(directory: URL(fileURLWithPath: arguments[1], isDirectory: true))
    case ("version", 3), ("version", 4):
        let root = URL(fileURLWithPath: arguments[1], isDirectory: true)
        source = versionSource(version: describeVersion(root: root, fixed: arguments.count == 4 ? arguments[3] : nil))
    default:
        throw CodegenError(description: "usage: opskit-codegen templates <dir> <output.swift> | version <package-root> <output.swift> [<version>]")
    }
    let output = URL(fileURLWithPath: arguments[2])
    // Rewriting an unchanged file would recompile OpsKit for nothing.
    if (try? Data(contentsOf: output)) == Data(source.utf8) { return }
    try Data(source.utf8).write(to: output, options: .atomic)
}

do {
    try main()
} catch {
    FileHandle.standardError.write(Data("opskit-codegen: error: \(error)\n".utf8))
    exit(1)
}
