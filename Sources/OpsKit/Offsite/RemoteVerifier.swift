// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// `verify --remote`: each off-site copy streamed straight through the local verifier's checks
/// (gzip CRC and length, SHA-256 and size against its manifest, SQLite's checks on the inflated
/// database; an age copy decrypted on the way). The `.db.gz[.age]` never lands on disk; only the
/// inflated database does, as for a local verify.
public enum RemoteVerifier {
    /// One copy. A bad copy is a result (`ok: false`); a remote that fails mid-way throws, so a
    /// broken connection is never reported as a truncated backup.
    static func verify(_ copy: RemoteCopy, client: S3Client, deep: Bool, temporaryDirectory: String,
                       keepAs: String? = nil, keys: BackupKeys) throws(OpsError) -> VerificationResult {
        var manifest: BackupManifest?
        var manifestProblem: String?
        do {
            switch try RemoteCatalog.manifest(of: copy, client: client) {
            case .success(let found)?: manifest = found
            case .failure(let error)?: manifestProblem = "manifest unreadable: \(error.message)"
            case nil: break
            }
        } catch {
            throw error.opsError
        }
        var sockets: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &sockets) == 0 else {
            throw OpsError(.io, code: "verify.socket", "cannot create a socket pair: \(String(cString: strerror(errno)))")
        }
        let reader = sockets[0], writer = sockets[1]
        let download = Download()
        DispatchQueue.global().async {
            download.finish(Result { () throws(S3Failure) in
                try client.download(copy.key) { chunk in Self.send(chunk, to: writer) }
            })
            close(writer)
        }
        let input = FileHandle(fileDescriptor: reader, closeOnDealloc: false)
        let outcome = Result { () throws(OpsError) in
            try BackupVerifier.verify(input: input, file: copy.url, manifest: manifest, manifestProblem: manifestProblem, deep: deep,
                                      temporaryDirectory: temporaryDirectory, keepAs: keepAs, keys: keys)
        }
        // Closing our end stops a download the verifier no longer reads (a copy found bad early).
        close(reader)
        let transfer = download.wait()
        if case .failure(let failure) = transfer, failure.code != "Stopped" {
            throw failure.opsError
        }
        return try outcome.get()
    }

    /// Writes a downloaded chunk into the socket; false (stop the download) once the reader is gone.
    static func send(_ chunk: UnsafeRawBufferPointer, to descriptor: Int32) -> Bool {
        var offset = 0
        while offset < chunk.count {
            // MSG_NOSIGNAL: a closed reader is EPIPE here, not a SIGPIPE that kills opsctl.
            let sent = Foundation.send(descriptor, chunk.baseAddress! + offset, chunk.count - offset, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }

    /// The download's outcome, handed from its thread to the verifier's.
    final class Download: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var result: Result<Int64?, S3Failure>?

        func finish(_ result: Result<Int64?, S3Failure>) {
            self.result = result
            done.signal()
        }

        func wait() -> Result<Int64?, S3Failure> {
            done.wait()
            return result!
        }
    }
}

/// `opsctl verify ENV --remote [--latest] [--deep]`.
extension RemoteVerifier {
    public static func verifyAll(settings: OffsiteSettings, name: String, latestOnly: Bool, deep: Bool, env: String, scratchDirectory: String,
                                 ledgerPath: String?, metricsDirectory: String?, keys: BackupKeys = .none("no identity was given"),
                                 context: OpsContext) throws(OpsError) -> VerifyReport {
        let client = S3Client(settings: settings, logger: context.logger)
        var copies: [RemoteCopy]
        do { copies = try RemoteCatalog.list(client, name: name) } catch { throw error.opsError }
        // --latest: the newest complete copy, the one a restore would take; an incomplete one only
        // when there is nothing else (so its failure is reported, not hidden).
        if latestOnly { copies = Array((copies.first(where: \.hasManifest) ?? copies.first).map { [$0] } ?? []) }
        try FileManager.default.createDirectoryIfNeeded(scratchDirectory)
        let ledger = try ledgerPath.map { path throws(OpsError) in try context.ledger(path) }
        var results: [VerificationResult] = []
        for copy in copies {
            context.logger.info("verifying \(copy.url)")
            let result = try verify(copy, client: client, deep: deep, temporaryDirectory: scratchDirectory, keys: keys)
            try ledger?.recordVerification(env: env, result: result, at: context.now())
            results.append(result)
        }
        if let metricsDirectory {
            let labels = [("env", env)]
            try MetricsFile.update(directory: metricsDirectory, env: env, samples: [
                MetricSample("opsctl_offsite_verify_failed_copies", "Off-site copies that failed the last verify --remote.", labels: labels,
                             Double(results.filter { !$0.ok }.count)),
                MetricSample("opsctl_offsite_verify_last_run_timestamp_seconds", "When verify --remote last ran.", labels: labels,
                             context.now().timeIntervalSince1970.rounded()),
            ])
        }
        return VerifyReport(results: results, live: nil, deep: deep)
    }
}

extension FileManager {
    func createDirectoryIfNeeded(_ path: String) throws(OpsError) {
        do { try createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw OpsError(.io, code: "io.mkdir", "\(path): cannot create: \(YAMLReader.reason(error))")
        }
    }
}
