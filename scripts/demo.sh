#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# The demo: a throw-away environment in a temp dir (a git repo tagged v1.0.0 and v1.0.1, the
# sample app images, a generated opsctl.yml), then opsctl on it. Run through `make demo`.
# Every step states the exit code it expects and the demo fails (exit 1) when one differs.
#   OPSCTL_BINARY  the opsctl to run (default .build/debug/opsctl)
#   DEMO_APP, DEMO_PORT, DEMO_IMAGE  app name, port and image repository (default demo, 28080, opsctl-demo)
#   DEMO_BG_PORT   nginx's port in the blue/green and canary acts (default DEMO_PORT + 10; the slots are the two above it)
#   DEMO_DB_MB     size of the demo database (default 20)
#   DEMO_CLEANUP=1 remove the app's containers and the demo directory at the end (the tests do)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
opsctl=${OPSCTL_BINARY:-$root/.build/debug/opsctl}
# shellcheck source=demo-lib.sh
. "$root/scripts/demo-lib.sh"
[ -x "$opsctl" ] || fail "no opsctl at $opsctl: build first (make demo does)"
app=${DEMO_APP:-demo}
port=${DEMO_PORT:-28080}
image=${DEMO_IMAGE:-opsctl-demo}
demo=$(mktemp -d /tmp/opsctl-demo.XXXXXX)
remove_containers() { docker ps -aq --filter "label=opsctl.app=$app" | xargs -r docker rm -f >/dev/null; }
# Whatever ends the demo runs these, in order (the blue/green act adds its nginx and load).
cleanups=()
trap 'for cleanup in "${cleanups[@]}"; do eval "$cleanup" || true; done' EXIT
if [ "${DEMO_CLEANUP:-0}" = 1 ]; then cleanups+=('remove_containers; rm -rf "$demo"'); fi

step "sample app images (busybox-static, docker import + docker build): 1.0.2 is a broken release"
IMAGE=$image "$root/Tests/Fixtures/sample-app/build.sh" 1.0.0
IMAGE=$image "$root/Tests/Fixtures/sample-app/build.sh" 1.0.1
IMAGE=$image "$root/Tests/Fixtures/sample-app/build.sh" 1.0.2 unhealthy
# A previous demo's containers (same app name and port) step aside.
remove_containers

step "a release repository in $demo"
git -C "$demo" init -q
git -C "$demo" -c user.name=demo -c user.email=demo@example.invalid commit -q --allow-empty -m "release 1.0.0"
git -C "$demo" tag v1.0.0
git -C "$demo" -c user.name=demo -c user.email=demo@example.invalid commit -q --allow-empty -m "release 1.0.1"
git -C "$demo" tag v1.0.1
git -C "$demo" -c user.name=demo -c user.email=demo@example.invalid commit -q --allow-empty -m "release 1.0.2"
git -C "$demo" tag v1.0.2
git -C "$demo" tag --list

step "opsctl init scaffolds the config, cron and systemd units"
run init --dir "$demo/scaffold"

cat > "$demo/opsctl.yml" <<YAML
app: $app
image: $image
git: {dir: ., tag_prefix: v}
state: .opsctl/state.db
environments:
  demo:
    driver: docker
    run:
      network: host
      env: {PORT: "$port", API_TOKEN: "\${DEMO_API_TOKEN}", JWT_SECRET_FILE: .secrets/jwt_secret}
    health:
      url: http://127.0.0.1:$port/health
      json: {status: healthy}
      timeout: 5s
    smoke:
      base_url: http://127.0.0.1:$port
      checks:
        - {name: health, path: /health, expect: {status: 200, json: {status: healthy}, max_ms: 500}}
        - name: login rejects a bad password
          method: POST
          path: /api/auth/login
          headers: {Content-Type: application/json}
          body: '{"username":"admin","password":"wrong"}'
          expect: {status: [400, 401, 403]}
        - {name: security headers, path: /, expect: {headers: {X-Content-Type-Options: nosniff}}}
    database: {path: $demo/data/demo.db}
    backup:
      dir: $demo/backups
      retention: {keep_last: 3, keep_daily: 14}
    metrics: {textfile_dir: $demo/metrics}
YAML
cd "$demo"
# The JWT secret lives in a mode-600 file outside git, as the assessment asks; the API token
# comes from the environment. Preflight checks both (length, placeholders) before any deploy.
mkdir -p .secrets
(umask 077; openssl rand -base64 48 | tr -d '\n' > .secrets/jwt_secret)
DEMO_API_TOKEN=$(openssl rand -hex 24)
export DEMO_API_TOKEN
printf '.env*\n.secrets/\n.opsctl/\n' > .gitignore

