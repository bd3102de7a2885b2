// swift-tools-version: 6.1
// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
import PackageDescription

let package = Package(
    name: "opsctl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "opsctl", targets: ["opsctl"]),
        .library(name: "OpsKit", targets: ["OpsKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // System libraries, linked directly. Each shim.h wraps what Swift cannot call
        // (variadic functions, function-like macros, sentinel pointer constants).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl"),
        .target(
            name: "OpsKit",
            dependencies: [
                "CSQLite", "CZlib", "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            // Templates is a symlink to the package root's templates/: not sources, but inside
            // OpsKit's folder SwiftPM watches, so adding or removing a template re-plans the build
            // and asks OpsKitCodegen again.
            exclude: ["Templates"],
            plugins: ["OpsKitCodegen"]
        ),
        // Build time: templates/ as typed `EmbeddedTemplate` cases and the `git describe` version.
        .plugin(name: "OpsKitCodegen", capability: .buildTool(), dependencies: ["opskit-codegen"]),
        .executableTarget(name: "opskit-codegen", path: "Tools/opskit-codegen"),
        .executableTarget(
            name: "opsctl",
            dependencies: [
                "OpsKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers both test targets share (temp dirs, Docker detection, set-up commands).
        .target(name: "OpsTestSupport", dependencies: ["OpsKit"], path: "Tests/TestSupport"),
        .testTarget(name: "OpsKitTests", dependencies: ["OpsKit", "OpsTestSupport", "CSQLite", "CZlib",
                                                        .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "OpsctlTests", dependencies: ["OpsKit", "OpsTestSupport"]),
    ]
)
