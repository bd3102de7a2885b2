// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// `opsctl config check [ENV]`: the resolved configuration, secrets redacted.
public struct ConfigCheckReport: Report {
    public let file: String
    public let environments: [String]
    public let config: OpsConfig

    public init(config: OpsConfig, only environment: String?) throws(OpsError) {
        var shown = config
        if let environment {
            shown.environments = [try config.environment(named: environment)]
        }
        self.file = config.sourcePath
        self.environments = shown.environments.map(\.name)
        self.config = shown
    }

    public func renderText() -> String {
        "\(file): ok (\(environments.count) environment\(environments.count == 1 ? "" : "s"): \(environments.joined(separator: ", ")))\n"
            + TextFormat.tree(config)
    }
}