step "config check: the resolved config, secrets redacted"
run config check demo

step "a typo is caught with its line, column and a suggestion (exit 78)"
sed 's/^      timeout: 5s$/      timout: 5s/' opsctl.yml > broken.yml
cmp -s opsctl.yml broken.yml && fail "the typo step's sed no longer matches opsctl.yml"
expect 78 --config broken.yml config check

step "preflight: the runbook's pre-deployment checklist (deploy runs its fatal subset by itself)"
echo "(exit 1 expected: the database and its backups come later in this demo; deploy insists only on preflight.fatal: secrets, health, allowed paths)"
expect 1 preflight demo

# The handoff's picture covers the demo's own "shift", from here to the end.
shift_start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
step "deploy 1.0.0, then upgrade to 1.0.1 (the old container is kept, stopped, for rollback)"
run deploy demo 1.0.0 --message "first release"
run deploy demo 1.0.1

step "a bad version, a missing tag: refused before anything changes (exit 64)"
expect 64 deploy demo 1.0
expect 64 deploy demo 1.0.9

step "deploy the broken 1.0.2: health fails, opsctl puts 1.0.1 back by itself (exit 3)"
run deploy demo 1.0.2 --dry-run
expect 3 deploy demo 1.0.2

step "manual rollback to the newest older release, then forward again with --to"
run rollback demo
run rollback demo --to 1.0.1

step "status: the ledger, what docker really runs, health now"
run status demo

step "history"
run history demo

step "backup: an online snapshot while the app writes, parallel gzip, manifest, retention"
mkdir -p "$demo/data"
python3 "$root/Tests/Fixtures/db/generate.py" "$demo/data/demo.db" "${DEMO_DB_MB:-20}" >/dev/null
# Backups the old cron script made (same naming, no manifest): opsctl manages them too.
mkdir -p "$demo/backups"
for day in 01 02 03 04; do gzip -c "$demo/data/demo.db" > "$demo/backups/${app}_202611${day}_020000.db.gz"; done
python3 "$root/Tests/Fixtures/db/writer.py" "$demo/data/demo.db" --interval-ms 5 --seconds 30 >/dev/null 2>&1 &
writer=$!
sleep 1
run backup demo
kill -TERM "$writer" 2>/dev/null; wait "$writer" 2>/dev/null || true

step "backups: what is on disk"
run backups demo

step "prune --dry-run: why each file is kept"
run prune demo --dry-run --keep-last 1 --keep-daily 2

step "verify: gzip CRC and length, sha256 vs manifest, SQLite's own checks (exit 1: one backup is bad)"
# One old backup got truncated on its way to the NAS; gzip -t would not have been asked.
old="$demo/backups/${app}_20261104_020000.db.gz"
head -c "$(( $(stat -c %s "$old") / 2 ))" "$old" > "$old.part"
mv "$old.part" "$old"
expect 1 verify demo
run verify demo --latest --deep

step "restore drill: the newest verified backup, elsewhere; the live database is untouched"
run restore demo --to "$demo/drill.db"
sqlite3 "$demo/drill.db" "SELECT COUNT(*) AS sessions FROM sessions"

step "continuous replication: at most a second of writes at risk, then a restore to the moment before a mistake"
# The same config with backup.replica added; opsctl replicate runs beside the app (systemd: opsctl-replicate@).
awk '{ print } /retention: \{keep_last: 3, keep_daily: 14\}/ { print "      replica: {sync_interval: 500ms}" }' opsctl.yml > replica.yml
python3 "$root/Tests/Fixtures/db/writer.py" "$demo/data/demo.db" --interval-ms 5 --seconds 12 \
    --checkpoint-every 100 --checkpoint-mode truncate >/dev/null 2>&1 &
writer=$!
"$opsctl" --config replica.yml replicate demo -q > "$demo/replicate.out" 2> "$demo/replicate.err" &
replicator=$!
cleanups=('kill "$replicator" 2> /dev/null' "${cleanups[@]}")
for _ in $(seq 600); do [ -s "$demo/backups/replica/replicate.json" ] && break; sleep 0.1; done
sleep 1
before_mistake=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sessions=$(sqlite3 "$demo/data/demo.db" "SELECT COUNT(*) FROM sessions")
echo "$before_mistake: $sessions sessions; now someone runs DELETE FROM sessions without a WHERE"
sqlite3 -cmd ".timeout 5000" "$demo/data/demo.db" "DELETE FROM sessions"
# Wait for a round after the moment (replicate.json's lastSync, Unix ms), however busy the machine.
moment_ms=$(( $(date -d "$before_mistake" +%s%3N) ))
for _ in $(seq 600); do
    synced=$(python3 -c 'import json, sys; print(int(json.load(open(sys.argv[1]))["lastSync"]))' "$demo/backups/replica/replicate.json" 2>/dev/null || echo 0)
    [ "$synced" -gt "$moment_ms" ] && break
    sleep 0.1
