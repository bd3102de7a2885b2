#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Start-up time and size of opsctl: `opsctl --help` and `opsctl config check` on the template
# config, for the dynamic release build (.build/release: needs the Swift runtime's shared
# libraries on the host) next to the static build `make install` and `make deb` ship
# (.build-static, stripped as installed). Target: median <= 50 ms each. Prints median and p90
# over RUNS runs, with `/bin/true` as the process-spawn floor measured in the same run.
set -euo pipefail
source "$(dirname "$0")/common.sh"
runs=${RUNS:-40}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
static_build=${OPSCTL_STATIC_BINARY:-$root/.build-static/release/opsctl}
[ -x "$static_build" ] || bash "$root/scripts/build-static.sh" >&2
# Both stripped as `make install` strips, so sizes and start-up compare like for like.
dynamic="$work/opsctl-dynamic"
static="$work/opsctl-static"
cp "$opsctl" "$dynamic"
cp "$static_build" "$static"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$dynamic" "$static"
"$dynamic" init --dir "$work" >/dev/null

mib() { awk -v bytes="$1" 'BEGIN { printf "%.1f MiB", bytes / 1048576 }'; }
bytes() { stat -c %s "$@" | awk '{ total += $1 } END { print total + 0 }'; }

measure() { # command... → prints "median p90" in ms
    "$@" >/dev/null 2>&1 || true   # warm the page cache
    local samples=()
    for _ in $(seq "$runs"); do
        local start end
        start=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        end=$(date +%s%N)
        samples+=($(( (end - start) / 1000 )))
    done
    printf '%s\n' "${samples[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f %.2f\n", v[int((NR + 1) / 2)] / 1000, v[int(NR * 0.9)] / 1000 }'
}

row() { # label median p90
    awk -v label="$1" -v median="$2" -v p90="$3" -v target=50 'BEGIN {
        printf "%-34s median %7.2f ms   p90 %7.2f ms   target %d ms   median/target %.2f\n", label, median, p90, target, median / target }'
}

echo "opsctl start-up and size, release builds, $runs runs each ($(nproc) cores)"
# What a host must carry for each: the dynamic build needs the toolchain's runtime libraries.
runtime=$(ldd "$dynamic" | awk '$3 ~ /^\// { print $3 }' | grep -E '/(libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime)' || true)
runtime_count=$(printf '%s' "$runtime" | grep -c . || true)
dynamic_bytes=$(bytes "$dynamic")
runtime_bytes=$( [ -n "$runtime" ] && bytes $runtime || echo 0)
static_bytes=$(bytes "$static")
printf 'size (stripped): dynamic %s + Swift runtime %s (%d shared libraries) = %s;  static %s;  static/dynamic-with-runtime %.2f\n' \
    "$(mib "$dynamic_bytes")" "$(mib "$runtime_bytes")" "$runtime_count" "$(mib $((dynamic_bytes + runtime_bytes)))" \
    "$(mib "$static_bytes")" "$(awk -v s="$static_bytes" -v d="$((dynamic_bytes + runtime_bytes))" 'BEGIN { print s / d }')"
printf 'libswift in ldd of the static binary: %s\n' "$(ldd "$static" | grep -c libswift || true)"

read -r floor_median floor_p90 < <(measure /bin/true)
row "/bin/true (floor)" "$floor_median" "$floor_p90"
for label_command in "--help|--help" "config check|--config $work/opsctl.yml config check"; do
    label=${label_command%%|*}
    read -ra arguments <<< "${label_command#*|}"
    read -r dynamic_median dynamic_p90 < <(measure "$dynamic" "${arguments[@]}")
    read -r static_median static_p90 < <(measure "$static" "${arguments[@]}")
    row "opsctl $label (dynamic)" "$dynamic_median" "$dynamic_p90"
    row "opsctl $label (static)" "$static_median" "$static_p90"
    awk -v s="$static_median" -v d="$dynamic_median" -v label="$label" 'BEGIN { printf "  %s: static/dynamic median %.2f\n", label, s / d }'
done
