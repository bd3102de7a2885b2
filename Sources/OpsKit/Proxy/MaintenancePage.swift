// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What nginx answers while the app is down for maintenance (or a pause ran past its bound):
/// 503 with `Retry-After`, an HTML page, or JSON for clients that ask for it.
public struct MaintenancePage: Sendable, Equatable, Codable {
    public static let defaultMessage = "We are doing some maintenance and will be back shortly."
    public static let defaultRetryAfter = OpsDuration.seconds(120)
    /// Long enough for a paragraph, short enough that the escaped page stays one nginx token.
    public static let longestMessage = 500

    public var message: String
    /// `Retry-After`, whole seconds.
    public var retryAfterSeconds: Int

    public init(message: String? = nil, retryAfter: OpsDuration = MaintenancePage.defaultRetryAfter) {
        self.message = message ?? Self.defaultMessage
        retryAfterSeconds = Int((Double(retryAfter.milliseconds) / 1000).rounded(.up))
    }

    /// Refuses what nginx could not carry: an empty or overlong message.
    public func validate() throws(OpsError) {
        let trimmed = message.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw OpsError(.usage, code: "maintenance.message_empty", "--message is empty: leave it out for the default page") }
        guard message.count <= Self.longestMessage else {
            throw OpsError(.usage, code: "maintenance.message_too_long", "--message has \(message.count) characters; the page takes at most \(Self.longestMessage)")
        }
        guard retryAfterSeconds >= 1 else { throw OpsError(.usage, code: "maintenance.retry_after", "--retry-after must be at least 1s") }
    }

    /// The HTML page. Every character of the message is escaped, `$` too (nginx would read a variable).
    public var html: String {
        let minutes = max(1, (retryAfterSeconds + 59) / 60)
        let body = Self.htmlEscaped(message).replacingOccurrences(of: "\n", with: "<br>")
        return """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">\
            <title>Down for maintenance</title><style>body{font:17px/1.5 system-ui,sans-serif;max-width:34em;margin:18vh auto;padding:0 1em;color:#222}\
            h1{font-size:1.4em}p.retry{color:#666}</style></head><body><h1>Down for maintenance</h1><p>\(body)</p>\
            <p class="retry">Please try again in \(minutes == 1 ? "a minute" : "\(minutes) minutes").</p></body></html>

            """
    }

    /// `{"status":"maintenance","message":"…","retry_after":120}`; `$` and `'` as \u escapes.
    public var json: String {
        var text = "{\"status\":\"maintenance\",\"message\":\"\(Self.jsonEscaped(message))\",\"retry_after\":\(retryAfterSeconds)}\n"
        text = text.replacingOccurrences(of: "$", with: "\\u0024")
        return text
    }

    static func htmlEscaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            case "$": result += "&#36;"
            case "\n": result += "\n"
            default:
                if character.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) { result.append(character) }
            }
        }
        return result
    }

    static func jsonEscaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case "'": result += "\\u0027"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    result += String(format: "\\u%04x", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }
}
