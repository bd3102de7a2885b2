// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import OpsKit

/// A real S3 API on 127.0.0.1 that enforces SigV4 signatures: moto's server
/// (Tests/Fixtures/s3/moto_server.py), with an IAM user made from the three unauthenticated calls
/// INITIAL_NO_AUTH_ACTION_COUNT allows, and awscli as the independent client that checks what
/// landed. Both come from the virtualenv scripts/setup.sh makes.
public final class MotoS3Server: @unchecked Sendable {
    public static let venv = ProcessInfo.processInfo.environment["OPSCTL_VENV"] ?? "/opt/opsctl-venv"
    public static let python = venv + "/bin/python3"
    public static let awsCLI = venv + "/bin/aws"
    public static let available = FileManager.default.isExecutableFile(atPath: python) && FileManager.default.isExecutableFile(atPath: awsCLI)
    /// Runs when installed, and always under CI=true, where a missing install must fail loudly.
    public static var shouldRun: Bool { DockerEngine.isCI || available }

    let process = Process()
    public let port: Int
    public private(set) var accessKeyId = ""
    public private(set) var secretAccessKey = ""
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    public init() async throws {
        guard Self.available else {
            throw OpsError(.unavailable, code: "test.moto", "moto and awscli are not installed in \(Self.venv): run scripts/setup.sh")
        }
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [repositoryRoot + "/Tests/Fixtures/s3/moto_server.py"]
        process.environment = ProcessInfo.processInfo.environment.merging(["INITIAL_NO_AUTH_ACTION_COUNT": "3"]) { $1 }
        let ready = Pipe()
        process.standardOutput = ready
        process.standardError = FileHandle.nullDevice
        try process.run()
        port = try readyPort(of: process, from: ready, what: "the moto S3 server")
        try await createUser()
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The three calls moto serves without a signature; from then on every request must be signed
    /// by this user's key (a wrong secret gets 403 SignatureDoesNotMatch).
    func createUser() async throws {
        let anonymous = ["AWS_ACCESS_KEY_ID": "bootstrap", "AWS_SECRET_ACCESS_KEY": "bootstrap"]
        try await aws(["iam", "create-user", "--user-name", "opsctl"], credentials: anonymous)
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#
        try await aws(["iam", "put-user-policy", "--user-name", "opsctl", "--policy-name", "s3", "--policy-document", policy], credentials: anonymous)
        let output = try await aws(["iam", "create-access-key", "--user-name", "opsctl"], credentials: anonymous)
        let key = (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])?["AccessKey"] as? [String: Any]
        guard let id = key?["AccessKeyId"] as? String, let secret = key?["SecretAccessKey"] as? String else {
            throw OpsError(.software, code: "test.setup", "iam create-access-key answered: \(output)")
        }
        accessKeyId = id
        secretAccessKey = secret
    }

    /// awscli against this server with the user's key; throws with its stderr unless it exits 0.
    @discardableResult
    public func aws(_ arguments: [String], credentials: [String: String]? = nil, timeout: Duration = .seconds(120)) async throws -> String {
        let result = try await awsResult(arguments, credentials: credentials, timeout: timeout)
        guard result.succeeded else { throw OpsError(.software, code: "test.aws", "\(result.request.displayCommand): \(result.failureSummary)") }
        return result.standardOutput
    }

    public func awsResult(_ arguments: [String], credentials: [String: String]? = nil, timeout: Duration = .seconds(120)) async throws -> ProcessResult {
        var environment = credentials ?? ["AWS_ACCESS_KEY_ID": accessKeyId, "AWS_SECRET_ACCESS_KEY": secretAccessKey]
        environment["AWS_DEFAULT_REGION"] = "us-east-1"
        environment["AWS_CONFIG_FILE"] = "/dev/null"
        environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
        return try await SubprocessRunner().run(ProcessRequest(Self.awsCLI, ["--endpoint-url", endpoint, "--output", "json"] + arguments,
                                                              environment: environment, timeout: timeout))
    }

    /// Keys under `prefix` (s3api list-objects-v2, so the listing is awscli's, not ours).
    public func keys(bucket: String, prefix: String = "") async throws -> [String: Int64] {
        let output = try await aws(["s3api", "list-objects-v2", "--bucket", bucket, "--prefix", prefix])
        guard !output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return [:] }
        let contents = (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])?["Contents"] as? [[String: Any]] ?? []
        var keys: [String: Int64] = [:]
        for item in contents {
            if let key = item["Key"] as? String, let size = item["Size"] as? NSNumber { keys[key] = size.int64Value }
        }
        return keys
    }

    /// Multipart uploads started and never completed or aborted.
    public func openUploads(bucket: String) async throws -> [String] {
        let output = try await aws(["s3api", "list-multipart-uploads", "--bucket", bucket])
        guard !output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return [] }
        let uploads = (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])?["Uploads"] as? [[String: Any]] ?? []
        return uploads.compactMap { $0["Key"] as? String }
    }
}
