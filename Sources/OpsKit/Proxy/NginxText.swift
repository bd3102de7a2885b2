// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

/// Text opsctl writes into nginx's config: strings nginx reads back byte for byte, and names
/// that are safe as parts of nginx variables.
enum NginxText {
    /// nginx reads one token into a 4 KiB buffer (NGX_CONF_BUFFER): a longer string is refused
    /// by `nginx -t` as "too long parameter".
    static let longestToken = 4000

    /// A single-quoted nginx string. nginx turns `\\` into `\` and `\'` into `'` inside quotes
    /// (and `\n`, `\t`, `\r` into control characters: a doubled backslash keeps them literal).
    /// `$` would start a variable in the strings opsctl writes (`return`'s text): callers escape
    /// it in their own format first (`&#36;`, `\u0024`), and a `$` left is a bug.
    static func quoted(_ text: String) -> String {
        precondition(!text.contains("$"), "an nginx string opsctl writes holds no $: escape it in the page's own format")
        return "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// A file path as one nginx token (the config loader refuses a `$` in the paths nginx is given).
    static func path(_ path: String) -> String {
        path.allSatisfy { $0.isLetter || $0.isNumber || "/._-+@:".contains($0) } ? path : quoted(path)
    }

    /// `dashboard-web.1` → `dashboard_web_1`: an upstream name as part of an nginx variable name,
    /// so each environment's maps and variables stay apart in one nginx.
    static func identifier(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }
}
