// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import CCurl
import Foundation

/// One HTTP exchange to make. TLS verification is on unless `insecure`.
public struct HTTPRequest: Sendable {
    public var method: String = "GET"
    public var url: String
    public var headers: [(String, String)] = []
    public var body: String?
    public var timeout: OpsDuration = .seconds(10)
    public var connectTimeout: OpsDuration = .seconds(5)
    public var insecure: Bool = false
    public var followRedirects: Bool = true
    public var maxRedirects: Int = 5
    /// Bodies are kept up to this size (the rest is read and dropped): memory stays bounded.
    public var maxBodyBytes: Int = 1 << 20
    /// CURLOPT_CONNECT_TO entries, `HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT`: test a
    /// production name against one node without touching DNS.
    public var connectTo: [String] = []
    /// A CA bundle to trust instead of the system's (an internal CA).
    public var caFile: String?
    /// Ask libcurl for the certificate chain so the leaf's expiry is known.
    public var wantsCertificate: Bool = false
    /// Send this byte range of a file as the body, read as libcurl sends it (never whole in memory).
    public var bodyFile: HTTPBodyFile?
    /// A 2xx body goes here as it arrives instead of into `body`; returning false aborts the
    /// transfer. Other statuses keep their (error) body as usual.
    public var bodySink: (@Sendable (UnsafeRawBufferPointer) -> Bool)?
    /// Fail when not a byte moved for this long: large transfers get this instead of a total `timeout` (set that to 0).
    public var stallTimeout: OpsDuration?

    public init(url: String) { self.url = url }
}

/// A byte range of a file to upload.
public struct HTTPBodyFile: Sendable, Equatable {
    public var path: String
    public var offset: Int64
    public var length: Int64

    public init(path: String, offset: Int64, length: Int64) {
        self.path = path
        self.offset = offset
        self.length = length
    }
}

/// Phase timings from libcurl, milliseconds from the start of the transfer (not of the queue).
public struct HTTPTimings: Sendable, Codable, Equatable {
    public var dnsMs: Double
    public var connectMs: Double
    public var tlsMs: Double
    public var ttfbMs: Double
    public var totalMs: Double
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Data
    public var bodyTruncated: Bool
    public var timings: HTTPTimings
    public var redirects: Int
    /// The server certificate's notAfter (https, with `wantsCertificate`).
    public var certificateExpiresAt: Date?

    /// The last value of a header, case-insensitively.
    public func header(_ name: String) -> String? {
        headers.last { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// Why no response came back, in the words an operator needs.
public struct HTTPFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var curlCode: Int
    public var totalMs: Double
    public var description: String { reason }
}

/// libcurl behind a small API: many requests at once on one multi handle.
public enum CurlHTTP {
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) ; () }()

    /// Runs the requests with at most `concurrency` in flight; results in request order.
    /// Blocking: call it off the cooperative pool (or accept the thread is busy meanwhile).
    public static func perform(_ requests: [HTTPRequest], concurrency: Int = 8) -> [Result<HTTPResponse, HTTPFailure>] {
        _ = globalInit
        guard let multi = curl_multi_init() else {
            return requests.map { _ in .failure(HTTPFailure(reason: "cannot initialise libcurl", curlCode: -1, totalMs: 0)) }
        }
        defer { curl_multi_cleanup(multi) }
        var results = [Result<HTTPResponse, HTTPFailure>?](repeating: nil, count: requests.count)
        var transfers: [UnsafeMutableRawPointer: Transfer] = [:]
        var next = 0

        func start(_ index: Int) {
            let transfer = Transfer(index: index, request: requests[index])
            guard let easy = transfer.makeHandle() else {
                results[index] = .failure(HTTPFailure(reason: transfer.setupError ?? "cannot create a libcurl handle", curlCode: -1, totalMs: 0))
                return
            }
            transfers[easy] = transfer
            curl_multi_add_handle(multi, easy)
        }

        while next < requests.count && transfers.count < max(1, concurrency) { start(next); next += 1 }
        var running: Int32 = 0
        repeat {
            curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                      let transfer = transfers.removeValue(forKey: easy) else { continue }
                let code = message.pointee.data.result
                results[transfer.index] = transfer.finish(easy, code: code)
                curl_multi_remove_handle(multi, easy)
                curl_easy_cleanup(easy)
                if next < requests.count { start(next); next += 1 }
            }
            if running > 0 || !transfers.isEmpty {
                curl_multi_poll(multi, nil, 0, 100, nil)
            }
        } while running > 0 || !transfers.isEmpty || next < requests.count
        return results.map { $0 ?? .failure(HTTPFailure(reason: "no result", curlCode: -1, totalMs: 0)) }
    }

    public static func perform(_ request: HTTPRequest) -> Result<HTTPResponse, HTTPFailure> {
        perform([request], concurrency: 1)[0]
    }
}

