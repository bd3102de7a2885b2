#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Blue/green benchmark, side by side in one run, same load, same nginx, same sample app:
#   a steady load of ~100 requests/s through nginx, each on a fresh connection
#   (Tests/Fixtures/load/load.py), while opsctl deploys 10 times with strategy stop-start and
#   then 10 times with strategy blue-green, 2 s apart. For each: failed requests, and p99 latency
#   of the requests made during the deploys against the steady state: the requests between the
#   deploys of the same phase (same machine load), and a steady run before (targets: 0 failures,
#   p99 <= 2x).
#   Then rollback to the release on standby, timed (target <= 1 s), and the same 2 deploys of an
#   app whose PID 1 ignores SIGTERM under both strategies.
#   Then, through the same nginx under ~100 arrivals/s on fresh connections (--open: a held
#   request holds no one back): a restore done by hand (docker stop, restore, docker start)
#   against `restore --pause 30s` (targets: 0 failed, longest request <= bound + 1 s);
#   `maintenance on`, 5 s, `off` (target: only 503s with Retry-After, 0 connection errors); and a
#   20 s request in flight at a switch with `drain: 2s` against `drain: until-idle`.
# Needs nginx (scripts/setup.sh installs it); starts its own in a temp dir and stops it by pid.
set -euo pipefail
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/nginx.sh"
deploys=${DEPLOYS:-10}
rate=${RATE:-100}
steady_seconds=${STEADY_SECONDS:-10}
work=$(mktemp -d /tmp/opsctl-bench-bluegreen.XXXXXX)
app=bgbench$RANDOM
nginx_pid=""
load_pid=""
trap 'proxy_bench_cleanup bluegreen.sh "per-request CSV logs, deploy windows"' EXIT

# Four ports below the ephemeral range that nothing listens on: nginx, the stop-start app, blue, green.
read -r proxy_port app_port blue_port green_port < <(free_ports 4)

sample="$root/Tests/Fixtures/sample-app/build.sh"
"$sample" 1.0.0 >&2; "$sample" 1.0.1 >&2
# Built under their own version: blue-green confirms the version the app reports through nginx.
"$sample" 2.0.0-ignores-sigterm ignore-sigterm >&2; "$sample" 2.0.1-ignores-sigterm ignore-sigterm >&2
"$sample" 2.1.0-slow slow-responses 20 >&2     # GET /api/items takes 20 s: an upload, a report

git -C "$work" init -q
for v in 1.0.0 1.0.1 2.0.0-ignores-sigterm 2.0.1-ignores-sigterm 2.1.0-slow; do
    git -C "$work" -c user.name=bench -c user.email=bench@example.invalid commit -q --allow-empty -m "$v"
    git -C "$work" tag "v$v"
done

# nginx in front, as the team runs it: the upstream file is included; opsctl owns it.
start_nginx "$work/nginx" "$proxy_port" "$app" "127.0.0.1:$app_port" off

cat > "$work/opsctl.yml" <<YAML
app: $app
image: opsctl-sample
state: .opsctl/state.db
environments:
  stopstart:
    strategy: stop-start
    run: {network: host, env: {PORT: "$app_port"}, stop_timeout: 3s}
    preflight: {secret_keys: []}     # the sample app has no secrets to check
    health: {url: "http://127.0.0.1:$app_port/health", json: {status: healthy}, interval: 250ms, successes: 2, timeout: 10s}
    smoke: {base_url: "http://127.0.0.1:$app_port", checks: [{name: health, path: /health}]}
  bluegreen:
    strategy: blue-green
    run: {network: host, stop_timeout: 3s}
$(proxy_yaml "")
    preflight: {secret_keys: []}
    health: {url: "http://127.0.0.1:$proxy_port/health", json: {status: healthy}, interval: 250ms, successes: 2, timeout: 10s}
    smoke: {base_url: "http://127.0.0.1:$proxy_port", checks: [{name: health, path: /health}]}
    database: {path: data/app.db}
    backup: {dir: backups}
$(for drain in 2s until-idle; do
    echo "  drain-${drain%s}:"
    echo "    strategy: blue-green"
    echo "    run: {network: host, stop_timeout: 3s}"
    standby=0s proxy_yaml "" "      drain: $drain
      drain_timeout: 60s"
    echo "    preflight: {secret_keys: []}"
    echo "    health: {url: \"http://127.0.0.1:$proxy_port/health\", json: {status: healthy}, interval: 250ms, successes: 2, timeout: 10s}"
done)
YAML
export OPSCTL_CONFIG="$work/opsctl.yml"
load_path=/health

