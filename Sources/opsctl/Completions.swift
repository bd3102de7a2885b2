// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import ArgumentParser
import Foundation
import OpsKit

/// Custom shell completion: the shell asks `opsctl ---completion ...` on TAB, which runs these.
extension CompletionKind {
    /// Environment names from the opsctl.yml this command line would use (--config, $OPSCTL_CONFIG).
    static var environments: CompletionKind {
        .custom { words, _, _ in CompletionCandidates.environments(words: words, environment: ProcessInfo.processInfo.environment) }
    }

    /// Release versions from the app repository's git tags, highest first.
    static var releases: CompletionKind {
        .custom { words, _, _ in await CompletionCandidates.versions(words: words, environment: ProcessInfo.processInfo.environment) }
    }
}
