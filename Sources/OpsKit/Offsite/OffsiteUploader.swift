// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// Why an off-site step failed: the remote said no (or never answered), or the local copy is not
/// what its manifest says (then it is not uploaded at all).
enum OffsiteError: Error {
    case remote(S3Failure)
    case local(OpsError)

    var opsError: OpsError {
        switch self {
        case .remote(let failure): failure.opsError
        case .local(let error): error
        }
    }

    /// S3's code for remote failures, opsctl's for local ones.
    var code: String {
        switch self {
        case .remote(let failure): failure.code
        case .local(let error): error.code
        }
    }
}

/// How one backup file goes up: byte ranges of `part_size` (one range: a single PUT).
struct UploadPlan: Sendable {
    struct Part: Sendable {
        var offset: Int64
        var length: Int64
    }

    struct Digest: Sendable, Equatable {
        var sha256: String
        var md5: String
    }

    var bytes: Int64
    var parts: [Part]
    var multipart: Bool { parts.count > 1 }

    /// `partSize`, grown when the file would need more than S3's 10,000 parts.
    static func partSize(for bytes: Int64, configured: Int64) -> Int64 {
        let needed = (bytes + Int64(OffsiteSettings.maxParts) - 1) / Int64(OffsiteSettings.maxParts)
        let mebibyte: Int64 = 1 << 20
        return max(configured, (needed + mebibyte - 1) / mebibyte * mebibyte)
    }

    static func make(bytes: Int64, partSize: Int64) -> UploadPlan {
        let size = Self.partSize(for: bytes, configured: partSize)
        var parts: [Part] = []
        var offset: Int64 = 0
        repeat {
            parts.append(Part(offset: offset, length: min(size, bytes - offset)))
            offset += parts.last!.length
        } while offset < bytes
        return UploadPlan(bytes: bytes, parts: parts)
    }

    /// SHA-256 (signed as the payload hash) and MD5 (Content-MD5) of one range, in one read:
    /// the service checks both against what it receives.
    static func digest(path: String, part: Part) throws(OpsError) -> Digest {
        var sha256 = SHA256()
        var md5 = Insecure.MD5()
        try read(path: path, offset: part.offset, length: part.length) { chunk in
            sha256.update(bufferPointer: chunk)
            md5.update(bufferPointer: chunk)
        }
        return Digest(sha256: SigV4Signer.hex(sha256.finalize()), md5: Data(md5.finalize()).base64EncodedString())
    }

    /// SHA-256 of a whole file, compared with its manifest's.
    static func sha256(path: String, bytes: Int64) throws(OpsError) -> String {
        var hasher = SHA256()
        try read(path: path, offset: 0, length: bytes) { hasher.update(bufferPointer: $0) }
        return SigV4Signer.hex(hasher.finalize())
    }

    static func read(path: String, offset: Int64, length: Int64, _ body: (UnsafeRawBufferPointer) -> Void) throws(OpsError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw OpsError(.io, code: "offsite.unreadable", "\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < length {
            let count = pread(descriptor, buffer.baseAddress, Int(min(Int64(buffer.count), length - done)), off_t(offset + done))
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                throw OpsError(.io, code: "offsite.unreadable", "\(path): " + (count == 0 ? "shorter than it was a moment ago" : String(cString: strerror(errno))))
            }
            body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            done += Int64(count)
        }
    }
}

/// Uploads one backup: the `.db.gz` (one PUT, or a multipart upload above `part_size`), a HEAD
/// that compares the size, then the manifest, which marks the copy complete.
struct OffsiteUploader {
    let client: S3Client
    /// Parts in flight at once; each is streamed from the file, so memory does not grow with it.
    var concurrency = 4

    struct Uploaded: Sendable, Encodable {
        var file: String
        var bytes: Int64
        var parts: Int
        var durationMs: Int
    }

    func upload(_ entry: BackupEntry, manifest: BackupManifest) throws(OffsiteError) -> Uploaded {
        let started = ContinuousClock.now
        let settings = client.settings
        let key = settings.prefix + entry.file
        let manifestText: String
        do { manifestText = try String(contentsOfFile: entry.manifestPath, encoding: .utf8) } catch {
            throw .local(OpsError(.io, code: "offsite.unreadable", "\(entry.manifestPath): cannot read: \(YAMLReader.reason(error))"))
        }
        guard entry.bytes == manifest.bytes else { throw .local(Self.mismatch(entry)) }
        let plan = UploadPlan.make(bytes: entry.bytes, partSize: settings.partSize)
        client.logger.info("uploading \(entry.file) (\(ByteCount.format(plan.bytes)), \(plan.parts.count) part(s)) to \(settings.url)")
        // An age file is opaque bytes to anyone who reads the bucket.
        let headers = [("Content-Type", entry.encrypted ? "application/octet-stream" : "application/gzip"), ("x-amz-meta-opsctl-sha256", manifest.sha256)]
        if plan.multipart {
            try uploadParts(plan, path: entry.path, key: key, headers: headers, sha256: manifest.sha256)
        } else {
            try uploadWhole(plan, entry: entry, key: key, headers: headers, manifest: manifest)
        }
        client.logger.debug("\(entry.file) sent after \((ContinuousClock.now - started).milliseconds) ms")
        try publish(key: key, bytes: plan.bytes, manifestText: manifestText)
        return Uploaded(file: entry.file, bytes: plan.bytes, parts: plan.parts.count, durationMs: (ContinuousClock.now - started).milliseconds)
    }

