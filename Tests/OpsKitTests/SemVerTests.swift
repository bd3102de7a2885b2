// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Testing
@testable import OpsKit

/// The valid and invalid examples published with the semver.org regular expression
/// (https://regex101.com/r/Ly7O1x/3, linked from semver.org FAQ).
struct SemVerTests {
    static let valid = [
        "0.0.4", "1.2.3", "10.20.30", "1.1.2-prerelease+meta", "1.1.2+meta", "1.1.2+meta-valid", "1.0.0-alpha",
        "1.0.0-beta", "1.0.0-alpha.beta", "1.0.0-alpha.beta.1", "1.0.0-alpha.1", "1.0.0-alpha0.valid", "1.0.0-alpha.0valid",
        "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay", "1.0.0-rc.1+build.1", "2.0.0-rc.1+build.123", "1.2.3-beta",
        "10.2.3-DEV-SNAPSHOT", "1.2.3-SNAPSHOT-123", "1.0.0", "2.0.0", "1.1.7", "2.0.0+build.1848", "2.0.1-alpha.1227",
        "1.0.0-alpha+beta", "1.2.3----RC-SNAPSHOT.12.9.1--.12+788", "1.2.3----R-S.12.9.1--.12+meta", "1.2.3----RC-SNAPSHOT.12.9.1--.12",
        "1.0.0+0.build.1-rc.10000aaa-kk-0.1", "99999999999999999999999.999999999999999999.99999999999999999", "1.0.0-0A.is.legal",
    ]

    static let invalid = [
        "1", "1.2", "1.2.3-0123", "1.2.3-0123.0123", "1.1.2+.123", "+invalid", "-invalid", "-invalid+invalid", "-invalid.01",
        "alpha", "alpha.beta", "alpha.beta.1", "alpha.1", "alpha+beta", "alpha_beta", "alpha.", "alpha..", "beta", "1.0.0-alpha_beta",
        "-alpha.", "1.0.0-alpha..", "1.0.0-alpha..1", "1.0.0-alpha...1", "1.0.0-alpha....1", "1.0.0-alpha.....1", "1.0.0-alpha......1",
        "1.0.0-alpha.......1", "01.1.1", "1.01.1", "1.1.01", "1.2", "1.2.3.DEV", "1.2-SNAPSHOT", "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
        "1.2-RC-SNAPSHOT", "-1.0.3-gamma+b7718", "+justmeta", "9.8.7+meta+meta", "9.8.7-whatever+meta+meta",
        "99999999999999999999999.999999999999999999.99999999999999999----RC-SNAPSHOT.12.09.1--------------------------------..12",
        "", " 1.0.0", "1.0.0 ", "1.0.0-", "1.0.0+", "v1.0.0",
    ]

    @Test(arguments: valid)
    func acceptsValid(_ text: String) throws {
        let version = try SemVer(parsing: text)
        #expect(version.description == text)
    }

    @Test(arguments: invalid)
    func rejectsInvalid(_ text: String) {
        #expect(throws: SemVerError.self) { try SemVer(parsing: text) }
    }

    @Test func precedenceFollowsTheSpecExample() throws {
        let ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
                       "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0", "99999999999999999999999.0.0"]
        let versions = try ordered.map { try SemVer(parsing: $0) }
        for (lower, higher) in zip(versions, versions.dropFirst()) {
            #expect(lower < higher, "\(lower) < \(higher)")
            #expect(!(higher < lower))
        }
        #expect(versions.shuffled().sorted() == versions)
    }

    @Test func buildMetadataDoesNotAffectPrecedence() throws {
        let a = try SemVer(parsing: "1.0.0+build.1")
        let b = try SemVer(parsing: "1.0.0+build.2")
        #expect(a.hasSamePrecedence(as: b))
        #expect(!(a < b) && !(b < a))
        #expect(a != b)
    }

    @Test func commandLineAcceptsAnOptionalV() throws {
        #expect(try SemVer(commandLine: "1.0.1").description == "1.0.1")
        #expect(try SemVer(commandLine: "v1.0.1").description == "1.0.1")
        #expect(throws: SemVerError.self) { try SemVer(commandLine: "V1.0.1") }
        #expect(throws: SemVerError.self) { try SemVer(commandLine: "vv1.0.1") }
    }

    @Test func errorsNameTheRuleAndMapToUsageExit() {
        func rule(_ text: String) -> String {
            do { _ = try SemVer(parsing: text); return "" } catch { return error.rule }
        }
        #expect(rule("1.0") == "a version is MAJOR.MINOR.PATCH: three numbers, found 2 parts in \"1.0\"")
        #expect(rule("01.0.0") == "MAJOR \"01\" has a leading zero")
        #expect(rule("1.0.0-01") == "numeric pre-release identifier \"01\" has a leading zero")
        #expect(rule("1.0.0-a..b") == "the pre-release \"a..b\" has an empty identifier")
        #expect(rule("1.0.0-a_b") == "character '_' is not allowed (only 0-9, A-Z, a-z, '-', '.', '+')")
        #expect(rule("1.0.0;rm -rf") == "character ';' is not allowed (only 0-9, A-Z, a-z, '-', '.', '+')")
        #expect(rule("1.0.0+a+b") == "build metadata may contain only one '+'")
        let error = SemVerError("1.0", "x").opsError
        #expect(error.exitCode == 64)
        #expect(error.code == "semver.invalid")
    }
}
