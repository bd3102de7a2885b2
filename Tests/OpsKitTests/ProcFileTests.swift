// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// /proc files say their size is 0; Foundation's String(contentsOfFile:) then stops after one
/// page, so a long /proc/mounts (one line per docker overlay) would lose the mount preflight needs.
struct ProcFileTests {
    @Test func aProcFileIsReadToItsEnd() throws {
        let maps = try #require(ProcFile.read("/proc/self/maps"))
        #expect(maps.utf8.count > 4096, "this test process maps far more than a page of lines")
        #expect(maps.contains("[stack]"), "the stack's line comes near the end of the file")
        let foundation = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
        #expect(foundation.utf8.count < maps.utf8.count, "what a plain read would have missed")
    }

    @Test func theMountOfAPathIsFoundPastTheFirstPage() {
        let padding = (0..<200).map { "overlay /var/lib/docker/overlay2/\($0)/merged overlay rw 0 0" }.joined(separator: "\n")
        let mounts = padding + "\ntmpfs /srv/volatile tmpfs rw 0 0\n/dev/vda / ext4 rw 0 0\n"
        #expect(PreflightService.mount(containing: "/srv/volatile/app.db", mounts: mounts)?.type == "tmpfs")
    }
}
