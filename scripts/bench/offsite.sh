#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Off-site benchmark, side by side in one run against the same local S3 server (moto,
# signatures enforced: Tests/Fixtures/s3/moto_server.py), page cache warm, on the backup (about
# 90 MB of .db.gz) of a generated SIZE_MB (default 215) MB database:
#   upload:  opsctl backup --offsite-only (list, hash, upload, HEAD, manifest, remote retention)
#            vs  aws s3 cp of the same file                                        (target <= 1.0x)
#   verify:  opsctl verify --remote --latest (streamed: gzip, sha256, quick_check)
#            vs  aws s3 cp + gunzip + sqlite3 "PRAGMA quick_check"                 (target <= 0.7x)
#   memory:  peak RSS of the opsctl upload, /usr/bin/time -v                       (target <= 64 MiB + part_size)
# Medians of RUNS (default 5), opsctl and awscli in alternating order. PART_SIZE sets backup.offsite.part_size
# (default: opsctl's own, 16MiB).
set -euo pipefail
source "$(dirname "$0")/common.sh"
size_mb=${SIZE_MB:-215}
runs=${RUNS:-5}
part_size=${PART_SIZE:-16MiB}
work=${BENCH_DIR:-/tmp/opsctl-bench-offsite}
venv=${OPSCTL_VENV:-/opt/opsctl-venv}
[ -x "$venv/bin/aws" ] || { echo "bench: moto and awscli are missing: run scripts/setup.sh" >&2; exit 69; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing: run scripts/setup.sh" >&2; exit 69; }
mkdir -p "$work"
db="$work/bench.db"
if [ ! -f "$db" ] || [ "$(stat -c %s "$db")" -lt $((size_mb * 1000 * 1000)) ]; then
    rm -f "$db" "$db-wal" "$db-shm"
    python3 "$root/Tests/Fixtures/db/generate.py" "$db" "$size_mb" >&2
fi

# --- the server, stopped by its pid when the script ends --------------------------------------
INITIAL_NO_AUTH_ACTION_COUNT=3 "$venv/bin/python3" "$root/Tests/Fixtures/s3/moto_server.py" > "$work/moto.out" 2> /dev/null &
moto_pid=$!
trap 'kill "$moto_pid" 2> /dev/null || true; wait "$moto_pid" 2> /dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^ready' "$work/moto.out" 2> /dev/null && break; sleep 0.1; done
port=$(awk '/^ready/ { print $2 }' "$work/moto.out")
[ -n "$port" ] || { echo "bench: the S3 server did not start" >&2; exit 69; }
endpoint="http://127.0.0.1:$port"
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
anonymous() { AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap "$venv/bin/aws" --endpoint-url "$endpoint" "$@"; }
anonymous iam create-user --user-name bench > /dev/null
anonymous iam put-user-policy --user-name bench --policy-name s3 \
    --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
key=$(anonymous iam create-access-key --user-name bench --output json)
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
AWS_ACCESS_KEY_ID=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["AccessKey"]["AccessKeyId"])' <<< "$key")
AWS_SECRET_ACCESS_KEY=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["AccessKey"]["SecretAccessKey"])' <<< "$key")
aws() { "$venv/bin/aws" --endpoint-url "$endpoint" "$@"; }
aws s3 mb s3://bench > /dev/null

# --- one local backup, the file both tools send ------------------------------------------------
(umask 077; printf '%s' "$AWS_SECRET_ACCESS_KEY" > "$work/s3-secret")
cat > "$work/opsctl.yml" <<YAML
app: bench
image: bench
state: state.db
environments:
  bench:
    database: {path: $db}
    backup:
      dir: backups
      name: bench
      offsite:
        url: s3://bench/opsctl/
        endpoint: $endpoint
        access_key_id: \${AWS_ACCESS_KEY_ID}
        secret_access_key_file: s3-secret
        part_size: $part_size
