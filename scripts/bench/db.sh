#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Database maintenance benchmark (opsctl db), side by side in one run, on a generated database of
# SIZE_MB (default 210) MB with a third of its rows deleted (whole pages free), while a writer
# commits a row every 5 ms (Tests/Fixtures/db/writer.py, the app):
#   control:  the same for `opsctl version` run again and again: what starting a process costs the writer here
#   optimize: the writer's p99 commit latency during `opsctl db ENV optimize` (and --full) vs its p99 without
#             (the 5 s before and after the command in the same run: the same load on the machine; a
#             short command runs again and again for 8 s, so that enough commits meet it)
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
reclaimed_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["reclaimed_bytes"])' "$1"; }   # a vacuum's --json report

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
fresh() { # prepared file: a copy as the live database, page cache warm, nothing left to write back
    rm -f "$db" "$db-wal" "$db-shm"
    cp "$1" "$db"
    cat "$db" > /dev/null
    sync   # else the copy's writeback stalls the writer's fsyncs in whichever window comes first
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

# One row: a fresh copy, the writer, 5 s alone, the command (again and again, each time from the
# same state, until SECONDS have passed: a short command alone would meet a handful of commits),
# 5 s alone again. The writer's commits before and after are the row's "alone": the same run, the
# same load on the machine.
measure() { # row seconds reset command...
    local row=$1 seconds=$2 reset=$3 lat="$work/$1.$run.lat" b0 first start end b1
    shift 3
    fresh "$work/incremental.db"; writer_start "$lat"
    b0=$(now); sleep 5; first=$(now)
    while :; do
        $reset
        start=$(now); "$@"; end=$(now)
        echo "$lat $start $end" >> "$work/windows.$row"
        elapsed "$start" "$end" >> "$work/times.$row"; echo >> "$work/times.$row"
        awk -v f="$first" -v e="$end" -v s="$seconds" 'BEGIN { exit !(e - f < s) }' || break
    done
    sleep 5; b1=$(now)
    writer_stop "$lat" "$row"
    printf '%s %s %s\n%s %s %s\n' "$lat" "$b0" "$first" "$lat" "$end" "$b1" >> "$work/windows.$row.alone"
}
no_reset() { :; }
drop_statistics() { sqlite3 "$db" "DELETE FROM sqlite_stat1" > /dev/null 2>&1 || true; }   # optimize finds them missing each time
opsctl_version() { "$opsctl" version > /dev/null; }
opsctl_optimize() { ops db bench optimize -q > /dev/null; }
opsctl_full() { ops db bench optimize --full -q > /dev/null; }
opsctl_vacuum() { ops --json db bench vacuum > "$work/vacuum.json"; reclaimed_of "$work/vacuum.json" >> "$work/reclaimed.vacuum"; }
sqlite3_vacuum() { sqlite3 "$db" "PRAGMA busy_timeout=60000; VACUUM;" > /dev/null; }

rm -f "$work"/windows.* "$work"/times.* "$work"/reclaimed.*
for run in $(seq "$runs"); do
    measure startup 8 no_reset opsctl_version
    measure optimize 8 drop_statistics opsctl_optimize
    measure full 8 no_reset opsctl_full
    measure vacuum 0 no_reset opsctl_vacuum
    measure peer 0 no_reset sqlite3_vacuum
    sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
    echo "$(( $(size "$work/incremental.db") - $(size "$db") ))" >> "$work/reclaimed.peer"
done

# The share of the commits in the windows on stdin that took longer than LIMIT ms.
share_over() { # limit
    while read -r file from to; do awk -v f="$from" -v t="$to" '$1 >= f && $1 <= t { print $2 }' "$file"; done |
        awk -v l="$1" '{ n++; if ($1 > l) s++ } END { printf "%.1f", n ? 100 * s / n : 0 }'
}
row() { # label row
    local p99 max n p99a maxa na
    read -r p99 max n < <(p99_of_windows < "$work/windows.$2")
    read -r p99a maxa na < <(p99_of_windows < "$work/windows.$2.alone")
    awk -v l="$1" -v p="$p99" -v m="$max" -v n="$n" -v a="$p99a" -v am="$maxa" -v an="$na" -v t="$(median < "$work/times.$2")" \
        -v o="$(share_over "$p99a" < "$work/windows.$2")" \
        'BEGIN { printf "%-30s %6.2f s  p99 %8.2f ms (worst %8.2f, %4d commits, %4.1f%% over p99 alone) vs %6.2f ms alone (worst %6.2f, %4d): ratio %6.2f\n", l, t, p, m, n, o, a, am, an, p / a }'
}
echo "row                            time     the writer's commits during the command vs 5 s before and after it in the same run"
row "opsctl version (control)" startup
row "opsctl db optimize" optimize
row "opsctl db optimize --full" full
row "opsctl db vacuum (incremental)" vacuum
row "sqlite3 VACUUM (the peer)" peer
echo "target: ratio <= 1.5 for opsctl's db rows; times are medians of single runs (version and optimize rows: run again and"
echo "again for 8 s; the control row is what starting a process that does nothing costs the writer on this machine)"
echo "space reclaimed under the writer: opsctl vacuum $(mib "$(median < "$work/reclaimed.vacuum")"), sqlite3 VACUUM $(mib "$(median < "$work/reclaimed.peer")") (medians)"
echo "writer errors: $busy_report"

# The app stopped, auto_vacuum=none: opsctl swaps a vacuumed copy in; the peer vacuums in place.
swap_times=(); swap_reclaimed=(); plain_times=(); plain_reclaimed=()
for _ in $(seq "$runs"); do
    fresh "$work/none.db"; rm -rf "$work/backups"
    start=$(now); ops --json db bench vacuum > "$work/vacuum.json"; end=$(now)
    swap_times+=("$(elapsed "$start" "$end")"); swap_reclaimed+=("$(reclaimed_of "$work/vacuum.json")")
    fresh "$work/none.db"; before=$(size "$db")
    start=$(now); sqlite3 "$db" "VACUUM;"; end=$(now)
    plain_times+=("$(elapsed "$start" "$end")"); plain_reclaimed+=("$((before - $(size "$db")))")
done
echo "app stopped (auto_vacuum=none): opsctl db vacuum (VACUUM INTO, integrity_check, safety copy, swap) $(printf '%s\n' "${swap_times[@]}" | median) s," \
     "reclaimed $(mib "$(printf '%s\n' "${swap_reclaimed[@]}" | median)") | sqlite3 VACUUM $(printf '%s\n' "${plain_times[@]}" | median) s," \
     "reclaimed $(mib "$(printf '%s\n' "${plain_reclaimed[@]}" | median)")"
rm -rf "$db" "$db-wal" "$db-shm" "$work"/*.lat "$work"/*.err "$work"/windows.* "$work"/times.* "$work"/reclaimed.* "$work/vacuum.json" "$work/backups" "$work/state.db"*