done
run --config replica.yml backups demo --replica
run --config replica.yml restore demo --at "$before_mistake" --to "$demo/before-mistake.db"
restored=$(sqlite3 "$demo/before-mistake.db" "SELECT COUNT(*) FROM sessions")
echo "sessions: $sessions before the mistake, $(sqlite3 "$demo/data/demo.db" "SELECT COUNT(*) FROM sessions") now, $restored in the restored copy"
[ "$restored" = "$sessions" ] || fail "the point-in-time restore holds $restored sessions, not $sessions"
expect 6 --config replica.yml restore demo --at 2000-01-01T00:00:00Z --to "$demo/too-early.db"
kill -TERM "$replicator"; wait "$replicator" || fail "opsctl replicate did not exit 0 on SIGTERM"
wait "$writer" 2>/dev/null || true
run --config replica.yml verify demo --replica

step "off-site: every backup also on S3-compatible storage (here a local moto server that checks signatures)"
venv=${OPSCTL_VENV:-/opt/opsctl-venv}
if [ -x "$venv/bin/aws" ]; then
    INITIAL_NO_AUTH_ACTION_COUNT=3 "$venv/bin/python3" "$root/Tests/Fixtures/s3/moto_server.py" > "$demo/moto.out" 2> /dev/null &
    moto=$!
    cleanups=('kill "$moto" 2> /dev/null' "${cleanups[@]}")
    for _ in $(seq 100); do grep -q '^ready' "$demo/moto.out" 2> /dev/null && break; sleep 0.1; done
    s3="http://127.0.0.1:$(awk '/^ready/ { print $2 }' "$demo/moto.out")"
    s3cli() { AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null "$venv/bin/aws" --endpoint-url "$s3" "$@"; }
    # moto's first three calls need no signature: an IAM user with an s3:* policy and its key.
    AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap s3cli iam create-user --user-name demo > /dev/null
    AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap s3cli iam put-user-policy --user-name demo --policy-name s3 \
        --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
    key=$(AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap s3cli iam create-access-key --user-name demo --output json)
    export DEMO_S3_KEY_ID=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["AccessKey"]["AccessKeyId"])' <<< "$key")
    (umask 077; python3 -c 'import json, sys; print(json.load(sys.stdin)["AccessKey"]["SecretAccessKey"], end="")' <<< "$key" > .secrets/s3)
    AWS_ACCESS_KEY_ID=$DEMO_S3_KEY_ID AWS_SECRET_ACCESS_KEY=$(cat .secrets/s3) s3cli s3 mb s3://demo-backups
    # The same config with backup.offsite added.
    awk -v s3="$s3" '{ print } /retention: \{keep_last: 3, keep_daily: 14\}/ {
        print "      offsite:"; print "        url: s3://demo-backups/demo/"; print "        endpoint: " s3
        print "        access_key_id: ${DEMO_S3_KEY_ID}"; print "        secret_access_key_file: .secrets/s3"; print "        part_size: 5MiB" }' \
        opsctl.yml > offsite.yml
    sed -n '/backup:/,/metrics:/p' offsite.yml
    run --config offsite.yml backup demo          # catch-up: the local backups with a manifest go up too
    run --config offsite.yml backups demo --remote
    run --config offsite.yml verify demo --remote --latest
    run --config offsite.yml restore demo --remote --to "$demo/drill-remote.db"
    sqlite3 "$demo/drill-remote.db" "SELECT COUNT(*) AS sessions FROM sessions"
    # A wrong secret: exit 69 naming S3's error; the local backup is kept all the same.
    sed 's#secret_access_key_file: .secrets/s3#secret_access_key: not-the-real-secret-key#' offsite.yml > offsite-wrong.yml
    expect 69 --config offsite-wrong.yml backup demo   # the off-site copy failed; the local backup is there
    kill "$moto" 2> /dev/null || true
else
    echo "(skipped: moto and awscli are not in $venv; make demo installs them through scripts/setup.sh)"
fi

step "smoke: the checks on one libcurl multi handle, with phase timings and a JUnit report"
run wait demo
run smoke demo --junit "$demo/smoke-junit.xml"
echo "(JUnit report for CI dashboards: $demo/smoke-junit.xml)"