YAML
rm -rf "$work/backups" "$work/state.db"*
"$opsctl" --config "$work/opsctl.yml" backup bench --no-offsite -q > /dev/null
backup=$(ls "$work"/backups/bench_*.db.gz | head -1)
file=$(basename "$backup")
cat "$backup" > /dev/null

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
upload_opsctl() { /usr/bin/time -v -o "$work/time.txt" "$opsctl" --config "$work/opsctl.yml" backup bench --offsite-only -q > /dev/null; }
upload_awscli() { aws s3 cp "$backup" "s3://bench/awscli/$file" --quiet; }
verify_opsctl() { "$opsctl" --config "$work/opsctl.yml" verify bench --remote --latest -q > /dev/null; }
verify_chain() {
    aws s3 cp "s3://bench/opsctl/$file" "$work/t.db.gz" --quiet && gunzip -f "$work/t.db.gz" \
        && sqlite3 "$work/t.db" "PRAGMA quick_check" > /dev/null
    rm -f "$work/t.db" "$work/t.db.gz"
}

opsctl_up=(); awscli_up=(); peak=(); opsctl_verify=(); chain_verify=()
measure_upload_opsctl() {
    start=$(now); upload_opsctl; end=$(now); opsctl_up+=("$(elapsed "$start" "$end")")
    peak+=("$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")")
}
measure_upload_awscli() { start=$(now); upload_awscli; end=$(now); awscli_up+=("$(elapsed "$start" "$end")"); }
measure_verify_opsctl() { start=$(now); verify_opsctl; end=$(now); opsctl_verify+=("$(elapsed "$start" "$end")"); }
measure_verify_chain() { start=$(now); verify_chain; end=$(now); chain_verify+=("$(elapsed "$start" "$end")"); }
for run in $(seq "$runs"); do
    # Each upload starts from an empty prefix, so opsctl's catch-up really uploads. The order
    # alternates, so a load that comes and goes on a shared machine favours neither side.
    aws s3 rm --recursive --quiet s3://bench/opsctl/
    aws s3 rm --recursive --quiet s3://bench/awscli/
    if [ $((run % 2)) = 1 ]; then
        measure_upload_opsctl; measure_upload_awscli; measure_verify_opsctl; measure_verify_chain
    else
        measure_upload_awscli; measure_upload_opsctl; measure_verify_chain; measure_verify_opsctl
    fi
done
# The copies both tools sent are the same bytes.
[ "$(aws s3api head-object --bucket bench --key "opsctl/$file" --query ContentLength)" = "$(stat -c %s "$backup")" ]

up=$(printf '%s\n' "${opsctl_up[@]}" | median); up_aws=$(printf '%s\n' "${awscli_up[@]}" | median)
verify=$(printf '%s\n' "${opsctl_verify[@]}" | median); chain=$(printf '%s\n' "${chain_verify[@]}" | median)
peak_kib=$(printf '%s\n' "${peak[@]}" | sort -n | tail -1)
part_bytes=$(numfmt --from=iec-i "${part_size%B}")
echo "backup: $(du -m "$backup" | cut -f1) MB ($file) of a $(du -m "$db" | cut -f1) MB database; $(nproc) cores; moto on $endpoint; median of $runs runs; part_size $part_size"
awk -v o="$up" -v a="$up_aws" -v v="$verify" -v c="$chain" -v p="$peak_kib" -v part="$part_bytes" 'BEGIN {
    printf "upload          opsctl %6.2f s | aws s3 cp                          %6.2f s | ratio %.2f (target <= 1.0)\n", o, a, o / a
    printf "verify --remote opsctl %6.2f s | aws s3 cp + gunzip + quick_check   %6.2f s | ratio %.2f (target <= 0.7)\n", v, c, v / c
    printf "upload peak RSS %.1f MiB (max of %d runs) | target <= 64 MiB + part_size = %.0f MiB\n", p / 1024, '"$runs"', 64 + part / 1048576 }'
