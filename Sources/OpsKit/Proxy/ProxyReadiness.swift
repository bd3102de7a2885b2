// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// What must hold before opsctl may take over the upstream file: shared by deploy (which
/// refuses before anything starts) and `opsctl preflight` (the `proxy.*` checks).
public enum ProxyReadiness {
    /// Why opsctl could not write the upstream file atomically (a temp file beside it, then a
    /// rename), or nil when it can.
    public static func upstreamFileProblem(_ settings: ProxySettings) -> String? {
        let path = settings.upstreamFile
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            return "proxy.upstream_file \(path): its directory \(directory) does not exist"
        }
        if FileManager.default.fileExists(atPath: path), access(path, W_OK) != 0 {
            return "proxy.upstream_file \(path) is not writable: \(String(cString: strerror(errno)))"
        }
        // access() says yes to root even on a read-only mount: try what the switch does.
        let probe = "\(directory)/.opsctl-write-test-\(getpid())"
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            return "proxy.upstream_file \(path): cannot create files in \(directory): \(String(cString: strerror(errno)))"
        }
        close(descriptor)
        unlink(probe)
        return nil
    }

    /// Why the current upstream file cannot be taken over, or nil: it must be absent, or hold an
    /// upstream block of that name.
    public static func upstreamContentProblem(_ settings: ProxySettings, text: String?) -> String? {
        guard let text else { return nil }
        guard Upstream.parse(text, name: settings.upstreamName) != nil else {
            return "\(settings.upstreamFile) holds no `upstream \(settings.upstreamName) { … }` block (proxy.upstream_name)"
        }
        return nil
    }
}
