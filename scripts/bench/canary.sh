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
#   3. A good release (1.0.1) in one step of 30 % watched 20 s, with 100 users that keep cookies:
#      the share of users who met both releases within the step, per-request shares (sticky: none)
#      against sticky: cookie (target >= 99 % of users on one release), and the share of users
#      on the new release.
#   4. Release 1.3.0 answers 500 to 1 request in 100 while 1.0.0 answers none: one step of 50 %
#      under max_error_rate 5 % alone (it passes) and with max_error_rate_increase 0.5 (withdrawn
#      by the relative rule).
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
IMAGE=$image "$sample" 1.0.1 >&2
IMAGE=$image "$sample" 1.3.0 some-errors >&2

git -C "$work" init -q
for v in 1.0.0 1.1.0 1.0.1 1.3.0; do
    git -C "$work" -c user.name=bench -c user.email=bench@example.invalid commit -q --allow-empty -m "$v"
    git -C "$work" tag "v$v"
done

# nginx in front, as the runbook sets it up: the documented log line, the upstream file included.
start_nginx "$work/nginx" "$proxy_port" "$app" "127.0.0.1:$blue_port" "$work/nginx/canary.log"

environment() { # NAME STRATEGY [CANARY]
    cat <<YAML
  $1:
    strategy: $2
    run: {network: host, stop_timeout: 3s}
$(proxy_yaml nginx/canary.log)
    canary: ${3:-"{steps: [10, 50], pause: 60s, max_error_rate: 1%, min_requests: 20}"}
    preflight: {secret_keys: []}     # the sample app has no secrets to check
    health: {url: "http://127.0.0.1:$proxy_port/health", json: {status: healthy}, interval: 250ms, successes: 2, timeout: 10s}
    smoke:
      base_url: http://127.0.0.1:$proxy_port
      checks: [{name: health, path: /health}, {name: security headers, path: /, expect: {headers: {X-Content-Type-Options: nosniff}}}]
YAML
}
{ echo "app: $app"; echo "image: $image"; echo "state: .opsctl/state.db"; echo "environments:"
  environment canary canary; environment bluegreen blue-green
  environment requests canary "{steps: [30], pause: 20s, min_requests: 20}"
  environment users canary "{steps: [30], pause: 20s, min_requests: 20, sticky: cookie}"
  environment absolute canary "{steps: [50], pause: 20s, max_error_rate: 5%, min_requests: 100}"
  environment relative canary "{steps: [50], pause: 20s, max_error_rate: 5%, max_error_rate_increase: 0.5, min_requests: 100}"
} > "$work/opsctl.yml"
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
        start, ms, ok, status, version = line.strip().split(",")[:5]
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

echo
echo "== one step of 30 % for a good release, 100 users that keep cookies: per request against sticky: cookie =="
stop_all() { docker ps -q --filter "label=opsctl.app=$app" | xargs -r docker stop -t 3 > /dev/null; }
: > "$work/sticky.results"
load_path=/health
for env in requests users; do
    stop_all
    quietly deploy "$env" 1.0.0
    load "$env" --clients 100 --timeout 70
    "$opsctl" deploy "$env" 1.0.1 --json > "$work/deploy-$env.json" || { cat "$work/deploy-$env.json" >&2; exit 1; }
    unload
    python3 - "$work/deploy-$env.json" "$work/$env.csv" "$env" >> "$work/sticky.results" <<'PY'
import json, sys, datetime
step = json.load(open(sys.argv[1]))["canary"]["steps"][0]
start = datetime.datetime.fromisoformat(step["started_at"].replace("Z", "+00:00")).timestamp()
end = start + step["watched_ms"] / 1000
seen = {}
for line in open(sys.argv[2]):
    fields = line.strip().split(",")
    began, ms, ok, version, client = float(fields[0]), float(fields[1]), fields[2], fields[4], fields[5]
    # Answered inside the step, after a first request that could fetch the cookie.
    if ok == "1" and start + 1 <= began and began + ms / 1000 <= end - 0.5:
        seen.setdefault(client, []).append(version)
users = {client: set(versions) for client, versions in seen.items() if len(versions) >= 2}
one = sum(1 for versions in users.values() if len(versions) == 1)
new = sum(1 for versions in users.values() if versions == {"1.0.1"})
requests = sum(len(versions) for versions in seen.values())
on_new = sum(versions.count("1.0.1") for versions in seen.values())
print(sys.argv[3], len(users), one, new, requests, on_new)
PY
done

echo "== 1.3.0 (1 % 5xx) against 1.0.0 (0 %), one step of 50 %: max_error_rate 5 % alone, then with max_error_rate_increase 0.5 =="
: > "$work/relative.results"
load_path=/api/items
for env in absolute relative; do
    stop_all
    quietly deploy "$env" 1.0.0
    load "$env"
    code=0
    "$opsctl" deploy "$env" 1.3.0 --json > "$work/deploy-$env.json" || code=$?
    unload
    python3 - "$work/deploy-$env.json" "$env" "$code" >> "$work/relative.results" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
step = report["canary"]["steps"][0]
comparison = step.get("comparison") or {}
print(sys.argv[2], sys.argv[3], report["canary"]["outcome"], step["old"]["errors"], step["old"]["requests"], step["new"]["errors"], step["new"]["requests"],
      f"{comparison.get('error_rate_old') or 0:.2f}", f"{comparison.get('error_rate_new') or 0:.2f}")
PY
done

echo
printf '%-22s %7s %18s %14s %20s\n' "one 30 % step" users "on one release" "users on new" "requests on new"
while read -r env users one new requests on_new; do
    awk -v e="$env" -v u="$users" -v o="$one" -v n="$new" -v r="$requests" -v q="$on_new" \
        'BEGIN { printf "%-22s %7d %11d (%5.1f%%) %7d (%4.1f%%) %12d (%4.1f%%)\n", (e == "users" ? "sticky: cookie" : "sticky: none"), u, o, 100 * o / u, n, 100 * n / u, q, 100 * q / r }'
done < "$work/sticky.results"
awk '$1 == "users" { printf "sticky target: >= 99%% of cookie-bearing users on one release within the step: %s\n", ($3 >= 0.99 * $2 ? "met" : "MISSED") }' "$work/sticky.results"
printf '%-44s %5s %10s %16s %16s\n' "1.3.0 (1 % 5xx) against 1.0.0, one 50 % step" exit outcome "old 5xx" "new 5xx"
while read -r env code outcome old_errors old_requests new_errors new_requests old_rate new_rate; do
    printf '%-44s %5s %10s %7s (%5s%%) %7s (%5s%%)\n' "$([ "$env" = relative ] && echo "with max_error_rate_increase 0.5" || echo "max_error_rate 5% alone")" "$code" "$outcome" \
        "$old_errors/$old_requests" "$old_rate" "$new_errors/$new_requests" "$new_rate"
done < "$work/relative.results"
