// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CCurl
import CSQLite
import CZlib

/// `opsctl version`: this build and the system libraries it is linked against.
public struct VersionReport: Report {
    public let opsctl: String
    public let sqlite: String
    public let zlib: String
    public let curl: String

    public init() {
        opsctl = OpsctlVersion.current
        sqlite = String(cString: sqlite3_libversion())
        zlib = String(cString: zlibVersion())
        curl = String(cString: opsctl_curl_version_number())
    }

    public func renderText() -> String {
        "opsctl \(opsctl)\nsqlite \(sqlite), zlib \(zlib), libcurl \(curl)"
    }
}