    /// One PUT. The whole file is this one part: its hash must be the manifest's before anything is sent.
    func uploadWhole(_ plan: UploadPlan, entry: BackupEntry, key: String, headers: [(String, String)], manifest: BackupManifest) throws(OffsiteError) {
        let digest: UploadPlan.Digest
        do throws(OpsError) { digest = try UploadPlan.digest(path: entry.path, part: plan.parts[0]) } catch { throw .local(error) }
        guard digest.sha256 == manifest.sha256 else { throw .local(Self.mismatch(entry)) }
        do throws(S3Failure) {
            _ = try client.perform(S3Client.Call(method: "PUT", key: key, headers: headers + [("Content-MD5", digest.md5)],
                                                 body: .file(HTTPBodyFile(path: entry.path, offset: 0, length: plan.bytes), sha256: digest.sha256)))
        } catch {
            throw .remote(error)
        }
    }

    /// A file with no manifest (a replica's points): one PUT, or parts above `part_size`, then a
    /// HEAD that the object is there at its size. An object is complete once it exists.
    func upload(path: String, key: String, contentType: String) throws(OffsiteError) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .local(AtomicFile.failure("cannot read \(path)")) }
        let plan = UploadPlan.make(bytes: Int64(info.st_size), partSize: client.settings.partSize)
        let headers = [("Content-Type", contentType)]
        if plan.multipart {
            let sha256: String
            do throws(OpsError) { sha256 = try UploadPlan.sha256(path: path, bytes: plan.bytes) } catch { throw .local(error) }
            try uploadParts(plan, path: path, key: key, headers: headers, sha256: sha256)
        } else {
            let digest: UploadPlan.Digest
            do throws(OpsError) { digest = try UploadPlan.digest(path: path, part: plan.parts[0]) } catch { throw .local(error) }
            do throws(S3Failure) {
                _ = try client.perform(S3Client.Call(method: "PUT", key: key, headers: headers + [("Content-MD5", digest.md5)],
                                                     body: .file(HTTPBodyFile(path: path, offset: 0, length: plan.bytes), sha256: digest.sha256)))
            } catch {
                throw .remote(error)
            }
        }
        try confirm(key: key, bytes: plan.bytes)
        return plan.bytes
    }

    /// A HEAD that the object is there at its size, then the manifest: a copy with a manifest is complete.
    func publish(key: String, bytes: Int64, manifestText: String) throws(OffsiteError) {
        try confirm(key: key, bytes: bytes)
        do throws(S3Failure) { try client.putText(key + BackupNaming.manifestSuffix, manifestText, contentType: "application/json") } catch {
            throw .remote(error)
        }
    }

    func confirm(key: String, bytes: Int64) throws(OffsiteError) {
        do throws(S3Failure) {
            guard let head = try client.head(key) else {
                throw S3Failure(status: 404, code: "NoSuchKey", message: "the object is missing right after its upload", operation: "HEAD \(client.objectURL(key))")
            }
            guard head.size == bytes else {
                throw S3Failure(status: 200, code: "SizeMismatch", message: "the service holds \(head.size) bytes, \(bytes) were sent",
                                operation: "HEAD \(client.objectURL(key))")
            }
        } catch {
            throw .remote(error)
        }
    }

    static func mismatch(_ entry: BackupEntry) -> OpsError {
        OpsError(.checkFailed, code: "offsite.local_mismatch", "\(entry.path) does not match its manifest (sha256 or size): not uploaded; run opsctl verify")
    }

    /// Every part on its own: `concurrency` workers each read a part for its checksums, then send
    /// it (retried on its own by the client), so reading one part overlaps sending others; the
    /// whole file's SHA-256 is checked against the manifest alongside. Any failure aborts the
    /// upload, so no half-assembled object or orphaned parts stay behind.
    func uploadParts(_ plan: UploadPlan, path: String, key: String, headers: [(String, String)], sha256: String) throws(OffsiteError) {
        let uploadId: String
        do throws(S3Failure) { uploadId = try client.createMultipartUpload(key, headers: headers) } catch { throw .remote(error) }
        client.logger.info("multipart upload of \(client.objectURL(key)) started: \(plan.parts.count) parts of \(ByteCount.format(plan.parts[0].length))")
        let client = self.client
        let whole = Background { () throws(OpsError) in try UploadPlan.sha256(path: path, bytes: plan.bytes) }
        let results = Workers.run(count: plan.parts.count, width: concurrency) { index -> Result<String, OffsiteError> in
            let part = plan.parts[index]
            let digest: UploadPlan.Digest
            do throws(OpsError) { digest = try UploadPlan.digest(path: path, part: part) } catch { return .failure(.local(error)) }
            let call = S3Client.Call(method: "PUT", key: key, query: [("partNumber", String(index + 1)), ("uploadId", uploadId)],
                                     headers: [("Content-MD5", digest.md5)],
                                     body: .file(HTTPBodyFile(path: path, offset: part.offset, length: part.length), sha256: digest.sha256))
            do throws(S3Failure) {
                let response = try client.perform(call)
                guard let etag = response.header("ETag"), !etag.isEmpty else {
                    throw S3Failure(status: response.status, code: "MalformedResponse", message: "part \(index + 1) came back without an ETag",
                                    operation: "PUT \(client.objectURL(key))")
                }
                return .success(etag)
            } catch {
                return .failure(.remote(error))
            }
        }
        do throws(OffsiteError) {
            try complete(key: key, uploadId: uploadId, results: results, whole: whole, sha256: sha256, path: path)
        } catch {
            do throws(S3Failure) { try client.abortMultipartUpload(key, uploadId: uploadId) } catch let abortError {
                client.logger.warning("could not abort the failed upload \(uploadId) of \(key) (\(abortError.description)); the next run aborts it")
            }
            throw error
        }
    }

    /// Every part in, and the whole file is the manifest's: assemble the object from the parts' ETags.
    func complete(key: String, uploadId: String, results: [Result<String, OffsiteError>?], whole: Background<String>,
                  sha256 expected: String, path: String) throws(OffsiteError) {
        var etags: [String] = []
        for result in results {
            guard let result else {
                throw .remote(S3Failure(code: "Cancelled", message: "stopped after another part failed", operation: "PUT \(client.objectURL(key))"))
            }
            etags.append(try result.get())
        }
        let sha256: String
        do throws(OpsError) { sha256 = try whole.wait() } catch { throw .local(error) }
        guard sha256 == expected else {
            throw .local(OpsError(.checkFailed, code: "offsite.local_mismatch", "\(path) changed while it was uploaded (sha256): not uploaded; run opsctl verify"))
        }
        client.logger.debug("\(etags.count) parts of \(key) uploaded; completing")
        do throws(S3Failure) { try client.completeMultipartUpload(key, uploadId: uploadId, etags: etags) } catch { throw .remote(error) }
    }
}

