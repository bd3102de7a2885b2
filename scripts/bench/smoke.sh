#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Smoke and health-wait benchmark (issue 5), side by side in one run, all on 127.0.0.1:
#   1. 20 checks against an endpoint that answers after 200 ms:
#      opsctl smoke (one multi handle)  vs  the slowest single check (target total <= 1.3x)
#      and vs the seed's smoke-tests.sh style: one curl after another (~20x)
#   2. health-wait detection latency, endpoint turns healthy -> the waiter returns:
#      opsctl wait, interval 250 ms, successes 1 (target <= interval + 50 ms)
#      vs the seed's deploy loop: curl -f /health every 2 s, 30 tries (up to 2 s)
set -euo pipefail
source "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
work=$(mktemp -d /tmp/opsctl-bench-smoke.XXXXXX)
python3 "$root/Tests/Fixtures/http/server.py" 0 600 > "$work/server.out" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
until grep -q ready "$work/server.out" 2>/dev/null; do sleep 0.05; done
port=$(awk '/^ready/ { print $2 }' "$work/server.out")
base="http://127.0.0.1:$port"

{
    printf 'app: bench\nimage: bench\nstate: state.db\nenvironments:\n  bench:\n'
    printf '    health: {url: "%s/health", interval: 250ms, successes: 1, timeout: 30s}\n' "$base"
    printf '    smoke:\n      base_url: %s\n      concurrency: 20\n      checks:\n' "$base"
    for i in $(seq 20); do printf '        - {name: "check %02d", path: "/slow/200?n=%d"}\n' "$i" "$i"; done
} > "$work/opsctl.yml"
export OPSCTL_CONFIG="$work/opsctl.yml"

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f\n", (b - a) * 1000 }'; }
now() { date +%s.%N; }

echo "== 20 checks against /slow/200 (median of $runs) =="
: > "$work/opsctl.ms"; : > "$work/slowest.ms"; : > "$work/seq.ms"
for _ in $(seq "$runs"); do
    start=$(now); "$opsctl" smoke bench --json > "$work/report.json"; end=$(now)
    ms "$start" "$end" >> "$work/opsctl.ms"
    python3 -c 'import json,sys; print(round(max(c["timings"]["total_ms"] for c in json.load(open(sys.argv[1]))["checks"])))' "$work/report.json" >> "$work/slowest.ms"
    # The seed's way: one curl after the other.
    start=$(now)
    for i in $(seq 20); do curl -sf -o /dev/null "$base/slow/200?n=$i"; done
    end=$(now)
    ms "$start" "$end" >> "$work/seq.ms"
done
o=$(median < "$work/opsctl.ms"); s=$(median < "$work/slowest.ms"); q=$(median < "$work/seq.ms")
printf 'opsctl smoke (wall, incl. process start)  %5d ms\n' "$o"
printf 'slowest single check                      %5d ms\n' "$s"
printf 'sequential curl (seed smoke-tests.sh)     %5d ms\n' "$q"
awk -v o="$o" -v s="$s" -v q="$q" 'BEGIN { printf "opsctl / slowest check = %.2fx (target <= 1.3x)   sequential / slowest = %.1fx\n", o / s, q / s }'

echo "== health-wait detection latency (healthy -> waiter returns), $runs runs =="
: > "$work/wait.ms"; : > "$work/seed.ms"
for _ in $(seq "$runs"); do
    # Healthy 1-3 s from now, at a random phase against both pollers.
    at=$(( $(date +%s%3N) + 1000 + RANDOM % 2000 ))
    sed -i "s#health: {url: \"[^\"]*\"#health: {url: \"$base/healthy-after/$at\"#" "$work/opsctl.yml"
    "$opsctl" wait bench -q > /dev/null
    echo $(( $(date +%s%3N) - at )) >> "$work/wait.ms"
    at=$(( $(date +%s%3N) + 1000 + RANDOM % 2000 ))
    for _ in $(seq 30); do
        curl -sf -o /dev/null "$base/healthy-after/$at" && break
        sleep 2
    done
    echo $(( $(date +%s%3N) - at )) >> "$work/seed.ms"
done
w=$(median < "$work/wait.ms"); wmax=$(sort -n "$work/wait.ms" | tail -1)
d=$(median < "$work/seed.ms"); dmax=$(sort -n "$work/seed.ms" | tail -1)
printf 'opsctl wait (250 ms interval)   median %4d ms  max %4d ms  (target <= 300 ms)\n' "$w" "$wmax"
printf 'seed loop (2 s sleep)           median %4d ms  max %4d ms\n' "$d" "$dmax"
awk -v w="$wmax" -v d="$dmax" 'BEGIN { printf "worst-case detection: seed / opsctl = %.1fx\n", d / (w > 0 ? w : 1) }'
