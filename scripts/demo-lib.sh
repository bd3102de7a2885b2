# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Sourced by scripts/demo.sh (and by its test): every step announces the exit code it expects,
# and the demo stops, loudly, the moment a step does anything else. Needs $opsctl.

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The demo cannot go on: say why on stderr and stop with exit 1.
fail() {
    printf '\033[31mdemo FAILED: %s\033[0m\n' "$*" >&2
    exit 1
}

# expect CODE ARGS...: runs `opsctl ARGS...`; anything but exit CODE fails the demo.
expect() {
    local want=$1 got=0
    shift
    printf '$ opsctl %s\n' "$*"
    "$opsctl" "$@" || got=$?
    [ "$got" -eq "$want" ] || fail "\`opsctl $*\` exited $got; this step announces exit $want"
    if [ "$want" -ne 0 ]; then printf '(exit %s, as announced)\n' "$got"; fi
}

# run ARGS...: a step that must succeed.
run() { expect 0 "$@"; }
