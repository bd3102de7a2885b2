// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser

/// Options every subcommand accepts, before or after its own arguments.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The config file (default: $OPSCTL_CONFIG, else ./opsctl.yml).", valueName: "file"),
            completion: .file(extensions: ["yml", "yaml"]))
    var config: String?

    @Flag(name: .long, help: "Print exactly one JSON document on stdout.")
    var json = false

    @Flag(name: .shortAndLong, help: "More log output on stderr (repeat for trace).")
    var verbose: Int

    @Flag(name: .shortAndLong, help: "Only errors on stderr.")
    var quiet = false
}

/// Usage lines that fit 80 columns: ArgumentParser wraps every part of the help but the
/// synopsis, which it prints as one line however many options there are. A test checks that
/// each line fits and names every option the help lists.
enum Usage {
    static let global = "[--config <file>] [--json] [--verbose ...] [--quiet]"

    /// The command's own lines, then the options every command takes.
    static func lines(_ lines: String...) -> String {
        (lines + [global]).joined(separator: "\n")
    }
}
