#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Swarm benchmark, side by side in one run on a real 3-node swarm (Tests/Fixtures/swarm/swarm.sh),
# the same service, the same images, the same update policy:
#   1. overhead: `opsctl deploy` (secrets check, service update, the wait for Swarm, the task
#      check, health-wait, smoke, ledger) against `docker service update --detach=false` alone
#      for the same change (a new image on all 3 tasks, one at a time), alternating;
#      overhead = opsctl - health - smoke - docker alone          (target <= 1 s)
#   2. failing task -> exit: a release that crashes at start; from its first failed task
#      (the task's status time, Swarm's clock: the same host) to opsctl's exit 3, and to the
#      exit of `docker service update --detach=false` for the same release, which exits 0.
# Needs root (network namespaces), ip, nsenter, unshare and a Docker engine (scripts/setup.sh).
set -euo pipefail
source "$(dirname "$0")/common.sh"
runs=${RUNS:-3}
work=$(mktemp -d /tmp/opsctl-bench-swarm.XXXXXX)
swarm_dir="$work/swarm"
app=swbench$RANDOM
port=$((21000 + RANDOM % 8000))
image=opsctl-bench-swarm
cleanup() {
    bash "$root/Tests/Fixtures/swarm/swarm.sh" down "$swarm_dir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

sample="$root/Tests/Fixtures/sample-app/build.sh"
IMAGE=$image "$sample" 1.0.0 >&2; IMAGE=$image "$sample" 1.0.1 >&2; IMAGE=$image "$sample" 1.0.3 crash >&2
bash "$root/Tests/Fixtures/swarm/swarm.sh" up "$swarm_dir" 3 >/dev/null
bash "$root/Tests/Fixtures/swarm/swarm.sh" load "$swarm_dir" "$image:1.0.0" "$image:1.0.1" "$image:1.0.3"
# shellcheck disable=SC1091
. "$swarm_dir/swarm.env"
export DOCKER_HOST=$MANAGER_HOST

git -C "$work" init -q
for v in 1.0.0 1.0.1 1.0.3; do
    git -C "$work" -c user.name=bench -c user.email=bench@example.invalid commit -q --allow-empty -m "$v"
    git -C "$work" tag "v$v"
done
cat > "$work/opsctl.yml" <<YAML
app: $app
image: $image
state: .opsctl/state.db
environments:
  bench:
    driver: swarm
    run: {network: host, env: {PORT: "$port", BIND_ADDRESS: 0.0.0.0}, stop_timeout: 2s}
    preflight: {secret_keys: []}     # the sample app has no secrets to check
    swarm:
      replicas: 3
      update_parallelism: 1
      update_delay: 0s
      update_order: stop-first
      monitor: 1s
      health_cmd: "wget -q -O /dev/null http://127.0.0.1:$port/health || exit 1"
      health_interval: 500ms
      health_retries: 2
      publish: ["mode=host,target=$port,published=$port"]
    health: {url: "http://$NODE1_ADDR:$port/health", json: {status: healthy}, interval: 250ms, successes: 2, timeout: 10s}
    smoke:
      base_url: http://$NODE2_ADDR:$port
      checks:
        - {name: health, path: /health}
        - {name: security headers, path: /, expect: {headers: {X-Content-Type-Options: nosniff}}}
YAML
export OPSCTL_CONFIG="$work/opsctl.yml"
now_ms() { date +%s%3N; }
service="$app-bench"
"$opsctl" deploy bench 1.0.0 --json > /dev/null

echo "== 1. deploy overhead over docker service update --detach=false (3 tasks, parallelism 1; median of $runs) =="
: > "$work/bare"; : > "$work/deploy"; : > "$work/overhead"
for _ in $(seq "$runs"); do
    # docker alone: 1.0.0 -> 1.0.1, the same flags opsctl's update carries for a new image.
    start=$(now_ms)
    docker service update --detach=false --quiet --no-resolve-image --image "$image:1.0.1" \
        --container-label-add opsctl.version=1.0.1 "$service" > /dev/null
    bare=$(( $(now_ms) - start )); echo "$bare" >> "$work/bare"
    # opsctl: 1.0.1 -> 1.0.0, a real deploy from the live release.
    start=$(now_ms)
    "$opsctl" deploy bench 1.0.0 --json > "$work/deploy.json"
    took=$(( $(now_ms) - start )); echo "$took" >> "$work/deploy"
    python3 - "$work/deploy.json" "$took" "$bare" >> "$work/overhead" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
checks = sum(step["ms"] for step in report["steps"] if step["name"] in ("health", "smoke"))
print(int(sys.argv[2]) - checks - int(sys.argv[3]))
PY
done
bare=$(median < "$work/bare"); deploy=$(median < "$work/deploy"); overhead=$(median < "$work/overhead")
printf 'docker service update --detach=false alone         %6d ms\n' "$bare"
printf 'opsctl deploy (update, wait, tasks, health, smoke)  %6d ms\n' "$deploy"
awk -v d="$deploy" -v b="$bare" 'BEGIN { printf "opsctl / docker alone = %.2fx\n", d / b }'
awk -v o="$overhead" 'BEGIN { printf "overhead beyond health and smoke = %.2f s (target <= 1.0 s)\n", o / 1000 }'

echo "== 2. first failing task -> exit, a release that crashes at start (median of $runs) =="
first_failure() { # VERSION: the earliest failed task of that version since $SINCE (epoch ms), in epoch ms
    python3 - "$1" "$service" "$SINCE" <<'PY'
import datetime, json, subprocess, sys
version, service, since = sys.argv[1], sys.argv[2], float(sys.argv[3])
ids = subprocess.run(["docker", "service", "ps", "-q", "--no-trunc", service], capture_output=True, text=True).stdout.split()
tasks = json.loads(subprocess.run(["docker", "inspect", "--type", "task"] + ids, capture_output=True, text=True).stdout or "[]")
def ms(text):  # Swarm's RFC 3339 with nanoseconds
    base, _, fraction = text.rstrip("Z").partition(".")
    moment = datetime.datetime.fromisoformat(base).replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp() * 1000 + (float("0." + fraction) * 1000 if fraction else 0)
failed = [ms(t["Status"]["Timestamp"]) for t in tasks
          if t["Status"]["State"] == "failed" and t["Spec"]["ContainerSpec"]["Image"].endswith(":" + version) and ms(t["Status"]["Timestamp"]) >= since]
print(round(min(failed)) if failed else "")
PY
}
: > "$work/opsctl_fail"; : > "$work/bare_fail"
for _ in $(seq "$runs"); do
    SINCE=$(now_ms)
    code=0; "$opsctl" deploy bench 1.0.3 --json > "$work/crash.json" || code=$?
    exited=$(now_ms)
    failed=$(first_failure 1.0.3)
    if [ "$code" != 3 ] || [ -z "$failed" ]; then echo "swarm.sh: opsctl exited $code (expected 3)" >&2; exit 1; fi
    echo $(( exited - failed )) >> "$work/opsctl_fail"
    SINCE=$(now_ms)
    bare_code=0
    docker service update --detach=false --quiet --no-resolve-image --image "$image:1.0.3" \
        --container-label-add opsctl.version=1.0.3 "$service" > /dev/null 2>&1 || bare_code=$?
    exited=$(now_ms)
    failed=$(first_failure 1.0.3)
    state=$(docker service inspect --format '{{.UpdateStatus.State}}' "$service")
    echo $(( exited - failed )) >> "$work/bare_fail"
    printf 'docker service update exited %d; UpdateStatus.State %s\n' "$bare_code" "$state"
done
opsctl_fail=$(median < "$work/opsctl_fail"); bare_fail=$(median < "$work/bare_fail")
printf 'opsctl: first failed task -> exit 3 (rolled back, every task checked)  median %6d ms\n' "$opsctl_fail"
printf 'docker service update alone: first failed task -> exit 0               median %6d ms\n' "$bare_fail"
awk -v o="$opsctl_fail" -v b="$bare_fail" 'BEGIN { printf "opsctl / docker alone = %.2fx\n", o / (b > 0 ? b : 1) }'
