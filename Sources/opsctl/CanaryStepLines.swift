// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import OpsKit

/// A canary's steps on stderr: one line per step once it is decided; on a terminal the line of
/// the step being watched refreshes in place with the figures so far.
final class CanaryStepLines: @unchecked Sendable {
    let enabled: Bool
    let terminal: Bool
    private let lock = NSLock()
    private var drawn = false

    init(enabled: Bool) {
        self.enabled = enabled
        terminal = isatty(STDERR_FILENO) == 1
    }

    func show(_ step: CanaryStepReport, of total: Int) {
        guard enabled else { return }
        lock.withLock {
            let text = "canary " + step.line(of: total)
            // Erase the refreshing line first, so the final one never carries its leftovers.
            let erase = terminal && drawn ? "\r\u{1B}[2K" : ""
            if step.verdict == .watching {
                guard terminal else { return }
                FileHandle.standardError.write(Data((erase + text + "  \(step.watchedMs / 1000)s").utf8))
                drawn = true
            } else {
                FileHandle.standardError.write(Data((erase + text + "\n").utf8))
                drawn = false
            }
        }
    }
}
