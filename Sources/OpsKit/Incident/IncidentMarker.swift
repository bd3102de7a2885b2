// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Where incidents live beside the ledger: `<state dir>/incidents/<id>/` for the bundles, and
/// `<state dir>/incidents/open-<env>` while an incident of `env` is open.
///
/// The marker exists so every other command can ask "is an incident open here?" with one
/// `access(2)` instead of opening the ledger: commands stay as fast as they were when none is.
/// The ledger stays the truth: the marker is written and removed inside the ledger's own write
/// transactions, and a stale one only costs a ledger lookup that finds nothing open.
public enum IncidentFiles {
    public static func directory(state: String) -> String {
        URL(fileURLWithPath: state).deletingLastPathComponent().appendingPathComponent("incidents").path
    }

    /// The incident's own folder (bundles).
    public static func folder(state: String, id: Int64) -> String { "\(directory(state: state))/\(id)" }

    static func marker(state: String, env: String) -> String { "\(directory(state: state))/open-\(env)" }

    /// Cheap: no ledger is opened.
    public static func mayHaveOpenIncident(state: String, env: String) -> Bool {
        access(marker(state: state, env: env), F_OK) == 0
    }

    /// Writes or removes the marker to match `open`, the incidents of `env` open now.
    static func syncMarker(state: String, env: String, open: [IncidentRecord]) throws(OpsError) {
        let path = marker(state: state, env: env)
        guard !open.isEmpty else {
            if unlink(path) != 0, errno != ENOENT {
                throw OpsError(.io, code: "io.write_failed", "\(path): cannot remove the open-incident marker: \(String(cString: strerror(errno)))")
            }
            return
        }
        try makeDirectory(directory(state: state))
        try AtomicFile.write(open.map { "#\($0.id) \($0.severity.rawValue)" }.joined(separator: "\n") + "\n", to: path, permissions: 0o600)
    }

    /// Bundles hold logs and the app's settings: only the owner reads them.
    static func makeDirectory(_ path: String) throws(OpsError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw OpsError(.io, code: "io.mkdir", "\(path): cannot create the incidents directory: \(YAMLReader.reason(error))")
        }
    }
}