# deploy_loop ENV V1 V2 COUNT NAME: COUNT deploys alternating V1/V2, each window "start end" in NAME.windows.
deploy_loop() {
    local env=$1 a=$2 b=$3 count=$4 name=$5 version
    : > "$work/$name.windows"
    for i in $(seq "$count"); do
        version=$([ $((i % 2)) = 1 ] && echo "$b" || echo "$a")
        start=$(now)
        quietly deploy "$env" "$version"
        echo "$start $(now)" >> "$work/$name.windows"
        sleep "${PAUSE:-2}"
    done
}

# stats NAME: requests, failed, then p99 of the requests started inside NAME.windows (the
# deploys) and of those outside them (the same phase between deploys: the same machine load).
stats() {
    python3 - "$work/$1.csv" "$work/$1.windows" <<'PY'
import sys, os
rows = [line.strip().split(",") for line in open(sys.argv[1]) if line.strip()]
windows = [tuple(map(float, line.split())) for line in open(sys.argv[2])] if os.path.exists(sys.argv[2]) else []
def p99(selected):
    ms = sorted(float(r[1]) for r in selected)
    return f"{ms[min(len(ms) - 1, int(0.99 * len(ms)))]:.1f}" if ms else "0"
inside = [r for r in rows if any(a <= float(r[0]) <= b for a, b in windows)]
outside = [r for r in rows if not any(a <= float(r[0]) <= b for a, b in windows)]
print(len(rows), sum(1 for r in rows if r[2] == "0"), p99(inside if windows else rows), p99(outside))
PY
}

echo "== steady state: ${steady_seconds}s of ${rate} requests/s through nginx, nothing deploying =="
quietly deploy stopstart 1.0.0
load steady; sleep "$steady_seconds"; unload
read -r steady_requests steady_failed steady_p99 _ < <(stats steady)
printf 'steady: %d requests, %d failed, p99 %s ms\n' "$steady_requests" "$steady_failed" "$steady_p99"

echo "== $deploys deploys under load, stop-start =="
load stopstart; deploy_loop stopstart 1.0.0 1.0.1 "$deploys" stopstart; unload
read -r ss_requests ss_failed ss_p99 ss_between < <(stats stopstart)

echo "== $deploys deploys under load, blue-green =="
quietly deploy bluegreen 1.0.0         # takes the upstream over from the stop-start app
docker ps -q --filter "label=opsctl.app=$app" --filter "label=opsctl.env=stopstart" | xargs -r docker stop -t 3 > /dev/null
quietly deploy bluegreen 1.0.1         # a release of its own on standby from here on
load bluegreen; deploy_loop bluegreen 1.0.1 1.0.0 "$deploys" bluegreen; unload
read -r bg_requests bg_failed bg_p99 bg_between < <(stats bluegreen)

echo "== rollback to the release on standby, under load (5 times, back and forth) =="
load rollback
: > "$work/rollback.ms"; : > "$work/rollback.windows"
live=$("$opsctl" status bluegreen --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["live_version"])')
for _ in $(seq 5); do
    target=$([ "$live" = 1.0.0 ] && echo 1.0.1 || echo 1.0.0)
    start=$(now)
    "$opsctl" rollback bluegreen --to "$target" --json > "$work/rollback.json"
    echo "$start $(now)" >> "$work/rollback.windows"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert any(s["name"]=="probe standby" for s in r["steps"]), "not the standby path"; print(r["duration_ms"])' \
        "$work/rollback.json" >> "$work/rollback.ms"
    live=$target
    sleep 1
done
unload
read -r rb_requests rb_failed _ _ < <(stats rollback)
rollback_wall=$(python3 -c 'import sys; print(sorted(round((b-a)*1000) for a,b in (map(float,l.split()) for l in open(sys.argv[1])))[2])' "$work/rollback.windows")
rollback_ms=$(median < "$work/rollback.ms"); rollback_max=$(sort -n "$work/rollback.ms" | tail -1)

