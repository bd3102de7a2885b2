#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# The release build `make install` and `make deb` ship: the Swift runtime and Foundation linked
# into the binary (--static-swift-stdlib), so a host needs no Swift toolchain. It lives in its own
# build folder (.build-static): switching the flag in .build would recompile the package each
# time, and `make release` / the benchmarks keep today's dynamic build there.
# Also builds swift-argument-parser's generate-manual tool, which writes the man page.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH=/opt/swift/usr/bin:$PATH
scratch=${STATIC_BUILD_DIR:-$root/.build-static}
for product in opsctl generate-manual; do
    (cd "$root" && swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product "$product")
done
