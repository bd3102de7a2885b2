#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Builds the sample app image: build.sh VERSION [BEHAVIOUR] [SLOW_SECONDS]
#   -> opsctl-sample:VERSION  (BEHAVIOUR: healthy | unhealthy | crash | slow | flapping | no-security-header | ignore-sigterm
#   | broken-path: GET /api/items answers 500, /health stays green
#   | slow-responses: GET /api/items takes SLOW_SECONDS (fractions allowed), /health stays fast
#   | some-errors: GET /api/items answers 500 to one request in a hundred, /health stays green)
#   SLOW_SECONDS: the start-up delay of `slow`, the per-request delay of `slow-responses`
# The base image opsctl-busybox:latest is made once from the host's busybox-static with `docker import`
# (no registry is reachable here). An existing tag is rebuilt when the fixture's files changed (the
# image carries their hash in the label opsctl.fixture) or with REBUILD=1. IMAGE overrides the repository.
set -euo pipefail
version=${1:?usage: build.sh VERSION [BEHAVIOUR] [SLOW_SECONDS]}
behaviour=${2:-healthy}
slow_seconds=${3:-5}
image=${IMAGE:-opsctl-sample}
here=$(cd "$(dirname "$0")" && pwd)
fixture=$(cd "$here" && cat Dockerfile app/* | sha256sum | cut -c1-12)

case "$behaviour" in
    healthy|unhealthy|crash|slow|flapping|no-security-header|ignore-sigterm|broken-path|slow-responses|some-errors) ;;
    *) echo "build.sh: unknown behaviour '$behaviour'" >&2; exit 64 ;;
esac

if ! docker image inspect opsctl-busybox:latest >/dev/null 2>&1; then
    busybox=/bin/busybox   # Debian's busybox-static: no shared libraries to copy
    rootfs=$(mktemp -d)
    trap 'rm -rf "$rootfs"' EXIT
    mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/app/data"
    cp "$busybox" "$rootfs/bin/busybox"
    for applet in $("$rootfs/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
    done
    chmod 1777 "$rootfs/tmp"
    echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
    echo 'root:x:0:' > "$rootfs/etc/group"
    tar -C "$rootfs" -c . | docker import --change 'ENV PATH=/bin' - opsctl-busybox:latest >/dev/null
    echo "build.sh: imported opsctl-busybox:latest" >&2
fi

existing=$(docker image inspect --format '{{index .Config.Labels "opsctl.fixture"}}' "$image:$version" 2>/dev/null || true)
if [ "${REBUILD:-0}" != 1 ] && [ "$existing" = "$fixture" ]; then
    echo "build.sh: $image:$version exists" >&2
    exit 0
fi
# The legacy builder needs no buildx plugin and no registry.
build_log=$(mktemp)
if ! DOCKER_BUILDKIT=0 docker build --quiet \
    --build-arg "VERSION=$version" --build-arg "BEHAVIOUR=$behaviour" --build-arg "SLOW_SECONDS=$slow_seconds" --label "opsctl.fixture=$fixture" \
    -t "$image:$version" "$here" >"$build_log" 2>&1; then
    cat "$build_log" >&2
    rm -f "$build_log"
    exit 1
fi
rm -f "$build_log"
echo "build.sh: built $image:$version ($behaviour)" >&2
