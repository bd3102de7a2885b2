// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import OpsKit

struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "opsctl's version and the sqlite, zlib and libcurl it is linked with.",
        usage: Usage.lines("opsctl version"))

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await Output.run(global, environment: nil) { _ throws(OpsError) in VersionReport() }
    }
}
