// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation

/// AWS Signature Version 4 for S3, header-based
/// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
///
/// Our own signer rather than libcurl's CURLOPT_AWS_SIGV4: libcurl 7.88 neither sends nor signs
/// `x-amz-content-sha256`, which S3 requires on every request, and its canonical query string
/// does not sort or encode parameters the way S3 recomputes them. Here the payload hash is
/// always signed (S3 then rejects a body that differs from it), and the signature is tested
/// against AWS's published examples.
struct SigV4Signer: Sendable {
    let accessKeyId: String
    let secretAccessKey: Secret
    let region: String
    var service = "s3"

    static let algorithm = "AWS4-HMAC-SHA256"
    /// SHA-256 of an empty body.
    static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The request's canonical parts. `path` and the query are encoded here, exactly as they are sent.
    struct Request {
        var method: String
        var host: String
        /// Decoded: `/bucket/some key` is sent and signed as `/bucket/some%20key`.
        var path: String
        var query: [(String, String)] = []
        /// Extra headers to sign and send (content-md5, content-type, x-amz-*).
        var headers: [(String, String)] = []
        var payloadHash: String = SigV4Signer.emptyPayloadHash
    }

    /// The headers to send, Authorization last: every one of them is signed.
    func sign(_ request: Request, at date: Date) -> [(String, String)] {
        let stamp = Self.timestamp(date)
        let day = String(stamp.prefix(8))
        var headers = [("host", request.host), ("x-amz-content-sha256", request.payloadHash), ("x-amz-date", stamp)]
        headers += request.headers.map { ($0.0.lowercased(), $0.1.trimmingCharacters(in: .whitespaces)) }
        headers.sort { $0.0 < $1.0 }
        let signedHeaders = headers.map(\.0).joined(separator: ";")
        let canonical = [
            request.method,
            Self.encodePath(request.path),
            Self.canonicalQuery(request.query),
            headers.map { "\($0.0):\($0.1)\n" }.joined(),
            signedHeaders,
            request.payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = [Self.algorithm, stamp, scope, Self.hex(SHA256.hash(data: Data(canonical.utf8)))].joined(separator: "\n")
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: day)))
        let authorization = "\(Self.algorithm) Credential=\(accessKeyId)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return headers.filter { $0.0 != "host" } + [("Authorization", authorization)]
    }

    func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data(("AWS4" + secretAccessKey.value).utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    /// Sorted by name then value, both encoded; the same string goes into the URL.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { (encode($0.0), encode($0.1)) }
        let sorted = encoded.sorted { left, right in left.name == right.name ? left.value < right.value : left.name < right.name }
        return sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    /// S3 encodes the path once, keeping '/' (other services encode it twice).
    static func encodePath(_ path: String) -> String { encode(path, keepingSlash: true) }

    /// RFC 3986: unreserved characters stay, every other byte of the UTF-8 is %XX (upper case).
    static func encode(_ text: String, keepingSlash: Bool = false) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepingSlash:
                output.append("/")
            default:
                output += String(format: "%%%02X", byte)
            }
        }
        return output
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