/// State of one transfer: buffers filled by libcurl's callbacks.
private final class Transfer {
    let index: Int
    let request: HTTPRequest
    var body = Data()
    var bodyTruncated = false
    var headerLines: [String] = []
    var headerList: UnsafeMutablePointer<curl_slist>?
    var connectToList: UnsafeMutablePointer<curl_slist>?
    var easy: UnsafeMutableRawPointer?
    /// Why the handle could not be set up (the body file cannot be opened).
    var setupError: String?
    var upload: UploadSource?
    var sinkStopped = false
    /// libcurl writes its error text here; it must not move, so it is not a Swift array.
    let errorBuffer: UnsafeMutablePointer<CChar> = {
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        buffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        return buffer
    }()

    init(index: Int, request: HTTPRequest) {
        self.index = index
        self.request = request
    }

    deinit {
        if let upload { close(upload.descriptor) }
        curl_slist_free_all(headerList)
        curl_slist_free_all(connectToList)
        errorBuffer.deallocate()
    }

    func makeHandle() -> UnsafeMutableRawPointer? {
        if let file = request.bodyFile {
            let descriptor = open(file.path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                setupError = "cannot open \(file.path): \(String(cString: strerror(errno)))"
                return nil
            }
            upload = UploadSource(descriptor: descriptor, file: file)
        }
        guard let easy = curl_easy_init() else { return nil }
        self.easy = easy
        let this = Unmanaged.passUnretained(self).toOpaque()
        opsctl_curl_setopt_string(easy, CURLOPT_URL, request.url)
        opsctl_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        opsctl_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(request.timeout.milliseconds))
        opsctl_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout.milliseconds))
        if let stall = request.stallTimeout {
            opsctl_curl_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1)
            opsctl_curl_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, max(1, Int(stall.milliseconds / 1000)))
        }
        opsctl_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1 : 0)
        opsctl_curl_setopt_long(easy, CURLOPT_MAXREDIRS, request.maxRedirects)
        opsctl_curl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, request.insecure ? 0 : 1)
        opsctl_curl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, request.insecure ? 0 : 2)
        // Only HTTP(S): a redirect must not send us to file:// or elsewhere.
        opsctl_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        opsctl_curl_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        opsctl_curl_setopt_string(easy, CURLOPT_USERAGENT, "opsctl/\(OpsctlVersion.current)")
        opsctl_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer))
        if request.method == "HEAD" {
            opsctl_curl_setopt_long(easy, CURLOPT_NOBODY, 1)
        } else if request.method != "GET" {
            opsctl_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let body = request.body {
            // COPYPOSTFIELDS: libcurl keeps its own copy, so no Swift buffer has to outlive this call.
            opsctl_curl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, body.utf8.count)
            opsctl_curl_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, body)
        }
        if let upload { upload.configure(easy, userdata: this) }
        for (name, value) in request.headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
        if let headerList { opsctl_curl_setopt_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headerList)) }
        for entry in request.connectTo { connectToList = curl_slist_append(connectToList, entry) }
        if let connectToList { opsctl_curl_setopt_pointer(easy, CURLOPT_CONNECT_TO, UnsafeMutableRawPointer(connectToList)) }
        if let caFile = request.caFile { opsctl_curl_setopt_string(easy, CURLOPT_CAINFO, caFile) }
        if request.wantsCertificate {
            opsctl_curl_setopt_long(easy, CURLOPT_CERTINFO, 1)
            // libcurl fills CERTINFO only on a new TLS handshake, never on a reused connection.
            opsctl_curl_setopt_long(easy, CURLOPT_FRESH_CONNECT, 1)
        }
        opsctl_curl_setopt_write_function(easy, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            if let sink = transfer.request.bodySink, transfer.succeeded, let data {
                guard sink(UnsafeRawBufferPointer(start: data, count: length)) else { transfer.sinkStopped = true; return 0 }
                return length
            }
            let room = max(0, transfer.request.maxBodyBytes - transfer.body.count)
            if length > room { transfer.bodyTruncated = true }
            if room > 0, let data { transfer.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: min(room, length)) }
            return length
        }
        opsctl_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, this)
        opsctl_curl_setopt_write_function(easy, CURLOPT_HEADERFUNCTION) { data, size, count, userdata in
            let transfer = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            if let data {
                let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
                // A new status line (after a redirect or a 100 Continue) starts a new header block.
                if line.hasPrefix("HTTP/") { transfer.headerLines.removeAll() } else { transfer.headerLines.append(line) }
            }
            return length
        }
        opsctl_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, this)
        return easy
    }

    func finish(_ easy: UnsafeMutableRawPointer, code: CURLcode) -> Result<HTTPResponse, HTTPFailure> {
        func microseconds(_ info: CURLINFO) -> Double {
            var value: curl_off_t = 0
            opsctl_curl_getinfo_off_t(easy, info, &value)
            return Double(value) / 1000
        }
        let total = microseconds(CURLINFO_TOTAL_TIME_T)
        guard code == CURLE_OK else {
            if let failure = upload?.failure { return .failure(HTTPFailure(reason: failure, curlCode: Int(code.rawValue), totalMs: total)) }
            if sinkStopped { return .failure(HTTPFailure(reason: "the receiver stopped the transfer", curlCode: Int(code.rawValue), totalMs: total)) }
            let detail = String(cString: UnsafePointer(errorBuffer))
            let summary = String(cString: curl_easy_strerror(code))
            let reason: String = switch code {
            case CURLE_COULDNT_CONNECT: "connection refused (\(detail.isEmpty ? summary : detail))"
            case CURLE_COULDNT_RESOLVE_HOST: "DNS lookup failed (\(detail.isEmpty ? summary : detail))"
            case CURLE_OPERATION_TIMEDOUT: "timed out after \(request.timeout) (\(detail.isEmpty ? summary : detail))"
            case CURLE_TOO_MANY_REDIRECTS: "too many redirects (more than \(request.maxRedirects))"
            case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE: "TLS certificate not trusted (\(detail.isEmpty ? summary : detail))"
            default: detail.isEmpty ? summary : detail
            }
            return .failure(HTTPFailure(reason: reason, curlCode: Int(code.rawValue), totalMs: total))
        }
        var status = 0
        opsctl_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var redirects = 0
        opsctl_curl_getinfo_long(easy, CURLINFO_REDIRECT_COUNT, &redirects)
        let headers = headerLines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                    String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let timings = HTTPTimings(dnsMs: microseconds(CURLINFO_NAMELOOKUP_TIME_T), connectMs: microseconds(CURLINFO_CONNECT_TIME_T),
                                  tlsMs: microseconds(CURLINFO_APPCONNECT_TIME_T), ttfbMs: microseconds(CURLINFO_STARTTRANSFER_TIME_T),
                                  totalMs: total)
        return .success(HTTPResponse(status: status, headers: headers, body: body, bodyTruncated: bodyTruncated, timings: timings,
                                     redirects: redirects, certificateExpiresAt: request.wantsCertificate ? certificateExpiry(easy) : nil))
    }

    /// The response so far has a 2xx status (asked in the write callback, after the headers).
    var succeeded: Bool {
        guard let easy else { return false }
        var status = 0
        opsctl_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return (200..<300).contains(status)
    }

    /// OpenSSL prints notAfter as `Nov  2 05:34:32 2027 GMT`.
    func certificateExpiry(_ easy: UnsafeMutableRawPointer) -> Date? {
        var buffer = [CChar](repeating: 0, count: 128)
        guard opsctl_curl_leaf_expire_date(easy, &buffer, buffer.count) == 1 else { return nil }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let text = String(decoding: bytes, as: UTF8.self).split(separator: " ").joined(separator: " ")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "MMM d HH:mm:ss yyyy zzz"
        return formatter.date(from: text)
    }
}

