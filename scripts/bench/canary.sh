#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Canary benchmark, side by side in one run, same load, same nginx, same bad release:
#   a steady load of ~100 requests/s through nginx on GET /api/items, each on a fresh connection
#   (Tests/Fixtures/load/load.py). Release 1.1.0 answers 500 there while /health and the smoke
#   checks stay green.
#   1. strategy canary (steps [10, 50], pause 60s, max_error_rate 1%, min_requests 20), RUNS times:
#      deploy 1.1.0 over 1.0.0 and measure, from the load's own log, the time from the first 5xx a
#      user got to the abort (the reload that withdrew it, from the report; target <= 2 s) and to
#      the last 5xx a user got.
#   2. strategy blue-green, the same release: its smoke checks pass, so it takes 100 % of the
#      traffic; measured until it is rolled back WINDOW seconds after the deploy began.
#   For both: the share of users' requests in the WINDOW seconds from the start of the deploy that
#   met the bad release (answered by 1.1.0), and that failed.
# Needs nginx (scripts/setup.sh installs it); starts its own in a temp dir and stops it by pid.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/nginx.sh"
runs=${RUNS:-5}
rate=${RATE:-100}
window=${WINDOW:-30}
work=$(mktemp -d /tmp/opsctl-bench-canary.XXXXXX)
app=cybench$RANDOM
nginx_pid=""
load_pid=""
trap 'proxy_bench_cleanup canary.sh "per-request CSV logs, reports"' EXIT

# Three ports below the ephemeral range that nothing listens on: nginx, blue, green.
read -r proxy_port blue_port green_port < <(free_ports 3)

sample="$root/Tests/Fixtures/sample-app/build.sh"
image=opsctl-canary-bench
IMAGE=$image "$sample" 1.0.0 >&2
IMAGE=$image "$sample" 1.1.0 broken-path >&2

git -C "$work" init -q
for v in 1.0.0 1.1.0; do
    git -C "$work" -c user.name=bench -c user.email=bench@example.invalid commit -q --allow-empty -m "$v"
    git -C "$work" tag "v$v"
done

# nginx in front, as the runbook sets it up: the documented log line, the upstream file included.
start_nginx "$work/nginx" "$proxy_port" "$app" "127.0.0.1:$blue_port" "$work/nginx/canary.log"

environment() { # NAME STRATEGY
    cat <<YAML
  $1:
    strategy: $2
    run: {network: host, stop_timeout: 3s}
$(proxy_yaml nginx/canary.log)
    canary: {steps: [10, 50], pause: 60s, max_error_rate: 1%, min_requests: 20}
    preflight: {secret_keys: []}     # the sample app has no secrets to check
    health: {url: "http://127.0.0.1:$proxy_port/health", json: {status: healthy}, interval: 250ms, successes: 2, timeout: 10s}
    smoke:
      base_url: http://127.0.0.1:$proxy_port
      checks: [{name: health, path: /health}, {name: security headers, path: /, expect: {headers: {X-Content-Type-Options: nosniff}}}]
YAML
}
{ echo "app: $app"; echo "image: $image"; echo "state: .opsctl/state.db"; echo "environments:"
  environment canary canary; environment bluegreen blue-green; } > "$work/opsctl.yml"
export OPSCTL_CONFIG="$work/opsctl.yml"
load_path=/api/items

echo "== canary: $runs deploys of the bad release 1.1.0 over 1.0.0, ${rate} requests/s on /api/items =="
quietly deploy canary 1.0.0
load canary
: > "$work/canary.runs"
for i in $(seq "$runs"); do
    start=$(now)
    code=0
    "$opsctl" deploy canary 1.1.0 --json > "$work/canary-$i.json" 2> "$work/canary-$i.err" || code=$?
    [ "$code" = 3 ] || { cat "$work/canary-$i.json" "$work/canary-$i.err" >&2; echo "canary.sh: expected exit 3, got $code" >&2; exit 1; }
    withdrawn=$(python3 -c 'import json,sys,datetime; r=json.load(open(sys.argv[1])); print(datetime.datetime.fromisoformat(r["canary"]["withdrawn_at"].replace("Z","+00:00")).timestamp())' "$work/canary-$i.json")
    echo "$start $withdrawn" >> "$work/canary.runs"
    sleep "$window"   # the same window as blue/green's: users keep coming after the withdrawal
done
unload

echo "== blue-green: the same bad release, smoke passes, it takes 100 % until rolled back ${window}s later =="
quietly deploy bluegreen 1.0.0
docker ps -q --filter "label=opsctl.app=$app" --filter "label=opsctl.env=canary" | xargs -r docker stop -t 3 > /dev/null
load bluegreen
start=$(now)
quietly deploy bluegreen 1.1.0
sleep "$(python3 -c "import sys; print(max(0, $window - ($(now) - $start)))")"
quietly rollback bluegreen
echo "$start" > "$work/bluegreen.runs"
sleep 2
unload

python3 - "$work" "$window" "$runs" <<'PY'
import sys
work, window, runs = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
def requests(name):
    rows = []
    for line in open(f"{work}/{name}.csv"):
        start, ms, ok, status, version = line.strip().split(",")
        rows.append((float(start), float(start) + float(ms) / 1000, ok == "1", version))
    return rows
def share(rows, start):
    inside = [r for r in rows if start <= r[0] < start + window]
    bad = [r for r in inside if r[3] == "1.1.0" or not r[2]]
    failed = [r for r in inside if not r[2]]
    return len(inside), len(bad), len(failed)
canary = requests("canary")
print()
print(f"== results (one run, same load, same nginx, {window:.0f} s window from the start of each deploy) ==")
print(f"{'run':>4} {'first 5xx -> abort':>19} {'first -> last 5xx':>18} {'requests':>9} {'met 1.1.0':>10} {'failed':>7} {'share':>7}")
aborts, exposures, shares = [], [], []
for index, line in enumerate(open(f"{work}/canary.runs"), 1):
    start, withdrawn = map(float, line.split())
    failed = sorted(r[1] for r in canary if start <= r[0] < start + window and not r[2])
    total, bad, nfailed = share(canary, start)
    abort = withdrawn - failed[0] if failed else float("nan")
    exposure = failed[-1] - failed[0] if failed else 0.0
    aborts.append(abort); exposures.append(exposure); shares.append(bad / total * 100)
    print(f"{index:>4} {abort * 1000:>16.0f} ms {exposure * 1000:>15.0f} ms {total:>9} {bad:>10} {nfailed:>7} {bad / total * 100:>6.2f}%")
bluegreen = requests("bluegreen")
start = float(open(f"{work}/bluegreen.runs").read())
total, bad, nfailed = share(bluegreen, start)
print(f"{'b/g':>4} {'(never aborted)':>19} {'':>18} {total:>9} {bad:>10} {nfailed:>7} {bad / total * 100:>6.2f}%")
median = lambda values: sorted(values)[len(values) // 2]
print(f"canary: first 5xx -> abort median {median(aborts) * 1000:.0f} ms, max {max(aborts) * 1000:.0f} ms "
      f"(target <= 2000 ms: {'met' if max(aborts) <= 2 else 'MISSED'}); users' last 5xx came {median(exposures) * 1000:.0f} ms after their first (median)")
canary_share, bluegreen_share = median(shares), bad / total * 100
ratio = f"{bluegreen_share / canary_share:.0f}x as many" if canary_share > 0 else "none met it under canary"
print(f"share of users' requests that met the bad release in the {window:.0f} s window: canary {canary_share:.2f}% (median of {runs}), "
      f"blue-green {bluegreen_share:.2f}% ({ratio})")
PY
