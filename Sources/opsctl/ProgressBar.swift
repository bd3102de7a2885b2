// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A one-line progress display on stderr, only when stderr is a terminal.
final class ProgressBar: @unchecked Sendable {
    let label: String
    let enabled: Bool
    private let lock = NSLock()
    private var lastDraw = ContinuousClock.now - .seconds(1)
    private var drawn = false

    init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled && isatty(STDERR_FILENO) == 1
    }

    func update(_ done: Int, _ total: Int) {
        lock.withLock {
            let now = ContinuousClock.now
            // Small jobs finish before a bar would help; redraw at most 10 times a second.
            guard total >= 32 << 20, now - lastDraw >= .milliseconds(100) || done == total else { return }
            lastDraw = now
            drawn = true
            let fraction = total > 0 ? Double(done) / Double(total) : 1
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let text = String(format: "\r%@ [%@] %3d%%  %.0f/%.0f MiB", label, bar, Int(fraction * 100),
                              Double(done) / 1_048_576, Double(total) / 1_048_576)
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    func finish() {
        lock.withLock {
            if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
            drawn = false
        }
    }
}
