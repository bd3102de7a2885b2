// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation
import Logging

/// What went wrong with the remote: S3's own code and message when it answered, else why
/// nothing came back. Never carries a credential or a signature.
public struct S3Failure: Error, Sendable, Equatable, Encodable, CustomStringConvertible {
    /// The HTTP status; nil when no answer came back.
    public var status: Int?
    /// S3's code (`SignatureDoesNotMatch`, `NoSuchBucket`, `SlowDown`, ...), or `Unreachable` / `Timeout`.
    public var code: String
    public var message: String
    /// What was being done: `PUT s3://bucket/prefix/file`.
    public var operation: String
    public var attempts: Int = 1
    var retryable = false

    enum CodingKeys: String, CodingKey { case status, code, message, operation, attempts }

    public var description: String {
        let answer = status.map { "\(code) (HTTP \($0))" } ?? code
        let tries = attempts > 1 ? " after \(attempts) attempts" : ""
        return "\(operation): \(answer): \(message)\(tries)"
    }

    /// Exit 69: the remote is unavailable to us (refused, unreachable, or failing).
    public var opsError: OpsError {
        OpsError(.unavailable, code: status.map { (400..<500).contains($0) ? "offsite.rejected" : "offsite.failed" } ?? "offsite.unreachable",
                 description, details: hint.map { [$0] } ?? [])
    }

    /// One line that usually fixes it.
    public var hint: String? {
        switch code {
        case "SignatureDoesNotMatch": "the secret key does not match the access key: check backup.offsite.secret_access_key(_file)"
        case "InvalidAccessKeyId": "the service does not know this access key: check backup.offsite.access_key_id"
        case "NoSuchBucket": "create the bucket (aws s3 mb s3://BUCKET) or fix backup.offsite.url"
        case "AccessDenied": "the key may not do this: it needs s3:ListBucket, GetObject, PutObject, DeleteObject and the multipart actions on the prefix"
        case "RequestTimeTooSkewed": "this machine's clock is off: opsctl preflight checks NTP"
        case "PermanentRedirect", "AuthorizationHeaderMalformed": "the bucket lives in another region: check backup.offsite.region and endpoint"
        case "Unreachable": "check backup.offsite.endpoint and the network path to it"
        default: nil
        }
    }
}

/// An S3 API client over the project's libcurl layer: our SigV4 signer, path-style or
/// virtual-hosted addressing, and bounded retries with backoff for 5xx, 429 and transport failures.
public struct S3Client: Sendable {
    public let settings: OffsiteSettings
    let signer: SigV4Signer
    let logger: Logger
    /// Tries per request, the first included.
    var attempts = 4
    var firstBackoff: Duration = .milliseconds(250)
    var maxBackoff: Duration = .seconds(4)
    var now: @Sendable () -> Date = { Date() }

    public init(settings: OffsiteSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        signer = SigV4Signer(accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey, region: settings.region)
    }

    /// One S3 request, before signing.
    struct Call: @unchecked Sendable {
        enum Body { case none, text(String), file(HTTPBodyFile, sha256: String) }
        var method: String
        /// nil: the bucket itself.
        var key: String?
        var query: [(String, String)] = []
        var headers: [(String, String)] = []
        var body: Body = .none
        /// Streams a 2xx body instead of keeping it (downloads).
        var sink: (@Sendable (UnsafeRawBufferPointer) -> Bool)?
        var maxBodyBytes = 1 << 20
        /// The answer may take long without a byte moving for a while (CompleteMultipartUpload
        /// of a large object): no total timeout, only the stall limit.
        var patient = false
    }

    public func objectURL(_ key: String?) -> String { "s3://\(settings.bucket)/\(key ?? "")" }

    /// `PUT s3://bucket/key`; listings as `LIST s3://bucket/prefix*` (what an operator would type).
    func label(_ call: Call) -> String {
        guard call.key == nil, let prefix = call.query.first(where: { $0.0 == "prefix" })?.1 else { return "\(call.method) \(objectURL(call.key))" }
        let verb = call.query.contains { $0.0 == "uploads" } ? "LIST-UPLOADS" : "LIST"
        return "\(verb) \(objectURL(prefix))*"
    }

    /// Runs the calls, `concurrency` at a time; each one that fails in a retryable way is tried
    /// again on its own after a backoff, up to `attempts` times. Results in call order.
    func perform(_ calls: [Call], concurrency: Int = 1) -> [Result<HTTPResponse, S3Failure>] {
        var results = [Result<HTTPResponse, S3Failure>?](repeating: nil, count: calls.count)
        var pending = Array(calls.indices)
        var attempt = 1
        while !pending.isEmpty {
            let delivered = pending.map { _ in DeliveryFlag() }
            let requests = zip(pending, delivered).map { makeRequest(calls[$0], delivered: $1) }
            let responses = CurlHTTP.perform(requests, concurrency: max(1, concurrency))
            var again: [Int] = []
            for (position, index) in pending.enumerated() {
                switch classify(responses[position], calls[index]) {
                case .success(let response):
                    results[index] = .success(response)
                case .failure(var failure):
                    failure.attempts = attempt
                    // A download whose bytes already went to the receiver cannot start over.
                    if failure.retryable, attempt < attempts, !delivered[position].value {
                        again.append(index)
                        logger.warning("\(failure.description); retrying")
                    } else {
                        results[index] = .failure(failure)
                    }
                }
            }
            if again.isEmpty { break }
            Thread.sleep(forTimeInterval: backoff(attempt: attempt))
            pending = again
            attempt += 1
        }
        return results.map { $0 ?? .failure(S3Failure(code: "Internal", message: "no result", operation: "-")) }
    }

