// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing
@testable import OpsKit

/// `make install` into a temporary prefix and `make deb`, from the one static release build
/// (`make test` builds it before the suite; without it the first test here builds it).
@Suite(.serialized) struct InstallTests {
    static let root = Opsctl.repositoryRoot
    /// A release build from scratch on a loaded 2-core machine takes many minutes.
    static let buildTimeout = Duration.seconds(45 * 60)

    /// Runs a command; the test fails with its output when it does not exit 0.
    @discardableResult
    func run(_ executable: String, _ arguments: [String], in directory: String? = nil,
             environment: [String: String] = [:], timeout: Duration = .seconds(300)) async throws -> ProcessResult {
        let result = try await SubprocessRunner().run(ProcessRequest(executable, arguments, workingDirectory: directory,
                                                                     environment: environment, timeout: timeout))
        #expect(result.succeeded, "\(result.request.displayCommand): \(result.failureSummary)\n\(result.standardErrorTail)")
        return result
    }

    /// What `git describe` says about this checkout, the way the build reads it.
    func expectedVersion() async throws -> String {
        let git = SubprocessRunner()
        let described = try await git.run(ProcessRequest("git", ["-C", Self.root, "describe", "--tags", "--match", "v[0-9]*", "--match", "[0-9]*"]))
        if described.succeeded {
            let tag = described.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            return tag.hasPrefix("v") ? String(tag.dropFirst()) : tag
        }
        let count = try await run("git", ["-C", Self.root, "rev-list", "--count", "HEAD"]).standardOutput
        let hash = try await run("git", ["-C", Self.root, "rev-parse", "--short", "HEAD"]).standardOutput
        return "0.0.0-\(count.trimmingCharacters(in: .whitespacesAndNewlines))-g\(hash.trimmingCharacters(in: .whitespacesAndNewlines))"
    }

    @Test func theBuildReportsTheVersionGitDescribes() async throws {
        let expected = try await expectedVersion()
        let work = TemporaryDirectory()
        let cli = Opsctl(directory: work.path)
        #expect(try await cli.run("--version").stdout == expected + "\n")
        #expect(try await cli.run("version", "--json").json()["opsctl"] as? String == expected)
    }

    @Test func makeInstallIntoATemporaryPrefix() async throws {
        let work = TemporaryDirectory("opsctl-install")
        let prefix = work.file("prefix")
        try await run("make", ["-C", Self.root, "install", "PREFIX=\(prefix)"], timeout: Self.buildTimeout)

        // Runs on a bare environment, and needs no Swift runtime library.
        let version = try await run("env", ["-i", "PATH=/usr/bin:/bin", "\(prefix)/bin/opsctl", "--version"])
        #expect(version.standardOutput == (try await expectedVersion()) + "\n")
        let ldd = try await run("ldd", ["\(prefix)/bin/opsctl"]).standardOutput
        #expect(!ldd.contains("libswift") && !ldd.contains("libFoundation") && !ldd.contains("libdispatch"), "\(ldd)")
        let needed = try await run("readelf", ["-d", "\(prefix)/bin/opsctl"]).standardOutput
            .split(separator: "\n").compactMap { $0.firstMatch(of: /NEEDED.*\[(.+)\]/)?.1 }.map(String.init)
        let allowed = ["libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1",
                       "libcurl.so.4", "libsqlite3.so.0", "libz.so.1", "libxml2.so.2"]
        #expect(Set(needed).subtracting(allowed).isEmpty, "links more than the README lists: \(needed)")

        // The man page renders and documents the commands and their options.
        let manual = try await run("man", ["-l", "\(prefix)/share/man/man1/opsctl.1"], environment: ["MANWIDTH": "80", "LC_ALL": "C"])
        for word in ["deploy", "rollback", "--dry-run", "handoff", "Exit codes"] {
            #expect(manual.standardOutput.contains(word), "man opsctl does not mention \(word)")
        }

        // Completions: bash registers one, zsh and fish have theirs.
        let registered = try await run("bash", ["-c", "source \"$0\" && complete -p opsctl", "\(prefix)/share/bash-completion/completions/opsctl"])
        #expect(registered.standardOutput.contains("-F _opsctl opsctl"))
        for file in ["share/zsh/site-functions/_opsctl", "share/fish/vendor_completions.d/opsctl.fish"] {
            let text = try String(contentsOfFile: "\(prefix)/\(file)", encoding: .utf8)
            #expect(text.contains("opsctl"), "\(file) is empty")
        }

        // Runbooks and every example ship in share/doc.
        for file in ["README.md", "runbooks/deploy-and-rollback.md", "examples/opsctl.yml", "examples/cron/opsctl.cron",
                     "examples/systemd/opsctl-backup@.timer", "examples/prometheus/opsctl-alerts.yml"] {
            #expect(FileManager.default.fileExists(atPath: "\(prefix)/share/doc/opsctl/\(file)"), "share/doc/opsctl/\(file) missing")
        }

        try await completesEnvironmentNames(prefix: prefix, work: work)

        try await run("make", ["-C", Self.root, "uninstall", "PREFIX=\(prefix)"])
        for file in ["bin/opsctl", "share/man/man1/opsctl.1", "share/bash-completion/completions/opsctl", "share/doc/opsctl"] {
            #expect(!FileManager.default.fileExists(atPath: "\(prefix)/\(file)"), "uninstall left \(file)")
        }
    }