echo "== an app whose PID 1 ignores SIGTERM (stop_timeout 3s), 2 deploys each =="
echo "upstream $app { server 127.0.0.1:$app_port; }" > "$work/nginx/upstream.conf"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" -s reload
docker ps -q --filter "label=opsctl.app=$app" --filter "label=opsctl.env=bluegreen" | xargs -r docker stop -t 3 > /dev/null
quietly deploy stopstart 2.0.0-ignores-sigterm
load sigterm-ss; deploy_loop stopstart 2.0.0-ignores-sigterm 2.0.1-ignores-sigterm 2 sigterm-ss; unload
read -r tss_requests tss_failed _ _ < <(stats sigterm-ss)
quietly deploy bluegreen 2.0.0-ignores-sigterm
docker ps -q --filter "label=opsctl.app=$app" --filter "label=opsctl.env=stopstart" | xargs -r docker stop -t 3 > /dev/null
load sigterm-bg; deploy_loop bluegreen 2.0.0-ignores-sigterm 2.0.1-ignores-sigterm 2 sigterm-bg; unload
read -r tbg_requests tbg_failed _ _ < <(stats sigterm-bg)

echo "== restore under load: by hand (docker stop, restore, docker start) against restore --pause 30s =="
# The same nginx and slots: the blue-green environment serves again, with a database to restore.
echo "upstream $app { server 127.0.0.1:$green_port; }" > "$work/nginx/upstream.conf"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" -s reload
docker ps -q --filter "label=opsctl.app=$app" | xargs -r docker stop -t 3 > /dev/null
mkdir -p "$work/data"
sqlite3 "$work/data/app.db" "CREATE TABLE sessions (id INTEGER PRIMARY KEY); INSERT INTO sessions DEFAULT VALUES;"
quietly deploy bluegreen 1.0.0; quietly deploy bluegreen 1.0.1
docker ps -q --filter "label=opsctl.app=$app" --filter "label=opsctl.version=1.0.0" | xargs -r docker stop -t 3 > /dev/null
quietly backup bluegreen; quietly verify bluegreen --latest
live_container=$(docker ps --format '{{.Names}}' --filter "label=opsctl.app=$app" --filter "label=opsctl.env=bluegreen")
load restore --open --timeout 70
start=$(now)
docker stop -t 3 "$live_container" > /dev/null
quietly restore bluegreen
docker start "$live_container" > /dev/null
"$opsctl" wait bluegreen --timeout 60s > /dev/null
hand_window="$start $(now)"
sleep 2
start=$(now)
"$opsctl" restore bluegreen --pause 30s --json > "$work/restore-pause.json"
pause_window="$start $(now)"
sleep 2
unload
# shellcheck disable=SC2086 # the windows are two words each
read -r hand_requests hand_failed hand_errors _ hand_longest hand_kinds < <(window_stats restore $hand_window)
# shellcheck disable=SC2086
read -r pause_requests pause_failed pause_errors _ pause_longest _ < <(window_stats restore $pause_window)
read -r pause_held pause_refused pause_hold < <(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["pause"]; g=p["gate"]; print(g["held"], g["refused"], g["longest_hold_ms"])' "$work/restore-pause.json")

echo "== maintenance on, 5 s, off, under load =="
load maintenance --open --timeout 70
start=$(now)
quietly maintenance bluegreen on --message "Back in a minute" --retry-after 60s
on_returned=$(now)
sleep 5
quietly maintenance bluegreen off
off_returned=$(now)
sleep 2
unload
read -r m_requests m_failed m_errors m_retry _ m_kinds < <(window_stats maintenance "$start" "$(now)")
read -r m_first_503 m_first_200 < <(python3 - "$work/maintenance.csv" "$start" "$on_returned" "$off_returned" <<'PY'
import sys
rows = [line.split(",") for line in open(sys.argv[1]) if line.strip()]
start, on, off = map(float, sys.argv[2:5])
first503 = min((float(r[0]) + float(r[1]) / 1000 for r in rows if r[3] == "503" and float(r[0]) >= start), default=float("nan"))
first200 = min((float(r[0]) + float(r[1]) / 1000 for r in rows if r[3] == "200" and float(r[0]) >= off), default=float("nan"))
print(f"{(first503 - start) * 1000:.0f} {(first200 - off) * 1000:.0f}")
PY
)

echo "== a 20 s request in flight at a switch (standby 0s): drain 2s against drain until-idle =="
docker ps -q --filter "label=opsctl.app=$app" | xargs -r docker stop -t 3 > /dev/null
: > "$work/drain.results"
for env in drain-2 drain-until-idle; do
    quietly deploy "$env" 2.1.0-slow
    curl -s -o /dev/null -m 90 -w '%{http_code} %{time_total}' "http://127.0.0.1:$proxy_port/api/items" > "$work/$env.long" 2>/dev/null &
    long_pid=$!
    for _ in $(seq 200); do [ -n "$(ss -Htn state established "( dport = :$green_port or dport = :$blue_port )")" ] && break; sleep 0.05; done
    "$opsctl" deploy "$env" 1.0.1 --json > "$work/$env.json" || true
    wait "$long_pid" || true
    python3 - "$work/$env.json" "$work/$env.long" "$env" >> "$work/drain.results" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
code, seconds = (open(sys.argv[2]).read().split() + ["000", "0"])[:2]
drain = (report.get("drains") or [{}])[0]
print(sys.argv[3], code, f"{float(seconds):.1f}", drain.get("ending", "-"), f"{drain.get('waited_ms', 0) / 1000:.1f}")
PY
    docker ps -q --filter "label=opsctl.app=$app" --filter "label=opsctl.env=$env" | xargs -r docker stop -t 3 > /dev/null
done

echo
echo "== results (one run, same load, same nginx) =="
printf '%-12s %8s %8s %8s %14s %14s %9s %9s\n' strategy deploys requests failed "p99 deploying" "p99 between" "vs betw." "vs steady"
printf '%-12s %8s %8d %8d %14s %11s ms %9s %9s\n' steady - "$steady_requests" "$steady_failed" - "$steady_p99" - -
row() { awk -v n="$1" -v d="$deploys" -v r="$2" -v f="$3" -v p="$4" -v b="$5" -v s="$steady_p99" \
    'BEGIN { printf "%-12s %8d %8d %8d %11s ms %11s ms %8.2fx %8.2fx\n", n, d, r, f, p, b, p / b, p / s }'; }
row stop-start "$ss_requests" "$ss_failed" "$ss_p99" "$ss_between"
row blue-green "$bg_requests" "$bg_failed" "$bg_p99" "$bg_between"
# The baseline is the same phase between deploys: the same load on the machine at the same time.
awk -v p="$bg_p99" -v b="$bg_between" -v s="$steady_p99" -v f="$bg_failed" 'BEGIN { printf "blue-green targets: 0 failed (%s); p99 during deploys <= 2x steady state: %.2fx the p99 between its deploys (%s), %.2fx the steady run before\n", f == 0 ? "met" : "MISSED", p / b, p / b <= 2 ? "met" : "MISSED", p / s }'
printf 'rollback to the standby: opsctl report median %d ms, max %d ms; wall (process start to exit) median %d ms; %d of %d requests failed meanwhile (target <= 1000 ms)\n' \
    "$rollback_ms" "$rollback_max" "$rollback_wall" "$rb_failed" "$rb_requests"
printf 'PID 1 ignores SIGTERM, 2 deploys: stop-start %d of %d requests failed, blue-green %d of %d\n' "$tss_failed" "$tss_requests" "$tbg_failed" "$tbg_requests"

echo
printf '%-26s %9s %7s %18s %12s %s\n' "restore under load" requests failed "connection errors" "longest ms" "(target: 0 failed, longest <= 31000 ms)"
printf '%-26s %9d %7d %18d %12s %s\n' "by hand (stop, start)" "$hand_requests" "$hand_failed" "$hand_errors" "$hand_longest" "$hand_kinds"
printf '%-26s %9d %7d %18d %12s %s\n' "restore --pause 30s" "$pause_requests" "$pause_failed" "$pause_errors" "$pause_longest" \
    "$([ "$pause_failed" = 0 ] && [ "${pause_longest%.*}" -le 31000 ] && echo met || echo MISSED); gate held $pause_held, refused $pause_refused, longest hold $pause_hold ms"
printf 'maintenance on/off: %d requests, %d answered 503 (%d with Retry-After), %d connection errors (target 0: %s); first 503 %s ms after on began, first 200 %s ms after off returned; %s\n' \
    "$m_requests" "$m_failed" "$m_retry" "$m_errors" "$([ "$m_errors" = 0 ] && echo met || echo MISSED)" "$m_first_503" "$m_first_200" "$m_kinds"
while read -r env code seconds ending waited; do
    printf '20 s request at a switch, %-17s the request: HTTP %s after %s s; drain %s after %s s\n' "$env:" "$code" "$seconds" "$ending" "$waited"
done < "$work/drain.results"
