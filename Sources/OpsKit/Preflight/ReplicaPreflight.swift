// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `replica.lag`: with `backup.replica`, is `opsctl replicate` running and keeping up. A deploy
/// that breaks the database is undone by `restore --at`; without a running replicator the
/// last good moment may be a day old.
extension PreflightService {
    static func replicaCheck(_ health: ReplicaHealth, env: String) -> PreflightCheck {
        guard let problem = health.problem else {
            return PreflightCheck(id: .replicaLag, status: .pass, summary: health.summary)
        }
        return PreflightCheck(id: .replicaLag, status: .warn, summary: problem,
                              fix: health.running ? "look at journalctl -u opsctl-replicate@\(env) for why rounds are slow (a long write transaction holds the lock)"
                                                  : "systemctl enable --now opsctl-replicate@\(env) (opsctl init wrote the unit)")
    }
}
