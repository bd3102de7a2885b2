#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Database maintenance benchmark (opsctl db), side by side in one run, on a generated database of
# SIZE_MB (default 210) MB with a third of its rows deleted (whole pages free), while a writer
# commits a row every 5 ms (Tests/Fixtures/db/writer.py, the app):
#   optimize: the writer's p99 commit latency during `opsctl db ENV optimize` (and --full) vs its p99 without
#   vacuum:   the same during `opsctl db ENV vacuum` (auto_vacuum=incremental: batches while the app runs),
#             and the space it gave back; the peer, a plain `sqlite3 DB VACUUM` under the same writer
#   swap:     with the app stopped (auto_vacuum=none): `opsctl db ENV vacuum` (VACUUM INTO, integrity_check,
#             safety copy, swap) vs `sqlite3 DB VACUUM`, time and space
# Target: p99 during optimize and during vacuum <= 1.5x the p99 without. Latencies of RUNS (default 3)
# runs are pooled per row, each run on a fresh copy of the same prepared file.
set -euo pipefail
source "$(dirname "$0")/common.sh"
size_mb=${SIZE_MB:-210}
runs=${RUNS:-3}
work=${BENCH_DIR:-/tmp/opsctl-bench}/db
mkdir -p "$work"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
size() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# Two prepared files, made once: the same data and deletions, auto_vacuum incremental and none.
prepare() { # file auto_vacuum
    [ -f "$1" ] && return
    rm -f "$work/base.db" "$work/base.db-wal" "$work/base.db-shm"
    python3 "$root/Tests/Fixtures/db/generate.py" "$work/base.db" "$size_mb" >&2
    sqlite3 "$work/base.db" "PRAGMA journal_mode=DELETE; PRAGMA auto_vacuum=$2; VACUUM;
        DELETE FROM sessions WHERE id <= (SELECT max(id) / 3 FROM sessions);
        DELETE FROM attachments WHERE session_id <= (SELECT max(id) / 3 FROM sessions);
        PRAGMA journal_mode=WAL;" > /dev/null
    mv "$work/base.db" "$1"
}
prepare "$work/incremental.db" INCREMENTAL
prepare "$work/none.db" NONE

db="$work/live.db"
fresh() { # prepared file: a copy as the live database, page cache warm
    rm -f "$db" "$db-wal" "$db-shm"
    cp "$1" "$db"
    cat "$db" > /dev/null
}
cat > "$work/opsctl.yml" <<YAML
app: bench
image: bench
state: $work/state.db
environments:
  bench:
    database: {path: $db}
    backup: {dir: $work/backups, name: bench}
YAML
ops() { "$opsctl" --config "$work/opsctl.yml" "$@"; }

writer_pid=
writer_start() { # latency file
    python3 "$root/Tests/Fixtures/db/writer.py" "$db" --interval-ms 5 --seconds 600 --latencies "$1" > /dev/null 2> "$1.err" &
    writer_pid=$!
    sleep 1
}
busy_report=""
writer_stop() { # latency file label: stops it (in this shell: wait needs its parent), notes its busy/error counts
    kill -TERM "$writer_pid"; wait "$writer_pid" || true
    busy_report+="$2: $(grep -h '^busy' "$1.err" || echo 'no report'); "
}
# The p99 (nearest rank: with under 100 commits, the worst one), the worst and the count of the
# commits that started inside the windows, `file from to` lines on stdin.
p99_of_windows() {
    while read -r file from to; do awk -v f="$from" -v t="$to" '$1 >= f && $1 <= t { print $2 }' "$file"; done | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan nan 0"; exit } i = int(NR * 0.99); if (i < NR * 0.99) i++; printf "%.2f %.2f %d\n", v[i], v[NR], NR }'
}

echo "database: $(mib "$(size "$work/incremental.db")") after deleting a third of the rows ($(sqlite3 "$work/incremental.db" 'PRAGMA freelist_count') free pages),"
echo "          $(nproc) cores, a writer committing every 5 ms, $runs runs per row pooled"