/// A file range libcurl reads as it sends (pread: the file position is never shared).
private final class UploadSource {
    let descriptor: Int32
    let file: HTTPBodyFile
    var position: Int64 = 0
    var failure: String?

    init(descriptor: Int32, file: HTTPBodyFile) {
        self.descriptor = descriptor
        self.file = file
    }

    func configure(_ easy: UnsafeMutableRawPointer, userdata: UnsafeMutableRawPointer) {
        opsctl_curl_setopt_long(easy, CURLOPT_UPLOAD, 1)
        opsctl_curl_setopt_off_t(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(file.length))
        // 1 MiB reads instead of libcurl's 64 KiB: fewer callbacks and syscalls per part.
        opsctl_curl_setopt_long(easy, CURLOPT_UPLOAD_BUFFERSIZE, 1 << 20)
        opsctl_curl_setopt_read_function(easy) { buffer, size, count, userdata in
            let source = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue().upload!
            return source.read(into: buffer!, capacity: size * count)
        }
        opsctl_curl_setopt_pointer(easy, CURLOPT_READDATA, userdata)
        opsctl_curl_setopt_seek_function(easy) { userdata, offset, origin in
            let source = Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue().upload!
            // libcurl only ever rewinds from the start (SEEK_SET) to resend a body.
            guard origin == SEEK_SET, offset >= 0, offset <= source.file.length else { return 1 }   // CURL_SEEKFUNC_FAIL
            source.position = Int64(offset)
            return 0
        }
        opsctl_curl_setopt_pointer(easy, CURLOPT_SEEKDATA, userdata)
    }

