#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Deploy benchmark (issue 6), side by side in one run on the real Docker engine:
#   1. overhead: opsctl deploy (stop the live release, start the new one, health-wait with 2 passes
#      at 250 ms, 2 smoke checks) minus a bare `docker run` of the same image until /health first
#      answers (tight curl loop)                                           (target <= 1.0 s)
#   2. crash detection: a release that exits at start; opsctl's decision minus the container's
#      exit (docker inspect FinishedAt)                                    (target <= 2 s)
#      next to the seed's deploy loop (curl -f /health every 2 s, 30 tries)
#   3. recovery: failure decided -> the previous release answers healthy  (target <= 3 s)
set -euo pipefail
source "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
seed_tries=${SEED_TRIES:-30}
port=${PORT:-27181}
work=$(mktemp -d /tmp/opsctl-bench-deploy.XXXXXX)
app=bench$RANDOM
cleanup() { docker ps -aq --filter "label=opsctl.app=$app" | xargs -r docker rm -f >/dev/null 2>&1; docker rm -f "$app-bare" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

sample="$root/Tests/Fixtures/sample-app/build.sh"
"$sample" 1.0.0 >&2; "$sample" 1.0.1 >&2
IMAGE=opsctl-bench-broken "$sample" 1.0.2 unhealthy >&2
IMAGE=opsctl-bench-broken "$sample" 1.0.3 crash >&2
docker tag opsctl-bench-broken:1.0.2 opsctl-sample:1.0.2-bench-unhealthy
docker tag opsctl-bench-broken:1.0.3 opsctl-sample:1.0.3-bench-crash

git -C "$work" init -q
for v in 1.0.0 1.0.1 1.0.2-bench-unhealthy 1.0.3-bench-crash; do
    git -C "$work" -c user.name=bench -c user.email=bench@example.invalid commit -q --allow-empty -m "$v"
    git -C "$work" tag "v$v"
done
cat > "$work/opsctl.yml" <<YAML
app: $app
image: opsctl-sample
state: .opsctl/state.db
environments:
  bench:
    run: {network: host, env: {PORT: "$port"}}
    preflight: {secret_keys: []}     # the sample app has no secrets to check
    health: {url: "http://127.0.0.1:$port/health", json: {status: healthy}, interval: 250ms, successes: 2, timeout: 3s}
    smoke:
      base_url: http://127.0.0.1:$port
      checks:
        - {name: health, path: /health}
        - {name: security headers, path: /, expect: {headers: {X-Content-Type-Options: nosniff}}}
YAML
export OPSCTL_CONFIG="$work/opsctl.yml"
now_ms() { date +%s%3N; }
health() { curl -sf -m 1 -o /dev/null "http://127.0.0.1:$port/health"; }

echo "== 1. deploy overhead over a bare docker run (median of $runs) =="
"$opsctl" deploy bench 1.0.0 -q > /dev/null
: > "$work/bare"; : > "$work/deploy"
version=1.0.0
for _ in $(seq "$runs"); do
    # Bare: the live opsctl container steps aside, then docker run + tight curl loop.
    docker stop -t 10 "$app-bench-$version" > /dev/null
    start=$(now_ms)
    docker run -d --name "$app-bare" --network host -e PORT="$port" opsctl-sample:1.0.1 > /dev/null
    until health; do sleep 0.01; done
    echo $(( $(now_ms) - start )) >> "$work/bare"
    docker rm -f "$app-bare" > /dev/null
    docker start "$app-bench-$version" > /dev/null
    until health; do sleep 0.01; done
    # opsctl: a real upgrade from the live release.
    next=$([ "$version" = 1.0.0 ] && echo 1.0.1 || echo 1.0.0)
    start=$(now_ms)
    "$opsctl" deploy bench "$next" -q > /dev/null
    echo $(( $(now_ms) - start )) >> "$work/deploy"
    version=$next
done
bare=$(median < "$work/bare"); deploy=$(median < "$work/deploy")
printf 'bare docker run until /health answers  %5d ms\n' "$bare"
printf 'opsctl deploy (stop, run, health x2, smoke, ledger)  %5d ms\n' "$deploy"
awk -v d="$deploy" -v b="$bare" 'BEGIN { printf "overhead = %.2f s (target <= 1.0 s)\n", (d - b) / 1000 }'

echo "== 2. crash detection (median of $runs) =="
: > "$work/crash"
for _ in $(seq "$runs"); do
    "$opsctl" deploy bench 1.0.3-bench-crash --json > "$work/crash.json" 2> /dev/null || true
    finished=$(docker inspect --format '{{.State.FinishedAt}}' "$app-bench-1.0.3-bench-crash")
    python3 - "$work/crash.json" "$finished" >> "$work/crash" <<'PY'
import datetime, json, sys
report = json.load(open(sys.argv[1]))
decided = datetime.datetime.fromisoformat(report["failed_at"].replace("Z", "+00:00"))
exited = datetime.datetime.fromisoformat(sys.argv[2][:26].rstrip("Z") + "+00:00")
print(round((decided - exited).total_seconds() * 1000))
PY
done
crash=$(median < "$work/crash"); crash_max=$(sort -n "$work/crash" | tail -1)
printf 'opsctl: container exit -> failure decided  median %d ms, max %d ms (target <= 2000 ms)\n' "$crash" "$crash_max"
# The seed's deploy loop never looks at the container: it polls until its tries run out.
docker run -d --name "$app-bare" --network host -e PORT="$port" opsctl-bench-broken:1.0.3 > /dev/null 2>&1 || true
docker stop -t 10 "$app-bench-$version" > /dev/null
start=$(now_ms)
for _ in $(seq "$seed_tries"); do health && break; sleep 2; done
seed=$(( $(now_ms) - start ))
docker rm -f "$app-bare" > /dev/null; docker start "$app-bench-$version" > /dev/null
printf 'seed loop (%d tries, 2 s apart) gives up after %d ms\n' "$seed_tries" "$seed"
awk -v s="$seed" -v c="$crash" 'BEGIN { printf "seed / opsctl = %.0fx\n", s / (c > 0 ? c : 1) }'

echo "== 3. failure decided -> previous release healthy again (median of $runs) =="
: > "$work/recover"
for _ in $(seq "$runs"); do
    until health; do sleep 0.01; done
    "$opsctl" deploy bench 1.0.2-bench-unhealthy --json > "$work/unhealthy.json" 2> /dev/null &
    deploy_pid=$!
    while health; do sleep 0.01; done   # the live release stopped: the switch happened
    # From outside opsctl: when does the previous release answer healthy again?
    until curl -sf -m 1 "http://127.0.0.1:$port/health" 2>/dev/null | grep -q "\"version\":\"$version\""; do sleep 0.01; done
    back=$(now_ms)
    wait "$deploy_pid" || true
    python3 - "$work/unhealthy.json" "$back" >> "$work/recover" <<'PY'
import datetime, json, sys
decided = datetime.datetime.fromisoformat(json.load(open(sys.argv[1]))["failed_at"].replace("Z", "+00:00")).timestamp() * 1000
print(round(int(sys.argv[2]) - decided))
PY
done
recover=$(median < "$work/recover"); recover_max=$(sort -n "$work/recover" | tail -1)
printf 'opsctl: failure decided -> %s answers healthy  median %d ms, max %d ms (target <= 3000 ms)\n' "$version" "$recover" "$recover_max"
echo "seed: rollback is a manual runbook procedure (docker-compose down, edit the tag, up, curl by hand)"