/// Work on threads of its own: libcurl and file reads block, so none of Swift's cooperative pool.
enum Workers {
    /// `work(0..<count)` on `width` threads; results in index order. After the first failure no
    /// new index starts (its slot stays nil).
    static func run<T: Sendable, E: Error>(count: Int, width: Int, _ work: @escaping @Sendable (Int) -> Result<T, E>) -> [Result<T, E>?] {
        let state = State<Result<T, E>>(count: count)
        let group = DispatchGroup()
        for _ in 0..<max(1, min(width, count)) {
            group.enter()
            Thread {
                while let index = state.next() {
                    let result = work(index)
                    state.finish(index, result, failed: { if case .failure = result { true } else { false } }())
                }
                group.leave()
            }.start()
        }
        group.wait()
        return state.results
    }

    final class State<R>: @unchecked Sendable {
        private let lock = NSLock()
        private var position = 0
        private var failed = false
        private(set) var results: [R?]
        private let count: Int

        init(count: Int) {
            self.count = count
            results = Array(repeating: nil, count: count)
        }

        func next() -> Int? {
            lock.withLock {
                guard !failed, position < count else { return nil }
                position += 1
                return position - 1
            }
        }

        func finish(_ index: Int, _ result: R, failed: Bool) {
            lock.withLock {
                results[index] = result
                if failed { self.failed = true }
            }
        }
    }
}

/// One computation on a thread of its own, waited for later.
final class Background<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, OpsError>?

    init(_ work: @escaping @Sendable () throws(OpsError) -> T) {
        Thread { [self] in
            result = Result { () throws(OpsError) in try work() }
            done.signal()
        }.start()
    }

    func wait() throws(OpsError) -> T {
        done.wait()
        return try result!.get()
    }
}
