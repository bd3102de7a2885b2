// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

public struct S3Object: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var lastModified: Date?
}

public struct S3MultipartUpload: Sendable, Equatable {
    public var key: String
    public var uploadId: String
    public var initiated: Date?
}

/// The S3 API calls opsctl makes, each a thin layer over `perform`.
extension S3Client {
    /// Every object under `prefix` (ListObjectsV2, 1,000 a page).
    func listObjects(prefix: String) throws(S3Failure) -> [S3Object] {
        var objects: [S3Object] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try perform(Call(method: "GET", key: nil, query: query, maxBodyBytes: 16 << 20))
            let root = try document(response, "ListObjectsV2")
            for item in root.children("Contents") {
                guard let key = item.value("Key"), let size = item.value("Size").flatMap(Int64.init) else { continue }
                objects.append(S3Object(key: key, size: size, lastModified: item.value("LastModified").flatMap(Self.parseTime)))
            }
            token = root.value("IsTruncated") == "true" ? root.value("NextContinuationToken") : nil
        } while token != nil
        return objects
    }

    /// Multipart uploads started under `prefix` and neither completed nor aborted.
    func listMultipartUploads(prefix: String) throws(S3Failure) -> [S3MultipartUpload] {
        var uploads: [S3MultipartUpload] = []
        var markers: (key: String, id: String)?
        repeat {
            var query = [("uploads", ""), ("prefix", prefix)]
            if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.id)] }
            let response = try perform(Call(method: "GET", key: nil, query: query, maxBodyBytes: 16 << 20))
            let root = try document(response, "ListMultipartUploads")
            for item in root.children("Upload") {
                guard let key = item.value("Key"), let id = item.value("UploadId") else { continue }
                uploads.append(S3MultipartUpload(key: key, uploadId: id, initiated: item.value("Initiated").flatMap(Self.parseTime)))
            }
            if root.value("IsTruncated") == "true", let key = root.value("NextKeyMarker"), let id = root.value("NextUploadIdMarker") {
                markers = (key, id)
            } else {
                markers = nil
            }
        } while markers != nil
        return uploads
    }

    /// The object's size and its `x-amz-meta-*` values; nil when there is no such object.
    func head(_ key: String) throws(S3Failure) -> (size: Int64, metadata: [String: String])? {
        do throws(S3Failure) {
            let response = try perform(Call(method: "HEAD", key: key))
            var metadata: [String: String] = [:]
            for header in response.headers where header.name.lowercased().hasPrefix("x-amz-meta-") {
                metadata[String(header.name.lowercased().dropFirst("x-amz-meta-".count))] = header.value
            }
            return (response.header("Content-Length").flatMap(Int64.init) ?? -1, metadata)
        } catch let failure where failure.status == 404 {
            return nil
        }
    }

    /// A small object whole (a manifest); nil when there is no such object.
    func getData(_ key: String, limit: Int = 1 << 20) throws(S3Failure) -> Data? {
        do throws(S3Failure) {
            let response = try perform(Call(method: "GET", key: key, maxBodyBytes: limit))
            guard !response.bodyTruncated else {
                throw S3Failure(code: "TooLarge", message: "larger than \(ByteCount.format(Int64(limit)))", operation: "GET \(objectURL(key))")
            }
            return response.body
        } catch let failure where failure.status == 404 {
            return nil
        }
    }

    /// Streams an object into `sink` as it arrives; returns the Content-Length the service announced.
    func download(_ key: String, into sink: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool) throws(S3Failure) -> Int64? {
        let response = try perform(Call(method: "GET", key: key, sink: sink))
        return response.header("Content-Length").flatMap(Int64.init)
    }

    func putText(_ key: String, _ text: String, contentType: String) throws(S3Failure) {
        let md5 = Data(Insecure.MD5.hash(data: Data(text.utf8))).base64EncodedString()
        _ = try perform(Call(method: "PUT", key: key, headers: [("Content-Type", contentType), ("Content-MD5", md5)], body: .text(text)))
    }

    func delete(_ key: String) throws(S3Failure) {
        _ = try perform(Call(method: "DELETE", key: key))
    }

    /// Starts a multipart upload; its upload id.
    func createMultipartUpload(_ key: String, headers: [(String, String)]) throws(S3Failure) -> String {
        let response = try perform(Call(method: "POST", key: key, query: [("uploads", "")], headers: headers))
        guard let id = try document(response, "CreateMultipartUpload").value("UploadId"), !id.isEmpty else {
            throw S3Failure(status: response.status, code: "MalformedResponse", message: "no UploadId in the answer", operation: "POST \(objectURL(key))")
        }
        return id
    }

    func completeMultipartUpload(_ key: String, uploadId: String, etags: [String]) throws(S3Failure) {
        let parts = etags.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\(Self.escapeXML($0.element))</ETag></Part>" }
        let body = "<CompleteMultipartUpload>\(parts.joined())</CompleteMultipartUpload>"
        let md5 = Data(Insecure.MD5.hash(data: Data(body.utf8))).base64EncodedString()
        _ = try perform(Call(method: "POST", key: key, query: [("uploadId", uploadId)],
                             headers: [("Content-Type", "application/xml"), ("Content-MD5", md5)], body: .text(body), patient: true))
    }

    func abortMultipartUpload(_ key: String, uploadId: String) throws(S3Failure) {
        do throws(S3Failure) {
            _ = try perform(Call(method: "DELETE", key: key, query: [("uploadId", uploadId)]))
        } catch let failure where failure.code == "NoSuchUpload" {
            return   // already gone: what we wanted
        }
    }

    func document(_ response: HTTPResponse, _ what: String) throws(S3Failure) -> S3XMLElement {
        guard let root = S3XMLElement.parse(response.body) else {
            throw S3Failure(status: response.status, code: "MalformedResponse", message: "the \(what) answer is not XML", operation: what)
        }
        return root
    }

    static func parseTime(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    static func escapeXML(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
