// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `make demo` announces an exit code for every step; these run its checks.
struct DemoCheckTests {
    /// A step that does not exit as announced stops the demo with exit 1 and says which step.
    @Test func aStepThatExitsOtherwiseFailsTheDemo() async throws {
        let library = Opsctl.repositoryRoot + "/scripts/demo-lib.sh"
        for (opsctl, step, announced) in [("/bin/true", "expect 78 --config broken.yml config check", "78"), ("/bin/false", "run deploy demo 1.0.0", "0")] {
            let result = try await SubprocessRunner().run(ProcessRequest("bash", ["-c", "set -euo pipefail; opsctl=\(opsctl); . \"$0\"; \(step); echo REACHED", library]))
            #expect(result.termination == .exited(1))
            #expect(!result.standardOutput.contains("REACHED"))
            #expect(result.standardErrorTail.contains("this step announces exit \(announced)"), "\(result.standardErrorTail)")
        }
        let passing = try await SubprocessRunner().run(ProcessRequest("bash", ["-c", "opsctl=/bin/false; . \"$0\"; expect 1 version; echo REACHED", library]))
        #expect(passing.succeeded && passing.standardOutput.contains("(exit 1, as announced)\nREACHED"))
    }
}

@Suite(.serialized, .enabled(if: DockerEngine.shouldRun, "needs a Docker engine (always required under CI=true)"))
struct DemoTests {
    /// The whole demo (about 20 s): every step exits as it announces, on its own app name and port.
    @Test func everyStepExitsAsAnnounced() async throws {
        let app = "demo\(UInt32.random(in: 0...UInt32.max))"
        let ports = [freeTestPorts(1)[0], freeConsecutiveTestPorts(3)]
        let result = try await SubprocessRunner().run(ProcessRequest("bash", [Opsctl.repositoryRoot + "/scripts/demo.sh"], environment: [
            "OPSCTL_BINARY": Opsctl.binary, "DEMO_APP": app, "DEMO_PORT": String(ports[0]), "DEMO_BG_PORT": String(ports[1]),
            "DEMO_IMAGE": "opsctl-demo-test-\(SampleApp.fixtureHash)", "DEMO_CLEANUP": "1", "DEMO_DB_MB": "2", "NO_COLOR": "1",
        ], timeout: .seconds(300)))
        #expect(result.succeeded, "\(result.standardOutput.suffix(3000))\n\(result.standardErrorTail.suffix(3000))")
        for announced in ["(exit 78, as announced)", "(exit 1, as announced)", "(exit 64, as announced)", "(exit 3, as announced)",
                          "demo finished: every step exited as announced"] {
            #expect(result.standardOutput.contains(announced), "\(announced)")
        }
        let left = try await setUp("docker", ["ps", "-aq", "--filter", "label=opsctl.app=\(app)"])
        #expect(left.isEmpty, "DEMO_CLEANUP removes the demo's containers")
    }
}
