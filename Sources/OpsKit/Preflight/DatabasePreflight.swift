// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `database.wal` and `database.freelist`: the database against `database.maintenance`, judged
/// as `opsctl db` judges it. A missing or unreadable database is `storage.database`'s to report.
extension PreflightService {
    func databaseMaintenanceChecks() -> [PreflightCheck] {
        guard let glance = DatabaseGlance.look(environment, config: config, context: context), glance.error == nil else { return [] }
        var checks: [PreflightCheck] = []
        // The WAL's size and whether a reader keeps it from being checkpointed: one check, the worse line speaks.
        let wal = glance.checks.filter { [.wal, .checkpoint].contains($0.id) }
        if let worst = wal.max(by: { $0.verdict < $1.verdict }) {
            checks.append(Self.preflightCheck(.databaseWAL, worst, passSummary: wal.map(\.summary).joined(separator: "; ")))
        }
        if let freelist = glance.checks.first(where: { $0.id == .freelist }) {
            checks.append(Self.preflightCheck(.databaseFreelist, freelist, passSummary: freelist.summary))
        }
        return checks
    }

    static func preflightCheck(_ id: PreflightCheckID, _ check: DatabaseCheck, passSummary: String) -> PreflightCheck {
        switch check.verdict {
        case .ok: PreflightCheck(id: id, status: .pass, summary: passSummary)
        case .warn: PreflightCheck(id: id, status: .warn, summary: check.summary, fix: check.fix)
        case .fail: PreflightCheck(id: id, status: .fail, summary: check.summary, fix: check.fix)
        }
    }
}
