// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

struct RedactionTests {
    @Test func urlCredentialsAreRedactedAnywhereInLongText() {
        let filler = String(repeating: "é ok ", count: 20_000)
        let text = filler + "https://user:hunter2@host/x " + filler + "ftp://token@h:21/y"
        let redacted = Redactor.redactURLCredentials(text)
        #expect(!redacted.contains("hunter2") && !redacted.contains("token@"))
        #expect(redacted.contains("https://user:<redacted>@host/x") && redacted.hasSuffix("ftp://<redacted>@h:21/y"))
        #expect(redacted.hasPrefix(filler))
        #expect(Redactor.redactURLCredentials("mail me@host, see http://host/") == "mail me@host, see http://host/")
        #expect(Redactor.redactURLCredentials("a://b://c@d") == "a://b://<redacted>@d")
    }
}
