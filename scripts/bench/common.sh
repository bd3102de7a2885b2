# Sourced by every benchmark: the repository root, the release binary (built when missing)
# and the small statistics they share.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH=/opt/swift/usr/bin:$PATH
opsctl="$root/.build/release/opsctl"
[ -x "$opsctl" ] || (cd "$root" && swift build -c release >&2)

# The median of the numbers on stdin, one per line.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
