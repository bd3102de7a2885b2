#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Handoff benchmark: a handoff over a ledger holding 10,000 events in its window (deploys,
# backups, verifications, smoke runs, notes), as Markdown, JSON and HTML with the SVG timeline
# and trends (every event placed, clustered where marks would overlap); target < 200 ms each.
# There is no tool to compare with (people write this report by hand); the figure is printed
# next to the target, and next to `sqlite3` merely counting the same rows as a floor.
set -euo pipefail
source "$(dirname "$0")/common.sh"
runs=${RUNS:-5}
events=${EVENTS:-10000}
work=$(mktemp -d /tmp/opsctl-bench-handoff.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/opsctl.yml" <<YAML
app: bench
image: bench
state: state.db
environments:
  bench:
    database: {path: app.db}
    backup: {dir: backups}
    handoff: {disks: [/], facts: {users: "SELECT COUNT(*) FROM users"}}
YAML
export OPSCTL_CONFIG="$work/opsctl.yml"
sqlite3 "$work/app.db" "CREATE TABLE users(id INTEGER PRIMARY KEY); INSERT INTO users DEFAULT VALUES;"
"$opsctl" note bench "schema" -q > /dev/null   # creates the ledger at the current schema
python3 - "$work/state.db" "$events" <<'PY'
import random, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1]); events = int(sys.argv[2]); now = time.time()
per = events // 5
def at(): return now - random.uniform(0, 7 * 86400)
db.executemany("INSERT INTO deployments (env, kind, version, previous_version, status, started_at, finished_at, actor, host, pid) VALUES ('bench', ?, ?, ?, ?, ?, ?, 'bench', 'h', 1)",
               [(random.choice(["deploy", "rollback"]), f"1.{i}.0", f"1.{i-1}.0", random.choice(["succeeded", "succeeded", "rolled_back"]), t, t + 5) for i, t in ((i, at()) for i in range(per))])
db.executemany("INSERT INTO backups (env, database_path, file, status, bytes, started_at, finished_at) VALUES ('bench', 'app.db', ?, ?, ?, ?, ?)",
               [(f"backups/b{i}.db.gz", "failed" if i % 97 == 0 else "succeeded", None if i % 97 == 0 else 1000000 + i, t, t + 3) for i, t in ((i, at()) for i in range(per))])
db.executemany("INSERT INTO verifications (env, file, status, deep, checked_at) VALUES ('bench', ?, 'ok', 0, ?)", [(f"backups/b{i}.db.gz", at()) for i in range(per)])
checks = '[' + ','.join('{"name": "c%d", "timings": {"total_ms": %d.5}}' % (c, 10 + c) for c in range(3)) + ']'
db.executemany("INSERT INTO smoke_runs (env, status, passed, failed, started_at, details) VALUES ('bench', 'passed', 3, 0, ?, ?)", [(at(), checks) for i in range(per)])
db.executemany("INSERT INTO notes (env, text, author, created_at, resolved_at) VALUES ('bench', ?, 'bench', ?, ?)",
               [(f"note {i}", t, t + 60 if i % 10 else None) for i, t in ((i, at()) for i in range(events - 4 * per))])
db.commit()
PY
now() { date +%s%N; }
: > "$work/md"; : > "$work/json"; : > "$work/html"; : > "$work/floor"
for _ in $(seq "$runs"); do
    start=$(now); "$opsctl" handoff bench --since 8d > "$work/out.md"; echo $(( ($(now) - start) / 1000000 )) >> "$work/md"
    start=$(now); "$opsctl" handoff bench --since 8d --format json > "$work/out.json"; echo $(( ($(now) - start) / 1000000 )) >> "$work/json"
    start=$(now); "$opsctl" handoff bench --since 8d --format html > "$work/out.html"; echo $(( ($(now) - start) / 1000000 )) >> "$work/html"
    start=$(now)
    sqlite3 "$work/state.db" "SELECT COUNT(*) FROM deployments; SELECT COUNT(*) FROM backups; SELECT COUNT(*) FROM verifications; SELECT COUNT(*) FROM smoke_runs; SELECT COUNT(*) FROM notes;" > /dev/null
    echo $(( ($(now) - start) / 1000000 )) >> "$work/floor"
done
md=$(median < "$work/md"); json=$(median < "$work/json"); html=$(median < "$work/html"); floor=$(median < "$work/floor")
rows=$(sqlite3 "$work/state.db" "SELECT (SELECT COUNT(*) FROM deployments) + (SELECT COUNT(*) FROM backups) + (SELECT COUNT(*) FROM verifications) + (SELECT COUNT(*) FROM smoke_runs) + (SELECT COUNT(*) FROM notes)")
printf 'ledger events: %d; report: %d lines of Markdown\n' "$rows" "$(wc -l < "$work/out.md")"
printf 'opsctl handoff (markdown)  median %4d ms  (target < 200 ms: %.2fx of the target)\n' "$md" "$(awk -v m="$md" 'BEGIN { print m / 200 }')"
printf 'opsctl handoff (json)      median %4d ms  (%.2fx of the target)\n' "$json" "$(awk -v m="$json" 'BEGIN { print m / 200 }')"
printf 'opsctl handoff (html)      median %4d ms  (%.2fx of the target; %d KiB, %d timeline marks and clusters for %d events)\n' "$html" \
    "$(awk -v m="$html" 'BEGIN { print m / 200 }')" "$(( $(wc -c < "$work/out.html") / 1024 ))" \
    "$(grep -Eo '<g class="(mark|cluster) ' "$work/out.html" | wc -l)" "$rows"
printf 'sqlite3 counting the rows  median %4d ms (floor: process start + reading the ledger)\n' "$floor"
