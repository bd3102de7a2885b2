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

/// How one backup file goes up: its parts with their checksums, from one read of the file.
struct UploadPlan: Sendable {
    struct Part: Sendable {
        var offset: Int64
        var length: Int64
        var sha256: String
        var md5: String
    }

    var bytes: Int64
    var sha256: String
    var parts: [Part]
    var multipart: Bool { parts.count > 1 }

    /// `partSize`, grown when the file would need more than S3's 10,000 parts.
    static func partSize(for bytes: Int64, configured: Int64) -> Int64 {
        let needed = (bytes + Int64(OffsiteSettings.maxParts) - 1) / Int64(OffsiteSettings.maxParts)
        let mebibyte: Int64 = 1 << 20
        return max(configured, (needed + mebibyte - 1) / mebibyte * mebibyte)
    }

    /// Reads the file once: SHA-256 and MD5 per part (sent with each part, checked by the
    /// service) and SHA-256 of the whole (compared with the manifest before anything is sent).
    static func make(path: String, partSize: Int64) throws(OpsError) -> UploadPlan {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw OpsError(.io, code: "offsite.unreadable", "\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw OpsError(.io, code: "offsite.unreadable", "\(path): cannot stat") }
        let bytes = Int64(info.st_size)
        let size = Self.partSize(for: bytes, configured: partSize)
        var whole = SHA256()
        var parts: [Part] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var offset: Int64 = 0
        repeat {
            let length = min(size, bytes - offset)
            var partHash = SHA256()
            var partMD5 = Insecure.MD5()
            var done: Int64 = 0
            while done < length {
                let count = read(descriptor, buffer.baseAddress, Int(min(Int64(buffer.count), length - done)))
                if count < 0, errno == EINTR { continue }
                guard count > 0 else {
                    throw OpsError(.io, code: "offsite.unreadable", "\(path): " + (count == 0 ? "shorter than it was a moment ago" : String(cString: strerror(errno))))
                }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                partHash.update(bufferPointer: chunk)
                partMD5.update(bufferPointer: chunk)
                whole.update(bufferPointer: chunk)
                done += Int64(count)
            }
            parts.append(Part(offset: offset, length: length, sha256: SigV4Signer.hex(partHash.finalize()),
                              md5: Data(partMD5.finalize()).base64EncodedString()))
            offset += length
        } while offset < bytes
        return UploadPlan(bytes: bytes, sha256: SigV4Signer.hex(whole.finalize()), parts: parts)
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
        let plan: UploadPlan
        do throws(OpsError) { plan = try UploadPlan.make(path: entry.path, partSize: settings.partSize) } catch { throw .local(error) }
        guard plan.sha256 == manifest.sha256, plan.bytes == manifest.bytes else {
            throw .local(OpsError(.checkFailed, code: "offsite.local_mismatch",
                                  "\(entry.path) does not match its manifest (sha256 or size): not uploaded; run opsctl verify"))
        }
        client.logger.info("uploading \(entry.file) (\(ByteCount.format(plan.bytes)), \(plan.parts.count) part(s)) to \(settings.url)")
        let headers = [("Content-Type", "application/gzip"), ("x-amz-meta-opsctl-sha256", manifest.sha256)]
        do throws(S3Failure) {
            if plan.multipart {
                try uploadParts(plan, path: entry.path, key: key, headers: headers)
            } else {
                let part = plan.parts[0]
                _ = try client.perform(S3Client.Call(method: "PUT", key: key, headers: headers + [("Content-MD5", part.md5)],
                                                     body: .file(HTTPBodyFile(path: entry.path, offset: 0, length: part.length), sha256: part.sha256)))
            }
            guard let head = try client.head(key) else {
                throw S3Failure(status: 404, code: "NoSuchKey", message: "the object is missing right after its upload", operation: "HEAD \(client.objectURL(key))")
            }
            guard head.size == plan.bytes else {
                throw S3Failure(status: 200, code: "SizeMismatch", message: "the service holds \(head.size) bytes, \(plan.bytes) were sent",
                                operation: "HEAD \(client.objectURL(key))")
            }
            // Last: a copy with a manifest is a complete copy.
            try client.putText(key + BackupNaming.manifestSuffix, manifestText, contentType: "application/json")
        } catch {
            throw .remote(error)
        }
        return Uploaded(file: entry.file, bytes: plan.bytes, parts: plan.parts.count, durationMs: (ContinuousClock.now - started).milliseconds)
    }

    /// Every part on its own (retried on its own by the client); any failure aborts the whole
    /// upload, so no half-assembled object or orphaned parts stay behind.
    func uploadParts(_ plan: UploadPlan, path: String, key: String, headers: [(String, String)]) throws(S3Failure) {
        let uploadId = try client.createMultipartUpload(key, headers: headers)
        client.logger.info("multipart upload of \(client.objectURL(key)) started: \(plan.parts.count) parts of \(ByteCount.format(plan.parts[0].length))")
        let calls = plan.parts.enumerated().map { index, part in
            S3Client.Call(method: "PUT", key: key, query: [("partNumber", String(index + 1)), ("uploadId", uploadId)],
                          headers: [("Content-MD5", part.md5)],
                          body: .file(HTTPBodyFile(path: path, offset: part.offset, length: part.length), sha256: part.sha256))
        }
        do throws(S3Failure) {
            var etags: [String] = []
            for (index, result) in client.perform(calls, concurrency: concurrency).enumerated() {
                let response = try result.get()
                guard let etag = response.header("ETag"), !etag.isEmpty else {
                    throw S3Failure(status: response.status, code: "MalformedResponse", message: "part \(index + 1) came back without an ETag",
                                    operation: "PUT \(client.objectURL(key))")
                }
                etags.append(etag)
            }
            client.logger.debug("\(plan.parts.count) parts of \(key) uploaded; completing")
            try client.completeMultipartUpload(key, uploadId: uploadId, etags: etags)
        } catch {
            do throws(S3Failure) { try client.abortMultipartUpload(key, uploadId: uploadId) } catch let abortError {
                client.logger.warning("could not abort the failed upload \(uploadId) of \(key) (\(abortError.description)); the next run aborts it")
            }
            throw error
        }
    }
}