: > "$work/windows.base"; : > "$work/windows.optimize"; : > "$work/windows.full"; : > "$work/windows.vacuum"; : > "$work/windows.peer"
reclaimed_opsctl=(); reclaimed_peer=(); vacuum_times=(); peer_times=()
for run in $(seq "$runs"); do
    # Without maintenance: the same file, the same writer, for 10 s.
    fresh "$work/incremental.db"; writer_start "$work/base.$run.lat"
    start=$(now); sleep 10; end=$(now)
    writer_stop "$work/base.$run.lat" base
    echo "$work/base.$run.lat $start $end" >> "$work/windows.base"

    fresh "$work/incremental.db"; writer_start "$work/opt.$run.lat"
    start=$(now); ops db bench optimize -q > /dev/null; end=$(now)
    echo "$work/opt.$run.lat $start $end" >> "$work/windows.optimize"
    start=$(now); ops db bench optimize --full -q > /dev/null; end=$(now)
    echo "$work/opt.$run.lat $start $end" >> "$work/windows.full"
    writer_stop "$work/opt.$run.lat" optimize

    fresh "$work/incremental.db"; writer_start "$work/vac.$run.lat"
    start=$(now); ops --json db bench vacuum > "$work/vacuum.json"; end=$(now)
    writer_stop "$work/vac.$run.lat" vacuum
    echo "$work/vac.$run.lat $start $end" >> "$work/windows.vacuum"
    reclaimed_opsctl+=("$(jq .reclaimed_bytes "$work/vacuum.json")"); vacuum_times+=("$(elapsed "$start" "$end")")

    fresh "$work/incremental.db"; before=$(size "$db"); writer_start "$work/peer.$run.lat"
    start=$(now); sqlite3 "$db" "PRAGMA busy_timeout=60000; VACUUM;" > /dev/null; end=$(now)
    writer_stop "$work/peer.$run.lat" peer
    echo "$work/peer.$run.lat $start $end" >> "$work/windows.peer"
    sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
    reclaimed_peer+=("$((before - $(size "$db")))"); peer_times+=("$(elapsed "$start" "$end")")
done

read -r base_p99 base_max base_n < <(p99_of_windows < "$work/windows.base")
row() { # label windows-file
    local p99 max n
    read -r p99 max n < <(p99_of_windows < "$2")
    awk -v l="$1" -v p="$p99" -v m="$max" -v n="$n" -v b="$base_p99" \
        'BEGIN { printf "%-38s p99 %8.2f ms, worst %8.2f ms (%5d commits)  p99 ratio %6.2f\n", l, p, m, n, p / b }'
}
printf "%-38s p99 %8.2f ms, worst %8.2f ms (%5d commits)\n" "writer alone" "$base_p99" "$base_max" "$base_n"
row "during opsctl db optimize" "$work/windows.optimize"
row "during opsctl db optimize --full" "$work/windows.full"
row "during opsctl db vacuum (incremental)" "$work/windows.vacuum"
row "during sqlite3 VACUUM (the peer)" "$work/windows.peer"
echo "target: ratio <= 1.5 for opsctl's rows"
echo "vacuum under the writer: opsctl $(printf '%s\n' "${vacuum_times[@]}" | median) s, reclaimed $(mib "$(printf '%s\n' "${reclaimed_opsctl[@]}" | median)");" \
     "sqlite3 VACUUM $(printf '%s\n' "${peer_times[@]}" | median) s, reclaimed $(mib "$(printf '%s\n' "${reclaimed_peer[@]}" | median)") (medians)"
echo "writer errors: $busy_report"

# The app stopped, auto_vacuum=none: opsctl swaps a vacuumed copy in; the peer vacuums in place.
swap_times=(); swap_reclaimed=(); plain_times=(); plain_reclaimed=()
for _ in $(seq "$runs"); do
    fresh "$work/none.db"; rm -rf "$work/backups"
    start=$(now); ops --json db bench vacuum > "$work/vacuum.json"; end=$(now)
    swap_times+=("$(elapsed "$start" "$end")"); swap_reclaimed+=("$(jq .reclaimed_bytes "$work/vacuum.json")")
    fresh "$work/none.db"; before=$(size "$db")
    start=$(now); sqlite3 "$db" "VACUUM;"; end=$(now)
    plain_times+=("$(elapsed "$start" "$end")"); plain_reclaimed+=("$((before - $(size "$db")))")
done
echo "app stopped (auto_vacuum=none): opsctl db vacuum (VACUUM INTO, integrity_check, safety copy, swap) $(printf '%s\n' "${swap_times[@]}" | median) s," \
     "reclaimed $(mib "$(printf '%s\n' "${swap_reclaimed[@]}" | median)") | sqlite3 VACUUM $(printf '%s\n' "${plain_times[@]}" | median) s," \
     "reclaimed $(mib "$(printf '%s\n' "${plain_reclaimed[@]}" | median)")"
rm -rf "$db" "$db-wal" "$db-shm" "$work"/*.lat "$work"/*.err "$work"/windows.* "$work/vacuum.json" "$work/backups" "$work/state.db"*