step "metrics for node_exporter's textfile collector"
cat "$demo/metrics/opsctl_demo.prom"

step "end of shift: a note for the next shift, then the handoff report"
run note demo "1.0.2 fails its health check (503): do not redeploy before the fix"
run handoff demo --since 1h
run handoff demo --from "$shift_start" --format html --output "$demo/handoff.html"

step "the handoff at a glance: headless Chromium renders the HTML report (timeline, trends, banner)"
if command -v chromium >/dev/null; then
    # As root Chromium needs --no-sandbox; its profile stays inside the demo directory.
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$demo/.chromium" \
        --window-size=1100,1150 --screenshot="$demo/handoff.png" "file://$demo/handoff.html" 2>/dev/null
    [ -s "$demo/handoff.png" ] || { echo "demo: chromium wrote no screenshot" >&2; exit 1; }
    echo "screenshot: $demo/handoff.png (the report itself: $demo/handoff.html)"
else
    echo "(chromium is not installed: scripts/setup.sh installs it; open $demo/handoff.html in a browser instead)"
fi

step "blue/green through nginx: the same releases, no user ever sees an error"
# Debian's nginx in front, in its own prefix directory under the demo (never the system nginx).
bg_port=${DEMO_BG_PORT:-$((port + 10))}; blue=$((bg_port + 1)); green=$((bg_port + 2))
mkdir -p "$demo/nginx/tmp"
cat > "$demo/nginx/nginx.conf" <<NGINX
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes 2;
pid $demo/nginx/nginx.pid;
error_log $demo/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log $demo/nginx/access.log;
    # The line the canary act reads (the documented format, plus the path for the report).
    log_format opsctl_canary '\$upstream_addr \$status \$request_time \$request_uri';
    access_log $demo/nginx/canary.log opsctl_canary;
    client_body_temp_path $demo/nginx/tmp/body;
    proxy_temp_path $demo/nginx/tmp/proxy;
    fastcgi_temp_path $demo/nginx/tmp/fastcgi;
    uwsgi_temp_path $demo/nginx/tmp/uwsgi;
    scgi_temp_path $demo/nginx/tmp/scgi;
    include $demo/nginx/upstream.conf;    # opsctl owns this file
    server {
        listen 127.0.0.1:$bg_port;
        location / { proxy_pass http://demo; }
    }
}
NGINX
# Until the first blue/green deploy, nginx sends users to the app the stop-start acts deployed.
echo "upstream demo { server 127.0.0.1:$port; }" > "$demo/nginx/upstream.conf"
nginx_argv="\"-p\", \"$demo/nginx\", \"-c\", \"$demo/nginx/nginx.conf\", \"-e\", \"$demo/nginx/error.log\""
nginx -p "$demo/nginx" -c "$demo/nginx/nginx.conf" -e "$demo/nginx/error.log"
# However the act ends, this nginx and the load stop with it (first: the directory goes last).
cleanups=('kill "$(cat "$demo/nginx/nginx.pid" 2>/dev/null)" ${load:-} 2>/dev/null' "${cleanups[@]}")
cat >> opsctl.yml <<YAML
  demo-bg:
    strategy: blue-green
    proxy:
      kind: nginx
      upstream_file: nginx/upstream.conf
      upstream_name: demo
      check: [nginx, $nginx_argv, "-t"]
      reload: [nginx, $nginx_argv, "-s", "reload"]
      url: http://127.0.0.1:$bg_port
      slots: {blue: "127.0.0.1:$blue", green: "127.0.0.1:$green"}
      port_env: PORT
      standby: 5m
    run:
      network: host
      env: {JWT_SECRET_FILE: .secrets/jwt_secret}
    health: {url: "http://127.0.0.1:$bg_port/health", json: {status: healthy}, timeout: 5s}
    smoke:
      base_url: http://127.0.0.1:$bg_port
      checks: [{name: security headers, path: /, expect: {headers: {X-Content-Type-Options: nosniff}}}]
