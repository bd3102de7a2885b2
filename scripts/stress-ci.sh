#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# The whole test suite on a busy machine: `make test` twice in a row while stress-ng keeps every
# core busy. No test may depend on how fast the machine is; this is the proof that none does.
#
#   bash scripts/stress-ci.sh            # RUNS=2 by default; STRESS_WORKERS defaults to the core count
#
# Prints each run's wall time and exit status; exits non-zero when any run failed. Each run's
# full output is kept in $LOGS (default /tmp/opsctl-stress-ci).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${RUNS:-2}
workers=${STRESS_WORKERS:-$(nproc)}
logs=${LOGS:-/tmp/opsctl-stress-ci}
mkdir -p "$logs"

bash scripts/setup.sh   # installs stress-ng among the rest
command -v stress-ng >/dev/null || { echo "stress-ci: stress-ng is missing (scripts/setup.sh installs it)" >&2; exit 69; }

# --cpu N: N workers spinning on CPU-bound methods, one per core; nice 0 like the suite, so they
# compete for every cycle. Stopped on exit whatever happens.
stress-ng --cpu "$workers" --cpu-method all --timeout 0 --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null' EXIT
sleep 1
kill -0 "$stress" 2>/dev/null || { echo "stress-ci: stress-ng did not start" >&2; exit 70; }

failed=0
for run in $(seq "$runs"); do
    started=$(date +%s)
    CI=true make test > "$logs/run-$run.log" 2>&1
    status=$?
    took=$(( $(date +%s) - started ))
    summary=$(grep -E '^(✔|✘) Test run with' "$logs/run-$run.log" | tail -n 2 | tr '\n' ' ')
    printf 'stress-ci: run %d of %d under %d stress-ng CPU workers: exit %d in %dm %02ds  %s\n' \
        "$run" "$runs" "$workers" "$status" $((took / 60)) $((took % 60)) "$summary"
    if [ "$status" -ne 0 ]; then
        failed=1
        grep -E '^✘' "$logs/run-$run.log" | head -n 40 >&2
    fi
done
exit "$failed"
