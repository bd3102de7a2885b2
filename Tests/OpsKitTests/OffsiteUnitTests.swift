// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation
import Logging
import Testing
@testable import OpsKit

/// AWS's published examples for S3 (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html):
/// the same access key, secret, region and instant, four requests, four known signatures.
struct SigV4SignerTests {
    let signer = SigV4Signer(accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                             region: "us-east-1")
    let instant = Date(timeIntervalSince1970: 1_369_353_600)   // 2013-05-24T00:00:00Z

    func signature(_ request: SigV4Signer.Request) -> String? {
        signer.sign(request, at: instant).last?.1.components(separatedBy: "Signature=").last
    }

    @Test func getObjectWithARange() {
        let request = SigV4Signer.Request(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt",
                                          headers: [("Range", "bytes=0-9")])
        let headers = signer.sign(request, at: instant)
        #expect(headers.last?.1 == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.contains { $0 == ("x-amz-date", "20130524T000000Z") })
        #expect(headers.contains { $0 == ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash) })
    }

    @Test func putObjectSignsThePayloadHashAndEncodesThePath() {
        let body = "Welcome to Amazon S3."
        let request = SigV4Signer.Request(method: "PUT", host: "examplebucket.s3.amazonaws.com", path: "/test$file.text",
                                          headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
                                          payloadHash: SigV4Signer.hex(SHA256.hash(data: Data(body.utf8))))
        #expect(request.payloadHash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        #expect(signature(request) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func queryParametersAreSortedAndEncoded() {
        let lifecycle = SigV4Signer.Request(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/", query: [("lifecycle", "")])
        #expect(signature(lifecycle) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
        let list = SigV4Signer.Request(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/", query: [("prefix", "J"), ("max-keys", "2")])
        #expect(signature(list) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func encodingFollowsRFC3986() {
        #expect(SigV4Signer.encode("dashboard/prod/a b+c~d_e.f-g") == "dashboard%2Fprod%2Fa%20b%2Bc~d_e.f-g")
        #expect(SigV4Signer.encodePath("/bucket/dashboard/prod/x=1&é") == "/bucket/dashboard/prod/x%3D1%26%C3%A9")
        #expect(SigV4Signer.canonicalQuery([("uploadId", "a/b"), ("partNumber", "2")]) == "partNumber=2&uploadId=a%2Fb")
    }

    @Test func theSecretNeverAppearsInWhatIsSent() {
        let headers = signer.sign(.init(method: "GET", host: "h", path: "/b/k"), at: instant)
        #expect(!headers.map { "\($0.0): \($0.1)" }.joined().contains("wJalrXUtnFEMI"))
    }
}

struct OffsiteConfigTests {
    let directory = TemporaryDirectory("opsctl-offsite-config")

    func parse(_ offsite: String, environment: [String: String] = [:]) throws(OpsError) -> OffsiteSettings? {
        let yaml = """
            app: dashboard
            image: dashboard
            environments:
              production:
                backup:
                  dir: /srv/backups/dashboard
                  retention: {keep_last: 7, keep_daily: 14}
                  offsite:
            \(offsite.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n"))

            """
        let config = try ConfigLoader.parse(yaml, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: environment)
        return try config.environment(named: "production").backup?.offsite
    }

    func message(_ offsite: String, environment: [String: String] = [:]) -> String? {
        opsError { () throws(OpsError) in _ = try parse(offsite, environment: environment) }?.message
    }

    @Test func theContractBlockParses() throws {
        try directory.write("s3", "the-secret-key\n", mode: 0o600)
        let settings = try #require(try parse("""
            url: s3://company-backups/dashboard/prod/
            endpoint: https://s3.eu-central-1.amazonaws.com
            region: eu-central-1
            access_key_id: ${AWS_ACCESS_KEY_ID}
            secret_access_key_file: s3
            part_size: 64MiB
            retention: {keep_last: 30}
            """, environment: ["AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"]))
        #expect(settings.bucket == "company-backups")
        #expect(settings.prefix == "dashboard/prod/")
        #expect(settings.endpoint == "https://s3.eu-central-1.amazonaws.com")
        #expect(settings.accessKeyId == "AKIAEXAMPLE")
        #expect(settings.secretAccessKey.value == "the-secret-key")
        #expect(settings.secretAccessKeyFile == directory.path + "/s3")
        #expect(settings.partSize == 64 << 20)
        #expect(settings.retention == RetentionPolicy(keepLast: 30))
        #expect(settings.pathStyle, "an explicit endpoint is addressed path-style")
        #expect(settings.effectiveRetention(local: RetentionPolicy(keepLast: 7)) == RetentionPolicy(keepLast: 30))
    }

    @Test func defaultsComeFromTheRegionAndTheLocalPolicy() throws {
        let settings = try #require(try parse("""
            url: s3://company-backups
            region: eu-west-1
            access_key_id: AKIAEXAMPLE
            secret_access_key: ${AWS_SECRET_ACCESS_KEY}
            """, environment: ["AWS_SECRET_ACCESS_KEY": "inline-secret"]))
        #expect(settings.endpoint == "https://s3.eu-west-1.amazonaws.com")
        #expect(settings.prefix == "")
        #expect(!settings.pathStyle, "AWS's own endpoint: virtual-hosted")
        #expect(settings.partSize == 16 << 20)
        #expect(settings.retention == nil)
        #expect(settings.effectiveRetention(local: RetentionPolicy(keepLast: 7, keepDaily: 14)) == RetentionPolicy(keepLast: 7, keepDaily: 14))
        #expect(ReportEncoder.json(settings).contains("<redacted>"))
        #expect(!ReportEncoder.json(settings).contains("inline-secret"))
    }

    @Test func badValuesAreNamedWithTheirPosition() {
        let base = "region: eu-west-1\naccess_key_id: A\nsecret_access_key: s\n"
        #expect(message("url: https://bucket/x\n" + base)?.contains("is not s3://BUCKET/PREFIX/") == true)
        #expect(message("url: s3://Bad_Bucket/\n" + base)?.contains("is not s3://BUCKET/PREFIX/") == true)
        #expect(message("url: s3://bucket-a/\n" + base + "part_size: 1MiB")?.contains("part_size: 1MiB is out of range 5.0 MiB...5.0 GiB") == true)
        #expect(message("url: s3://bucket-a/\n" + base + "part_size: lots")?.contains("\"lots\" is not a size") == true)
        #expect(message("url: s3://bucket-a/\n" + base + "endpoint: http://minio:9000/bucket")?.contains("is not http(s)://HOST[:PORT]") == true)
        #expect(message("url: s3://bucket-a/\naccess_key_id: A\nsecret_access_key: s\n")?.contains("region: required when endpoint is not set") == true)
        #expect(message("url: s3://bucket-a/\nregion: eu-west-1\naccess_key_id: A\n")?.contains("secret_access_key: required key is missing") == true)
        #expect(message("url: s3://bucket-a/\n" + base + "partsize: 8MiB")?.contains("did you mean \"part_size\"?") == true)
        #expect(message("url: s3://bucket-a/\n" + base + "secret_access_key_file: x")?.contains("are alternatives: set one") == true)
        #expect(message("url: s3://bucket-a/\n" + base + "secret_access_key_command: [pass, show, s3]")?.contains("are alternatives: set one") == true)
        #expect(message("url: s3://bucket-a/\nregion: eu-west-1\naccess_key_id: A\nsecret_access_key_command: pass show s3")?.contains("never a shell string") == true)
        #expect(message("url: s3://bucket-a/\n" + base)?.hasPrefix("opsctl.yml:") != false)
        let missingFile = message("url: s3://bucket-a/\nregion: eu-west-1\naccess_key_id: A\nsecret_access_key_file: /nonexistent/s3")
        #expect(missingFile?.contains("cannot read secret file /nonexistent/s3") == true)
        #expect(missingFile?.range(of: #"^opsctl\.yml:\d+:\d+: "#, options: .regularExpression) != nil, "\(missingFile ?? "")")
    }

    @Test func theSecretIsRedactedFromFreeText() throws {
        let yaml = """
            app: dashboard
            image: dashboard
            environments:
              production:
                backup:
                  dir: /srv/backups
                  offsite: {url: "s3://bucket-a/p/", region: auto, endpoint: "https://acc.r2.cloudflarestorage.com", access_key_id: A, secret_access_key: r2-secret-value}

            """
        let config = try ConfigLoader.parse(yaml, fileName: "opsctl.yml", baseDirectory: URL(fileURLWithPath: directory.path), environment: [:])
        #expect(config.redactor.scrub("failed with r2-secret-value inside") == "failed with <redacted> inside")
        #expect(config.environments[0].backup?.offsite?.region == "auto")
    }

    @Test func sizesParse() {
        #expect(ByteCount.parse("64MiB") == 64 << 20)
        #expect(ByteCount.parse("64 MiB") == 64 << 20)
        #expect(ByteCount.parse("5MB") == 5_000_000)
        #expect(ByteCount.parse("1GiB") == 1 << 30)
        #expect(ByteCount.parse("1048576") == 1 << 20)
        #expect(ByteCount.parse("12XB") == nil)
        #expect(ByteCount.parse("MiB") == nil)
        #expect(ByteCount.parse("99999999999999TiB") == nil)
    }
}

struct UploadPlanTests {
    let directory = TemporaryDirectory("opsctl-upload-plan")

    @Test func partsCoverTheFileWithTheirOwnChecksums() throws {
        var bytes = [UInt8](repeating: 0, count: 12 << 20)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 13) }
        let data = Data(bytes)
        let path = directory.file("backup.db.gz")
        try data.write(to: URL(fileURLWithPath: path))
        let plan = UploadPlan.make(bytes: Int64(data.count), partSize: 5 << 20)
        #expect(plan.parts.map(\.length) == [5 << 20, 5 << 20, 2 << 20])
        #expect(plan.parts.map(\.offset) == [0, 5 << 20, 10 << 20])
        #expect(try UploadPlan.sha256(path: path, bytes: plan.bytes) == SigV4Signer.hex(SHA256.hash(data: data)))
        for part in plan.parts {
            let slice = data[Int(part.offset)..<Int(part.offset + part.length)]
            let digest = try UploadPlan.digest(path: path, part: part)
            #expect(digest.sha256 == SigV4Signer.hex(SHA256.hash(data: slice)))
            #expect(digest.md5 == Data(Insecure.MD5.hash(data: slice)).base64EncodedString())
        }
        #expect(!UploadPlan.make(bytes: Int64(data.count), partSize: 64 << 20).multipart)
        #expect(opsError { () throws(OpsError) in _ = try UploadPlan.sha256(path: path, bytes: plan.bytes + 1) }?.message.contains("shorter") == true)
    }

    @Test func anEmptyFileIsOnePart() {
        let plan = UploadPlan.make(bytes: 0, partSize: 5 << 20)
        #expect(plan.parts.count == 1 && plan.parts[0].length == 0)
    }

    @Test func workersRunEveryIndexOnceAndStopStartingAfterAFailure() {
        let all = Workers.run(count: 50, width: 4) { index -> Result<Int, OpsError> in .success(index * 2) }
        #expect(all.map { try? $0?.get() } == (0..<50).map { $0 * 2 })
        let stopped = Workers.run(count: 50, width: 1) { index -> Result<Int, OpsError> in
            index == 3 ? .failure(OpsError(.io, code: "x", "boom")) : .success(index)
        }
        #expect(stopped.prefix(3).allSatisfy { $0 != nil } && stopped[4...].allSatisfy { $0 == nil })
    }

    @Test func partsGrowBeyondTenThousand() {
        #expect(UploadPlan.partSize(for: 10 << 30, configured: 64 << 20) == 64 << 20)
        let huge: Int64 = 1 << 40   // 1 TiB at 64 MiB would be 16,384 parts
        let size = UploadPlan.partSize(for: huge, configured: 64 << 20)
        #expect((huge + size - 1) / size <= 10_000)
        #expect(size % (1 << 20) == 0)
    }
}

struct S3ResponseTests {
    @Test func listingsAndErrorsParse() throws {
        let listing = Data("""
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><IsTruncated>true</IsTruncated>
            <Contents><Key>p/dashboard_20261122_020000.db.gz</Key><LastModified>2026-11-22T02:00:05.000Z</LastModified><Size>1234</Size></Contents>
            <Contents><Key>p/a&amp;b</Key><Size>7</Size></Contents><NextContinuationToken>1/x=</NextContinuationToken></ListBucketResult>
            """.utf8)
        let root = try #require(S3XMLElement.parse(listing))
        #expect(root.children("Contents").compactMap { $0.value("Key") } == ["p/dashboard_20261122_020000.db.gz", "p/a&b"])
        #expect(root.value("NextContinuationToken") == "1/x=")
        #expect(S3Client.parseTime("2026-11-22T02:00:05.000Z") == Date(timeIntervalSince1970: 1_795_312_805))
        let error = S3XMLElement.error(in: Data("<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>".utf8))
        #expect(error?.code == "NoSuchBucket")
        #expect(S3XMLElement.parse(Data("not xml <".utf8)) == nil)
    }
}

/// The client's retries and error mapping against a real HTTP server (Tests/Fixtures/http/server.py),
/// addressed path-style so `/eventually/KEY/N` is bucket `eventually`, key `KEY/N`.
@Suite(.serialized)
struct S3ClientRetryTests {
    let server: TestHTTPServer
    init() throws { server = try TestHTTPServer() }

    func client(bucket: String, attempts: Int = 4) -> S3Client {
        let settings = OffsiteSettings(bucket: bucket, prefix: "", endpoint: "http://127.0.0.1:\(server.port)", region: "us-east-1",
                                       accessKeyId: "AKIAEXAMPLE", secretAccessKey: Secret("secret"))
        var client = S3Client(settings: settings, logger: Logger(label: "test"))
        client.attempts = attempts
        client.firstBackoff = .milliseconds(20)
        return client
    }

    @Test func serverErrorsAreRetriedWithinTheBound() throws {
        let key = "k\(UInt32.random(in: 0...UInt32.max))"
        #expect(try client(bucket: "eventually").getData("\(key)/2") != nil, "two 503s, then 200")
        do throws(S3Failure) {
            _ = try client(bucket: "eventually", attempts: 3).getData("\(key)x/9")
            Issue.record("expected a failure")
        } catch {
            #expect(error.code == "ServiceUnavailable")
            #expect(error.status == 503)
            #expect(error.attempts == 3)
            #expect(error.opsError.exitCode == 69)
        }
    }

    @Test func clientErrorsAreNotRetried() throws {
        do throws(S3Failure) {
            _ = try client(bucket: "status").head("403")
            Issue.record("expected a failure")
        } catch {
            #expect(error.code == "Forbidden")
            #expect(error.attempts == 1)
            #expect(error.opsError.code == "offsite.rejected")
        }
        #expect(try client(bucket: "status").head("404") == nil, "404 on HEAD: no such object")
    }

    @Test func aRefusedConnectionIsRetriedThenUnreachable() {
        var client = client(bucket: "b", attempts: 2)
        client = S3Client(settings: OffsiteSettings(bucket: "b", prefix: "", endpoint: "http://127.0.0.1:1", region: "us-east-1",
                                                    accessKeyId: "A", secretAccessKey: Secret("s")), logger: Logger(label: "test"))
        client.attempts = 2
        client.firstBackoff = .milliseconds(10)
        do throws(S3Failure) {
            _ = try client.listObjects(prefix: "p/")
            Issue.record("expected a failure")
        } catch {
            #expect(error.code == "Unreachable")
            #expect(error.status == nil)
            #expect(error.attempts == 2)
            #expect(error.operation == "LIST s3://b/p/*")
            #expect(error.opsError.code == "offsite.unreachable")
        }
    }
}

/// The libcurl layer's streamed bodies, against the same real server.
@Suite(.serialized)
struct StreamedHTTPTests {
    let server: TestHTTPServer
    let directory = TemporaryDirectory("opsctl-streamed-http")
    init() throws { server = try TestHTTPServer() }

    @Test func aFileRangeIsSentAsTheBody() throws {
        let path = directory.file("body.txt")
        try Data("0123456789abcdefghij".utf8).write(to: URL(fileURLWithPath: path))
        var request = HTTPRequest(url: server.url("/echo"))
        request.method = "PUT"
        request.bodyFile = HTTPBodyFile(path: path, offset: 5, length: 10)
        let response = try CurlHTTP.perform(request).get()
        let echoed = try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
        #expect(echoed["method"] as? String == "PUT")
        #expect(echoed["body"] as? String == "56789abcde")

        request.bodyFile = HTTPBodyFile(path: directory.file("missing"), offset: 0, length: 1)
        guard case .failure(let failure) = CurlHTTP.perform(request) else { Issue.record("expected a failure"); return }
        #expect(failure.reason.contains("cannot open"))
    }

    @Test func aBodyStreamsIntoTheReceiverAndTheReceiverCanStop() throws {
        final class Counter: @unchecked Sendable { var bytes = 0 }
        let counter = Counter()
        var request = HTTPRequest(url: server.url("/big/3000000"))
        request.bodySink = { chunk in counter.bytes += chunk.count; return true }
        let response = try CurlHTTP.perform(request).get()
        #expect(counter.bytes == 3_000_000)
        #expect(response.body.isEmpty, "nothing kept in memory")

        request.bodySink = { _ in false }
        guard case .failure(let failure) = CurlHTTP.perform(request) else { Issue.record("expected a failure"); return }
        #expect(failure.reason == "the receiver stopped the transfer")

        // An error status keeps its body for the caller (S3's error document) instead of streaming it.
        var missing = HTTPRequest(url: server.url("/status/404"))
        missing.bodySink = { _ in Issue.record("an error body must not reach the receiver"); return true }
        let notFound = try CurlHTTP.perform(missing).get()
        #expect(notFound.status == 404 && !notFound.body.isEmpty)
    }
}

struct OffsiteRulesTests {
    let directory = TemporaryDirectory("opsctl-offsite-rules")

    @Test func theHandoffWarnsWhenTheNewestCopyIsTooOldOrMissing() {
        var offsite = HandoffReport.Offsite(url: "s3://b/p/", newestFile: "dashboard_20261122_020000.db.gz", newestAt: Date(), ageHours: 30,
                                            maxAgeHours: 26, runsInWindow: 1, failedInWindow: 0)
        #expect(HandoffService.offsiteFindings(offsite).map(\.rule) == ["offsite.stale"])
        offsite.ageHours = 2
        #expect(HandoffService.offsiteFindings(offsite).isEmpty)
        offsite.ageHours = nil
        #expect(HandoffService.offsiteFindings(offsite).first?.detail == "no off-site copy recorded in s3://b/p/")
        offsite.ageHours = 2
        offsite.failedInWindow = 2
        offsite.lastRunError = "PUT s3://b/p/x: SlowDown (HTTP 503)"
        #expect(HandoffService.offsiteFindings(offsite).first?.level == .warning)
        #expect(HandoffService.offsiteFindings(offsite).first?.detail.contains("SlowDown") == true)
    }

    /// promtool evaluates the shipped rules over synthetic series: each alert fires when it should, and only then.
    @Test func theAlertRulesFireOnAFailedOrStaleOffsiteTier() async throws {
        let rules = repositoryRoot + "/templates/prometheus/opsctl-alerts.yml"
        try await setUp("promtool", ["check", "rules", rules])
        let test = try directory.write("offsite-test.yml", """
            rule_files: [\(rules)]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
                  - series: 'opsctl_offsite_failed{env="production"}'
                    values: '0x30 1x120'
                  - series: 'opsctl_offsite_newest_backup_timestamp_seconds{env="production"}'
                    values: '0x2000'
                alert_rule_test:
                  - eval_time: 60m
                    alertname: OpsctlOffsiteFailing
                    exp_alerts: []
                  - eval_time: 100m
                    alertname: OpsctlOffsiteFailing
                    exp_alerts:
                      - exp_labels: {severity: warning, env: production}
                        exp_annotations:
                          summary: "Off-site copies of production are failing: the last run could not upload"
                          runbook: "runbooks/offsite.md#when-the-off-site-copy-fails"
                  - eval_time: 25h
                    alertname: OpsctlOffsiteStale
                    exp_alerts: []
                  - eval_time: 27h
                    alertname: OpsctlOffsiteStale
                    exp_alerts:
                      - exp_labels: {severity: warning, env: production}
                        exp_annotations:
                          summary: "The newest off-site copy of production is over 26 hours old"
                          runbook: "runbooks/offsite.md#when-the-off-site-copy-fails"

            """)
        try await setUp("promtool", ["test", "rules", test])
    }
}
