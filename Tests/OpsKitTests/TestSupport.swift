// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
@_exported import OpsTestSupport
@testable import OpsKit

/// Runs `body` and returns the OpsError it threw, or nil.
func opsError(_ body: () throws(OpsError) -> Void) -> OpsError? {
    do { try body(); return nil } catch { return error }
}
