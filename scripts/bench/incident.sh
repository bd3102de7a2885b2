#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Incident benchmark, side by side in one run:
#  1. What the incident hook costs every other command: `opsctl config check ENV` (the hook asks
#     whether an incident is open there) against `opsctl config check` (no environment, no hook),
#     and with an incident open (the command is written on its timeline).
#  2. The diagnostic bundle against the runbook's `docker logs > file; docker stats --no-stream`,
#     on a live container, and on a Docker daemon that accepts connections and never answers
#     (the runbook's commands are cut at 60 s there; they would wait forever).
set -euo pipefail
source "$(dirname "$0")/common.sh"
runs=${RUNS:-40}
work=$(mktemp -d /tmp/opsctl-bench-incident.XXXXXX)
app=benchinc$$
image=opsctl-bench-incident
cleanup() {
    docker rm -f "$app-bench-1.0.0" >/dev/null 2>&1 || true
    [ -n "${silent:-}" ] && kill "$silent" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
IMAGE=$image bash "$root/Tests/Fixtures/sample-app/build.sh" 1.0.0 healthy >/dev/null 2>&1
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/opsctl.yml" <<YAML
app: $app
image: $image
state: state.db
environments:
  bench:
    health: {url: "http://127.0.0.1:$port/health"}
    smoke: {base_url: "http://127.0.0.1:$port", checks: [{name: health, path: /health}]}
YAML
export OPSCTL_CONFIG="$work/opsctl.yml"
docker run -d --name "$app-bench-1.0.0" --network host -e PORT="$port" \
    --label opsctl.app="$app" --label opsctl.env=bench --label opsctl.version=1.0.0 "$image:1.0.0" >/dev/null
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

now() { date +%s%N; }
measure() { # runs command... → median ms
    local n=$1; shift
    "$@" >/dev/null 2>&1 || true
    for _ in $(seq "$n"); do
        local start; start=$(now)
        "$@" >/dev/null 2>&1 || true
        echo $(( ($(now) - start) / 1000 ))
    done | median | awk '{ printf "%.2f", $1 / 1000 }'
}

echo "incidents, release build, $(nproc) cores"
no_hook=$(measure "$runs" "$opsctl" config check)
none_open=$(measure "$runs" "$opsctl" config check bench)
"$opsctl" incident open bench "bench" -q >/dev/null 2>&1
open_now=$(measure "$runs" "$opsctl" config check bench)
printf '%-58s median %7.2f ms\n' "opsctl config check (no environment: no hook)" "$no_hook"
printf '%-58s median %7.2f ms   /no-hook %.2f\n' "opsctl config check bench (no incident open: one access(2))" "$none_open" \
    "$(awk -v a="$none_open" -v b="$no_hook" 'BEGIN { print a / b }')"
printf '%-58s median %7.2f ms   /no-hook %.2f\n' "opsctl config check bench (incident open: recorded)" "$open_now" \
    "$(awk -v a="$open_now" -v b="$no_hook" 'BEGIN { print a / b }')"

bundle=$(measure 5 "$opsctl" incident bundle bench)
runbook=$(measure 5 sh -c "docker logs $app-bench-1.0.0 > '$work/incident.txt' 2>&1; docker stats --no-stream > '$work/stats.txt'")
printf '%-58s median %7.2f ms\n' "opsctl incident bundle (9 parts), live container" "$bundle"
printf '%-58s median %7.2f ms   bundle/runbook %.2f\n' "runbook: docker logs > file; docker stats --no-stream" "$runbook" \
    "$(awk -v a="$bundle" -v b="$runbook" 'BEGIN { print a / b }')"

python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(128)
time.sleep(3600)' "$work/hang.sock" &
silent=$!
for _ in $(seq 50); do [ -S "$work/hang.sock" ] && break; sleep 0.1; done
export DOCKER_HOST="unix://$work/hang.sock"
hung_bundle=$(measure 1 "$opsctl" incident bundle bench)
hung_runbook=$(measure 1 timeout 60 sh -c "docker logs $app-bench-1.0.0 > '$work/incident.txt' 2>&1; docker stats --no-stream > '$work/stats.txt'")
printf '%-58s %7.2f ms (docker parts marked timed out, the rest kept)\n' "opsctl incident bundle, daemon that never answers" "$hung_bundle"
printf '%-58s %7.2f ms (cut by timeout 60; unbounded otherwise)   bundle/runbook %.2f\n' "runbook, daemon that never answers" "$hung_runbook" \
    "$(awk -v a="$hung_bundle" -v b="$hung_runbook" 'BEGIN { print a / b }')"
unset DOCKER_HOST
"$opsctl" incident close bench --summary bench -q >/dev/null 2>&1
