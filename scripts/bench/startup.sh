#!/usr/bin/env bash
# Start-up time of the release binary: `opsctl --help` and `opsctl config check` on the
# template config. Target (issue 2): median <= 50 ms each. Prints median and p90 over RUNS
# runs, with `/bin/true` as the process-spawn floor measured in the same run.
set -euo pipefail
source "$(dirname "$0")/common.sh"
binary=$opsctl
runs=${RUNS:-40}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$binary" init --dir "$work" >/dev/null

measure() { # label command...
    local label=$1; shift
    "$@" >/dev/null 2>&1 || true   # warm the page cache
    local samples=()
    for _ in $(seq "$runs"); do
        local start end
        start=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        end=$(date +%s%N)
        samples+=($(( (end - start) / 1000 )))
    done
    printf '%s\n' "${samples[@]}" | sort -n | awk -v label="$label" -v target=50 '
        { v[NR] = $1 }
        END {
            median = v[int((NR + 1) / 2)] / 1000; p90 = v[int(NR * 0.9)] / 1000
            printf "%-22s median %7.2f ms   p90 %7.2f ms   target %d ms   median/target %.2f\n", label, median, p90, target, median / target
        }'
}

echo "opsctl start-up, release build, $runs runs each ($(nproc) cores)"
measure "/bin/true (floor)" /bin/true
measure "opsctl --help" "$binary" --help
measure "opsctl config check" "$binary" --config "$work/opsctl.yml" config check
