#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Verify and restore benchmark (issue 4), side by side in one run, page cache warm, on the
# backup of a generated >= 200 MB database:
#   opsctl verify --file X          vs  gzip -t X && gunzip -c X > t.db && sqlite3 t.db "PRAGMA quick_check"   (target <= 0.7x)
#   opsctl verify --file X --deep   vs  the same chain with integrity_check                              (target <= 0.8x)
#   opsctl restore --to             vs  gunzip -c X > t.db alone                                         (target <= 1.2x)
set -euo pipefail
source "$(dirname "$0")/common.sh"
size_mb=${SIZE_MB:-210}
runs=${RUNS:-3}
work=${BENCH_DIR:-/tmp/opsctl-bench-verify}
mkdir -p "$work"
db="$work/bench.db"
[ -f "$db" ] || python3 "$root/Tests/Fixtures/db/generate.py" "$db" "$size_mb" >&2
rm -rf "$work/backups"
"$opsctl" backup --db "$db" --dir "$work/backups" --name bench -q > /dev/null
backup=$(ls "$work"/backups/bench_*.db.gz | head -1)
cat "$backup" > /dev/null

cat > "$work/opsctl.yml" <<YAML
app: bench
image: bench
state: state.db
environments:
  bench:
    database: {path: live.db}
    backup: {dir: backups, name: bench}
YAML

now() { date +%s.%N; }
median_of() { # command... -> median seconds over $runs
    local samples=()
    for _ in $(seq "$runs"); do
        local start end
        start=$(now); "$@" > /dev/null; end=$(now)
        samples+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')")
    done
    printf '%s\n' "${samples[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
chain() { gzip -t "$backup" && gunzip -c "$backup" > "$work/t.db" && sqlite3 "$work/t.db" "PRAGMA $1" > /dev/null; rm -f "$work/t.db"; }
restore_to() { rm -f "$work/drill.db"; "$opsctl" --config "$work/opsctl.yml" restore bench "$(basename "$backup")" --to "$work/drill.db" -q; }
gunzip_only() { gunzip -c "$backup" > "$work/t.db"; rm -f "$work/t.db"; }

echo "backup: $(du -m "$backup" | cut -f1) MB of a $(du -m "$db" | cut -f1) MB database, median of $runs runs"
quick=$(median_of "$opsctl" verify --file "$backup")
quick_chain=$(median_of chain quick_check)
deep=$(median_of "$opsctl" verify --file "$backup" --deep)
deep_chain=$(median_of chain integrity_check)
restore=$(median_of restore_to)
gunzip_time=$(median_of gunzip_only)
awk -v q="$quick" -v qc="$quick_chain" -v d="$deep" -v dc="$deep_chain" -v r="$restore" -v g="$gunzip_time" 'BEGIN {
    printf "verify          opsctl %6.2f s | gzip -t + gunzip + quick_check     %6.2f s | ratio %.2f (target <= 0.7)\n", q, qc, q / qc
    printf "verify --deep   opsctl %6.2f s | gzip -t + gunzip + integrity_check %6.2f s | ratio %.2f (target <= 0.8)\n", d, dc, d / dc
    printf "restore --to    opsctl %6.2f s | gunzip -c alone                    %6.2f s | ratio %.2f (target <= 1.2)\n", r, g, r / g }'
rm -f "$work/drill.db" "$work/t.db"