    func read(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let wanted = Int(min(Int64(capacity), file.length - position))
        guard wanted > 0 else { return 0 }
        while true {
            let count = pread(descriptor, buffer, wanted, off_t(file.offset + position))
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                failure = count == 0 ? "\(file.path) is shorter than expected (it changed during the upload)"
                                     : "cannot read \(file.path): \(String(cString: strerror(errno)))"
                return opsctl_curl_read_abort()
            }
            position += Int64(count)
            return count
        }
    }
}

extension CurlHTTP {
    /// The same, off Swift's cooperative pool (libcurl's loop blocks its thread).
    public static func perform(_ requests: [HTTPRequest], concurrency: Int = 8) async -> [Result<HTTPResponse, HTTPFailure>] {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: perform(requests, concurrency: concurrency)) }
        }
    }
}

/// Dotted paths into a JSON document: `status`, `db.ok`, `items.0.name`.
public enum JSONPath {
    public enum Lookup: Equatable { case found(JSONScalar), missing, notJSON }

    public static func lookup(_ path: String, in body: Data) -> Lookup {
        guard var node = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else { return .notJSON }
        for key in path.split(separator: ".").map(String.init) {
            if let object = node as? [String: Any], let child = object[key] {
                node = child
            } else if let array = node as? [Any], let index = Int(key), array.indices.contains(index) {
                node = array[index]
            } else {
                return .missing
            }
        }
        switch node {
        case is NSNull: return .found(.null)
        case let text as String: return .found(.string(text))
        case let number as NSNumber:
            // JSONSerialization gives booleans as NSNumber too; tell them apart by their type encoding.
            if String(cString: number.objCType) == "c" { return .found(.bool(number.boolValue)) }
            return .found(.number(number.doubleValue))
        default: return .found(.string(String(describing: node)))
        }
    }

    /// nil when every expectation holds, else the first mismatch in words.
    public static func mismatch(_ expectations: [JSONExpectation], in body: Data) -> String? {
        for expectation in expectations {
            switch lookup(expectation.path, in: body) {
            case .notJSON: return "body is not JSON"
            case .missing: return "JSON path \(expectation.path) does not exist"
            case .found(let value) where value != expectation.equals:
                return "JSON \(expectation.path) is \(value), expected \(expectation.equals)"
            case .found: continue
            }
        }
        return nil
    }
}
