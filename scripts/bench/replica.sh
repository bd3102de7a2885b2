#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Continuous replication benchmark, side by side in one run, on a generated database of SIZE_MB
# (default 200) MB written by Tests/Fixtures/db/writer.py every 5 ms with SQLite's own
# auto-checkpoint (the WAL resets every ~1,000 pages, as in a real app):
#   p99:     the writer's p99 commit latency with `opsctl replicate` running vs without it
#            (P99_SECONDS each, default 30); the replication lag of every commit: from its COMMIT
#            to the end of the round that made it durable in the replica, p50 and p99.
#   history: HISTORY_SECONDS (default 3600: one hour) of writes replicated every 1 s; the bytes the
#            replica stored for the first 600 s of them vs what hourly snapshot backups store for
#            the same 10 minutes (one `opsctl backup` of the database: the next hourly run copies it
#            whole); then `restore --at latest` of the whole hour vs a plain `gunzip -c` of one
#            snapshot backup of the same database.
# Targets: p99 with <= 1.5x without; lag p99 <= 1.5 s; storage >= 10x smaller; restore <= 30 s.
# Litestream, the peer the targets come from, is not built here (Go modules cannot be fetched),
# so the baselines are the app alone, the hourly backup and gunzip.
# BENCH_PART=p99 or BENCH_PART=history runs one part.
set -euo pipefail
source "$(dirname "$0")/common.sh"
size_mb=${SIZE_MB:-200}
p99_seconds=${P99_SECONDS:-30}
history_seconds=${HISTORY_SECONDS:-3600}
part=${BENCH_PART:-all}
work=${BENCH_DIR:-/tmp/opsctl-bench-replica}
writer="$root/Tests/Fixtures/db/writer.py"
mkdir -p "$work"
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT

fresh_database() { # a generated database of SIZE_MB, reused across runs of that size, copied fresh
    base="$work/base-${size_mb}mb.db"
    if [ ! -f "$base" ]; then python3 "$root/Tests/Fixtures/db/generate.py" "$base" "$size_mb" >&2; fi
    rm -rf "$work/env"; mkdir -p "$work/env/data"
    cp "$base" "$work/env/data/app.db"
    cat > "$work/env/opsctl.yml" <<EOF
app: bench
image: bench
state: state.db
environments:
  production:
    database: {path: data/app.db}
    backup:
      dir: backups
      replica: {sync_interval: 1s}
EOF
    cat "$work/env/data/app.db" > /dev/null
}

replicate_in_background() { # -> its pid in $replicator
    (cd "$work/env" && exec "$opsctl" replicate production -q --trace "$work/env/trace.jsonl" > /dev/null) &
    replicator=$!; pids+=("$replicator")
    while [ ! -s "$work/env/backups/replica/replicate.json" ]; do sleep 0.2; done   # the first snapshot is written
}

p99_of() { awk '{ print $2 }' "$1" | sort -n | awk '{ v[NR] = $1 } END { print v[int(NR * 0.99)] }'; }

# Per commit: the end of the first round whose cut is at or after the commit's logged time.
lag_percentiles() { # commits trace -> "p50 p99" in seconds
    python3 - "$1" "$2" <<'PY'
import json, sys, bisect
commits = [float(line.split()[1]) for line in open(sys.argv[1])]
rounds = sorted((r["cut"], r["durable"]) for r in map(json.loads, open(sys.argv[2])))
cuts = [c for c, _ in rounds]
lags = []
for t in commits:
    i = bisect.bisect_left(cuts, t)
    if i < len(rounds): lags.append(rounds[i][1] - t)
lags.sort()
print(f"{lags[len(lags) // 2]:.3f} {lags[int(len(lags) * 0.99)]:.3f} {len(lags)}/{len(commits)}")
PY
}

if [ "$part" = all ] || [ "$part" = p99 ]; then
    fresh_database
    echo "database: $(du -m "$work/env/data/app.db" | cut -f1) MB, writer every 5 ms, $(nproc) cores, ${p99_seconds} s each"
    python3 "$writer" "$work/env/data/app.db" --interval-ms 5 --seconds "$p99_seconds" --latencies "$work/alone.lat" > /dev/null 2>&1
    replicate_in_background
    rm -f "$work/with.commits"   # the writer appends to its commit log
    python3 "$writer" "$work/env/data/app.db" --interval-ms 5 --seconds "$p99_seconds" --latencies "$work/with.lat" \
        --commits "$work/with.commits" > /dev/null 2> "$work/with.err"
    sleep 2; kill -TERM "$replicator"; wait "$replicator" || true
    alone=$(p99_of "$work/alone.lat"); with=$(p99_of "$work/with.lat")
    read -r lag50 lag99 counted < <(lag_percentiles "$work/with.commits" "$work/env/trace.jsonl")
    full=$(grep -c '"full_scan":true' "$work/env/trace.jsonl" || true); rounds=$(wc -l < "$work/env/trace.jsonl")
    awk -v a="$alone" -v w="$with" -v l5="$lag50" -v l9="$lag99" -v n="$counted" -v f="$full" -v r="$rounds" -v busy="$(tail -1 "$work/with.err")" 'BEGIN {
        printf "p99    writer p99 commit %.2f ms alone | %.2f ms with opsctl replicate   with/alone = %.2f (target <= 1.5)   writer: %s\n", a, w, w / a, busy
        printf "lag    commit -> durable in the replica: p50 %.3f s, p99 %.3f s (target p99 <= 1.5 s) over %s commits; %d of %d rounds compared every page (WAL reset by the app)\n", l5, l9, n, f, r }'
fi

if [ "$part" = all ] || [ "$part" = history ]; then
    fresh_database
    replicate_in_background
    started=$(date +%s.%N)
    python3 "$writer" "$work/env/data/app.db" --interval-ms 5 --seconds "$history_seconds" > /dev/null 2>&1
    sleep 2; kill -TERM "$replicator"; wait "$replicator" || true
    ten=$(awk -v s="$started" 'BEGIN { printf "%.3f", s + 600 }')
    segments=$(python3 -c "
import json, sys
print(sum(r['bytes'] for r in map(json.loads, open('$work/env/trace.jsonl')) if r['outcome'] != 'snapshot' and r['cut'] <= $ten))")
    (cd "$work/env" && "$opsctl" backup production -q > /dev/null)
    backup=$(ls "$work/env/backups"/bench_*.db.gz); backup_bytes=$(stat -c %s "$backup")
    points=$(find "$work/env/backups/replica" -name '*.segment.gz' | wc -l)
    start=$(date +%s.%N); (cd "$work/env" && "$opsctl" restore production --at latest --to "$work/restored.db" --force -q > /dev/null); end=$(date +%s.%N)
    restore=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'); rm -f "$work/restored.db"
    start=$(date +%s.%N); gunzip -c "$backup" > "$work/gunzipped.db"; end=$(date +%s.%N)
    gunzip_time=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'); rm -f "$work/gunzipped.db"
    awk -v s="$segments" -v b="$backup_bytes" -v p="$points" -v h="$history_seconds" -v r="$restore" -v g="$gunzip_time" 'BEGIN {
        printf "bytes  10 min of writes: replica segments %.2f MB | hourly snapshot backups %.2f MB (one backup)   backup/replica = %.1fx (target >= 10)\n", s / 1e6, b / 1e6, b / s
        printf "restore --at latest over %d segments (%d s of history): %.2f s (target <= 30 s) | gunzip -c of one snapshot backup %.2f s   restore/gunzip = %.2f\n", p, h, r, g, r / g }'
fi