    func perform(_ call: Call) throws(S3Failure) -> HTTPResponse {
        try perform([call])[0].get()
    }

    /// Exponential, capped, with jitter (so parts retried together do not hit the service in step).
    func backoff(attempt: Int) -> TimeInterval {
        let base = min(Double(firstBackoff.components.seconds) + Double(firstBackoff.components.attoseconds) / 1e18, 60)
            * pow(2, Double(attempt - 1))
        let cap = Double(maxBackoff.components.seconds)
        return min(base, cap) * Double.random(in: 0.5...1.0)
    }

    // MARK: - requests

    /// Where a key lives: the URL to send to, the Host header, and the decoded path to sign.
    func address(_ key: String?, query: [(String, String)]) -> (url: String, host: String, path: String) {
        let endpoint = URL(string: settings.endpoint)!
        let scheme = endpoint.scheme ?? "https"
        var host = endpoint.host ?? ""
        if let port = endpoint.port, !(scheme == "http" && port == 80) && !(scheme == "https" && port == 443) { host += ":\(port)" }
        let path: String
        if settings.pathStyle {
            path = "/\(settings.bucket)" + (key.map { "/\($0)" } ?? "")
        } else {
            host = "\(settings.bucket).\(host)"
            path = "/" + (key ?? "")
        }
        let queryText = query.isEmpty ? "" : "?" + SigV4Signer.canonicalQuery(query)
        return ("\(scheme)://\(host)\(SigV4Signer.encodePath(path))\(queryText)", host, path)
    }

    func makeRequest(_ call: Call, delivered: DeliveryFlag) -> HTTPRequest {
        let target = address(call.key, query: call.query)
        let payloadHash: String = switch call.body {
        case .none: SigV4Signer.emptyPayloadHash
        case .text(let text): SigV4Signer.hex(SHA256.hash(data: Data(text.utf8)))
        case .file(_, let sha256): sha256
        }
        let signed = signer.sign(.init(method: call.method, host: target.host, path: target.path, query: call.query,
                                       headers: call.headers, payloadHash: payloadHash), at: now())
        var request = HTTPRequest(url: target.url)
        request.method = call.method
        request.headers = [("Host", target.host)] + signed
        request.followRedirects = false
        request.connectTimeout = .seconds(10)
        request.timeout = .seconds(60)
        request.maxBodyBytes = call.maxBodyBytes
        switch call.body {
        case .none: break
        case .text(let text): request.body = text
        case .file(let file, _): request.bodyFile = file
        }
        if case .file = call.body { request.timeout = OpsDuration(milliseconds: 0); request.stallTimeout = .seconds(60) }
        if call.patient { request.timeout = OpsDuration(milliseconds: 0); request.stallTimeout = .seconds(120) }
        if let sink = call.sink {
            request.timeout = OpsDuration(milliseconds: 0)
            request.stallTimeout = .seconds(60)
            request.bodySink = { chunk in
                delivered.value = true
                return sink(chunk)
            }
        }
        return request
    }

    func classify(_ result: Result<HTTPResponse, HTTPFailure>, _ call: Call) -> Result<HTTPResponse, S3Failure> {
        let operation = label(call)
        switch result {
        case .failure(let failure):
            // Not retried: certificates, a malformed URL, our own file or receiver giving up.
            let permanent: Set<Int> = [1, 3, 23, 42, 58, 60, 77]
            let code = failure.curlCode == 28 ? "Timeout" : failure.curlCode == 23 ? "Stopped" : "Unreachable"
            let endpoint = failure.curlCode < 0 ? "" : "\(settings.endpoint): "
            return .failure(S3Failure(code: code, message: endpoint + failure.reason, operation: operation,
                                      retryable: !permanent.contains(failure.curlCode)))
        case .success(let response) where (200..<300).contains(response.status):
            // CompleteMultipartUpload can fail after its 200 status line: the error is in the body.
            if call.method == "POST", let error = S3XMLElement.error(in: response.body) {
                return .failure(S3Failure(status: response.status, code: error.code, message: error.message, operation: operation,
                                          retryable: ["InternalError", "SlowDown", "ServiceUnavailable"].contains(error.code)))
            }
            return .success(response)
        case .success(let response):
            let parsed = S3XMLElement.error(in: response.body)
            let code = parsed?.code ?? Self.codeForStatus(response.status)
            let message = parsed?.message ?? (response.status == 404 ? "not found" : "HTTP \(response.status) without an S3 error document")
            let retryable = response.status >= 500 || response.status == 429 || ["RequestTimeout", "SlowDown", "InternalError"].contains(code)
            return .failure(S3Failure(status: response.status, code: code, message: message, operation: operation, retryable: retryable))
        }
    }

    /// HEAD answers carry no body: name the status the way S3 would.
    static func codeForStatus(_ status: Int) -> String {
        switch status {
        case 301, 307: "PermanentRedirect"
        case 400: "BadRequest"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 429: "SlowDown"
        case 500: "InternalError"
        case 503: "ServiceUnavailable"
        default: "HTTP\(status)"
        }
    }
}

/// Set once a download's first byte reached its receiver (from libcurl's thread).
final class DeliveryFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool {
        get { lock.withLock { flag } }
        set { lock.withLock { flag = newValue } }
    }
}
