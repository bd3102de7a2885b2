// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Logging

/// The replica off-site: the same `<generation>/<file>` names under `<backup.offsite prefix>replica/`.
/// Local replication never waits for it: the shipper works on its own thread, from the files
/// already durable in the local replica, and catches up after an outage.
public struct ReplicaRemote: Sendable {
    let client: S3Client

    static let folder = "replica/"
    var root: String { client.settings.prefix + Self.folder }
    var url: String { client.settings.url + Self.folder }

    init(settings: OffsiteSettings, logger: Logger) {
        client = S3Client(settings: settings, logger: logger)
    }

    func key(of point: ReplicaPoint) -> String { root + point.key }

    func catalog() throws(OpsError) -> ReplicaCatalog {
        do throws(S3Failure) {
            let objects = try client.listObjects(prefix: root)
            return ReplicaCatalog(files: objects.map { (String($0.key.dropFirst(root.count)), $0.size) })
        } catch {
            throw error.opsError
        }
    }

    func upload(_ point: ReplicaPoint, from path: String) throws(OpsError) {
        do throws(OffsiteError) {
            _ = try OffsiteUploader(client: client).upload(path: path, key: key(of: point), contentType: point.encrypted ? "application/octet-stream" : "application/gzip")
        } catch {
            throw error.opsError
        }
    }

    /// The object's bytes into `path` (created; a temp file of the caller's).
    func download(_ point: ReplicaPoint, to path: String) throws(OpsError) {
        let output = try HashingFile(creating: path)
        let failed = WriteFailure()
        do throws(S3Failure) {
            _ = try client.download(key(of: point)) { chunk in
                do throws(OpsError) { try output.write(chunk); return true } catch { failed.error = error; return false }
            }
        } catch {
            output.closeQuietly()
            throw failed.error ?? error.opsError
        }
        try output.synchronizeAndClose()
    }

    func delete(_ generation: ReplicaGeneration) throws(OpsError) {
        for point in generation.points.reversed() {
            do throws(S3Failure) { try client.delete(key(of: point)) } catch { throw error.opsError }
        }
    }

    final class WriteFailure: @unchecked Sendable { var error: OpsError? }
}

/// Copies every local point the remote lacks, oldest first, on a thread of its own; retries
/// with a growing pause while the endpoint is down; deletes remote generations retention let go.
final class ReplicaShipper: @unchecked Sendable {
    private let remote: ReplicaRemote
    private let store: ReplicaStore
    private let retention: OpsDuration
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let lock = NSLock()
    private let wake = DispatchSemaphore(value: 0)
    private var stopping = false
    private var shipped: Set<String>?
    private var state = ShipperState()

    struct ShipperState: Sendable {
        var latest: Date?
        var pending = 0
        var lastError: String?
    }

    init(remote: ReplicaRemote, store: ReplicaStore, retention: OpsDuration, logger: Logger, now: @escaping @Sendable () -> Date) {
        self.remote = remote
        self.store = store
        self.retention = retention
        self.logger = logger
        self.now = now
    }

    var snapshot: ShipperState { lock.withLock { state } }

    func start() { Thread { [self] in run() }.start() }

    /// A new point is durable: ship it now rather than at the next poll.
    func nudge() { wake.signal() }

    func stop() {
        lock.withLock { stopping = true }
        wake.signal()
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func run() {
        var pause: TimeInterval = 1
        while !isStopping {
            do throws(OpsError) {
                try shipPending()
                pause = 1
                lock.withLock { state.lastError = nil }
            } catch {
                lock.withLock { state.lastError = error.message }
                logger.warning("off-site replica: \(error.message); local replication goes on, retrying in \(Int(pause)) s")
                pause = min(pause * 2, 30)
            }
            _ = wake.wait(timeout: .now() + pause)
        }
    }

    /// One pass: the remote's listing once (then remembered), every missing point in order, then retention.
    func shipPending() throws(OpsError) {
        let local = try store.catalog().generations.flatMap(\.usable)
        // Counted before the remote is asked: while it is down, everything not known to be there waits.
        lock.withLock { state.pending = local.filter { !(shipped?.contains($0.key) ?? false) }.count }
        if shipped == nil {
            let catalog = try remote.catalog()
            shipped = Set(catalog.generations.flatMap { $0.points.map(\.key) })
            lock.withLock { state.latest = catalog.window?.latest }
        }
        let pending = local.filter { !shipped!.contains($0.key) }
        lock.withLock { state.pending = pending.count }
        for point in pending where !isStopping {
            do {
                try remote.upload(point, from: store.path(of: point))
            } catch {
                shipped = nil   // list again after an outage: some uploads may have landed
                throw error
            }
            shipped!.insert(point.key)
            lock.withLock {
                state.pending -= 1
                state.latest = max(state.latest ?? point.time, point.time)
            }
        }
        if now().timeIntervalSince(lastPrune) >= 60 {
            try pruneRemote()
            lastPrune = now()
        }
    }

    private var lastPrune = Date.distantPast

    func pruneRemote() throws(OpsError) {
        let catalog = try remote.catalog()
        for generation in catalog.expired(before: now().addingTimeInterval(-retention.seconds)) {
            try remote.delete(generation)
            shipped?.subtract(generation.points.map(\.key))
            logger.notice("off-site replica: deleted generation \(generation.name) (older than retention \(retention))")
        }
    }
}