    /// The installed bash completion, driven the way bash drives it on TAB, asks the installed
    /// binary, which reads the environment names from the config the command line names.
    func completesEnvironmentNames(prefix: String, work: TemporaryDirectory) async throws {
        try work.write("app/opsctl.yml", "app: shop\nimage: shop\nenvironments:\n  staging: {}\n  prod-eu: {}\n")
        try work.write("app/other.yml", "app: shop\nimage: shop\nenvironments:\n  canary: {}\n")
        let complete = """
            source "$0"
            COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
            read -ra COMP_WORDS <<< "$COMP_LINE"; [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            _opsctl opsctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        func candidates(_ line: String, _ environment: [String: String] = [:]) async throws -> [String] {
            let result = try await run("bash", ["-c", complete, "\(prefix)/share/bash-completion/completions/opsctl", line],
                                       in: work.file("app"), environment: ["PATH": "\(prefix)/bin:/usr/bin:/bin", "OPSCTL_CONFIG": ""].merging(environment) { $1 })
            return result.standardOutput.split(separator: "\n").map(String.init).sorted()
        }
        #expect(try await candidates("opsctl deploy ") == ["prod-eu", "staging"])
        #expect(try await candidates("opsctl status s") == ["staging"])
        #expect(try await candidates("opsctl backup --config other.yml ") == ["canary"])
        #expect(try await candidates("opsctl wait ", ["OPSCTL_CONFIG": work.file("app/other.yml")]) == ["canary"])
    }

    @Test func makeDebBuildsACleanPackage() async throws {
        let work = TemporaryDirectory("opsctl-deb")
        let dist = work.file("dist")
        let make = try await run("make", ["-C", Self.root, "deb", "DIST=\(dist)"], timeout: Self.buildTimeout)
        #expect(!make.standardErrorTail.contains("lintian is not installed"), "the package was not checked with lintian")
        let debs = try FileManager.default.contentsOfDirectory(atPath: dist).filter { $0.hasSuffix(".deb") }
        let deb = "\(dist)/\(try #require(debs.first, "no .deb in \(dist)"))"

        func field(_ name: String) async throws -> String {
            try await run("dpkg-deb", ["-f", deb, name]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let depends = try await field("Depends")
        for package in ["libcurl4", "libsqlite3-0", "zlib1g", "libc6", "libxml2"] {
            #expect(depends.contains(package), "Depends: \(depends) lacks \(package)")
        }
        #expect(try await field("Recommends") == "docker.io | docker-ce, pigz, nginx")
        let debianVersion = try await run("bash", ["\(Self.root)/scripts/package-deb.sh", "--debian-version", try await expectedVersion()])
        #expect(try await field("Version") == debianVersion.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(deb.hasSuffix("opsctl_\(try await field("Version"))_\(try await field("Architecture")).deb"))

        let unpacked = work.file("unpacked")
        try await run("dpkg-deb", ["-x", deb, unpacked])
        let version = try await run("env", ["-i", "PATH=/usr/bin:/bin", "\(unpacked)/usr/bin/opsctl", "--version"])
        #expect(version.standardOutput == (try await expectedVersion()) + "\n")
        let manual = try await run("man", ["-l", "\(unpacked)/usr/share/man/man1/opsctl.1.gz"], environment: ["MANWIDTH": "80", "LC_ALL": "C"])
        #expect(manual.standardOutput.contains("deploy"))
        for file in ["copyright", "changelog.gz", "examples/opsctl.yml"] {
            #expect(FileManager.default.fileExists(atPath: "\(unpacked)/usr/share/doc/opsctl/\(file)"), "\(file) missing from the package")
        }
    }

    /// git describe → Debian: pre-releases sort before their release, builds after a tag after it.
    @Test func debianVersionsSortLikeReleases() async throws {
        func debian(_ version: String) async throws -> String {
            try await run("bash", ["\(Self.root)/scripts/package-deb.sh", "--debian-version", version]).standardOutput
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try await debian("1.2.0") == "1.2.0")
        #expect(try await debian("1.2.0-3-gabc1234") == "1.2.0+3.gabc1234")
        #expect(try await debian("1.2.0-rc.1") == "1.2.0~rc.1")
        #expect(try await debian("1.2.0-rc.1-2-gabc1234") == "1.2.0~rc.1+2.gabc1234")
        #expect(try await debian("0.0.0-36-g208c947") == "0.0.0+36.g208c947")
        let ordered = ["1.2.0~rc.1", "1.2.0~rc.1+2.gabc1234", "1.2.0", "1.2.0+3.gabc1234", "1.2.1"]
        for (lower, higher) in zip(ordered, ordered.dropFirst()) {
            try await run("dpkg", ["--compare-versions", lower, "lt", higher])
        }
        let bad = try await SubprocessRunner().run(ProcessRequest("bash", ["\(Self.root)/scripts/package-deb.sh", "--debian-version", "nightly_build"]))
        #expect(bad.termination == .exited(1))
        #expect(bad.standardErrorTail.contains("cannot be a Debian version"))
    }
}
