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