YAML
expect 0 deploy demo-bg 1.0.0 --dry-run
expect 0 deploy demo-bg 1.0.0
# ~50 users a second, each on a fresh connection, for the rest of the act.
python3 "$root/Tests/Fixtures/load/load.py" "http://127.0.0.1:$bg_port/health" --rate 50 --out "$demo/load.json" &
load=$!
sleep 1
expect 0 deploy demo-bg 1.0.1        # 1.0.0 stays on standby for 5m
expect 3 deploy demo-bg 1.0.2        # checked on the idle slot, never switched to
expect 0 rollback demo-bg            # to 1.0.0: started again on the idle slot, then switched
expect 0 rollback demo-bg --to 1.0.1 # 1.0.1 waits on standby: rewrite, check, reload, confirm
kill "$load"; wait "$load" || true; load=""
python3 - "$demo/load.json" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
print(f"users' requests through nginx meanwhile: {load['requests']}, failed: {load['failed']}, versions seen: {load['versions']}, p99 {load['p99_ms']} ms")
sys.exit(0 if load["failed"] == 0 and "1.0.2" not in load["versions"] else 1)
PY
expect 0 status demo-bg
expect 0 history demo-bg

step "canary through the same nginx: a release that passes its checks but fails users meets a tenth of them, briefly"
# 1.0.3 answers 500 on GET /api/items, a query the smoke checks never make; /health stays green.
IMAGE=$image "$root/Tests/Fixtures/sample-app/build.sh" 1.0.3 broken-path
git -C "$demo" -c user.name=demo -c user.email=demo@example.invalid commit -q --allow-empty -m "release 1.0.3"
git -C "$demo" tag v1.0.3
# The blue/green releases step aside; nginx goes back to the stop-start app until the first canary deploy.
docker ps -aq --filter "label=opsctl.app=$app" --filter label=opsctl.env=demo-bg | xargs -r docker rm -f >/dev/null
echo "upstream demo { server 127.0.0.1:$port; }" > "$demo/nginx/upstream.conf"
nginx -p "$demo/nginx" -c "$demo/nginx/nginx.conf" -e "$demo/nginx/error.log" -s reload
cat >> opsctl.yml <<YAML
  demo-canary:
    strategy: canary
    proxy:
      kind: nginx
      upstream_file: nginx/upstream.conf
      upstream_name: demo
      check: [nginx, $nginx_argv, "-t"]
      reload: [nginx, $nginx_argv, "-s", "reload"]
      url: http://127.0.0.1:$bg_port
      slots: {blue: "127.0.0.1:$blue", green: "127.0.0.1:$green"}
      port_env: PORT
      access_log: nginx/canary.log    # log_format opsctl_canary '\$upstream_addr \$status \$request_time';
    canary: {steps: [10, 50], pause: 4s, max_error_rate: 1%, min_requests: 10}
    run:
      network: host
      env: {JWT_SECRET_FILE: .secrets/jwt_secret}
    health: {url: "http://127.0.0.1:$bg_port/health", json: {status: healthy}, timeout: 5s}
    smoke:
      base_url: http://127.0.0.1:$bg_port
      checks: [{name: security headers, path: /, expect: {headers: {X-Content-Type-Options: nosniff}}}]
YAML
expect 0 deploy demo-canary 1.0.0    # nothing of this environment served through nginx yet: switched at once
# ~50 users a second on the query the smoke checks do not make.
python3 "$root/Tests/Fixtures/load/load.py" "http://127.0.0.1:$bg_port/api/items" --rate 50 --out "$demo/canary-load.json" &
load=$!
sleep 1
expect 0 deploy demo-canary 1.0.1 --dry-run   # every step's upstream file, with its weights
expect 0 deploy demo-canary 1.0.1    # 10 %, then 50 %, each watched 4 s in nginx's log, then 100 %
expect 3 deploy demo-canary 1.0.3    # 500s on /api/items: withdrawn during its first step
kill "$load"; wait "$load" || true; load=""
python3 - "$demo/canary-load.json" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
failed_by = load.get("failed_versions", {})
print(f"users' requests on /api/items meanwhile: {load['requests']}, failed: {load['failed']} (all from {sorted(failed_by) or 'none'}), versions seen: {load['versions']}")
# The bad release met users only through its first step's share, for a moment.
sys.exit(0 if set(failed_by) <= {"1.0.3"} and load["failed"] <= load["requests"] * 0.05 else 1)
PY
expect 0 history demo-canary
kill "$(cat "$demo/nginx/nginx.pid")"
unset 'cleanups[0]'
docker ps -aq --filter "label=opsctl.app=$app" --filter label=opsctl.env=demo-canary | xargs -r docker rm -f >/dev/null
echo "(nginx stopped, the blue/green and canary containers removed)"

echo
if [ "${DEMO_CLEANUP:-0}" = 1 ]; then
    echo "demo finished: every step exited as announced (removing $demo and the app's containers)"
else
    echo "demo finished: every step exited as announced"
    echo "demo environment left in $demo; the app still runs on 127.0.0.1:$port"
    echo "stop it with: docker ps -aq --filter label=opsctl.app=$app | xargs -r docker rm -f"
fi
