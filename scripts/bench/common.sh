# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Sourced by every benchmark: the repository root, the binary under test (the release build,
# built when missing, or $OPSCTL_BINARY) and the small statistics they share.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH=/opt/swift/usr/bin:$PATH
opsctl=${OPSCTL_BINARY:-$root/.build/release/opsctl}
[ -x "$opsctl" ] || (cd "$root" && swift build -c release >&2)

# The median of the numbers on stdin, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
