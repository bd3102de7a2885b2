#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# make install / make uninstall. Installs the static release build (scripts/build-static.sh)
# under $DESTDIR$PREFIX:
#   bin/opsctl                                   stripped
#   share/man/man1/opsctl.1                      generated from the binary's own definitions
#   share/bash-completion/completions/opsctl     opsctl --generate-completion-script bash
#   share/zsh/site-functions/_opsctl             ... zsh
#   share/fish/vendor_completions.d/opsctl.fish  ... fish
#   share/doc/opsctl/                            README, runbooks/, docs/, examples/ (= templates/)
# The man page and completions come from the binary being installed, so they never drift
# from its --help. Usage: PREFIX=/usr/local DESTDIR= scripts/install.sh [--uninstall]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-/usr/local}
destdir=${DESTDIR:-}
scratch=${STATIC_BUILD_DIR:-$root/.build-static}
target="$destdir$prefix"
binary="$scratch/release/opsctl"
manual_tool="$scratch/release/generate-manual"

log() { printf 'install: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

installed_files=(bin/opsctl share/man/man1/opsctl.1 share/bash-completion/completions/opsctl
                 share/zsh/site-functions/_opsctl share/fish/vendor_completions.d/opsctl.fish)

if [ "${1:-}" = "--uninstall" ]; then
    for file in "${installed_files[@]}"; do rm -f "$target/$file"; done
    rm -rf "$target/share/doc/opsctl"
    log "removed opsctl from $target"
    exit 0
fi

[ -x "$binary" ] || die "$binary is missing: run \`make static\` (make install does) first"
[ -x "$manual_tool" ] || die "$manual_tool is missing: run \`make static\` first"
case "$prefix" in /*) ;; *) die "PREFIX must be an absolute path, not '$prefix'" ;; esac

# Everything is assembled in a staging folder first: a failure half-way leaves $target as it was.
stage=$(mktemp -d "${TMPDIR:-/tmp}/opsctl-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT

install -d "$stage/bin" "$stage/share/man/man1" "$stage/share/bash-completion/completions" \
    "$stage/share/zsh/site-functions" "$stage/share/fish/vendor_completions.d" "$stage/share/doc/opsctl"
install -m 0755 "$binary" "$stage/bin/opsctl"
# What Debian's dh_strip removes: symbols and notes nobody reads on a production host.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/bin/opsctl"

# The page's date is the commit's, so two builds of one commit give the same page.
date=$(git -C "$root" log -1 --format=%cs 2>/dev/null || date -u +%Y-%m-%d)
"$manual_tool" "$stage/bin/opsctl" --date "$date" --section 1 --output-directory "$stage/share/man/man1" >/dev/null
[ -s "$stage/share/man/man1/opsctl.1" ] || die "generate-manual wrote no opsctl.1"

# bash-completion sources the file: a #! line would only mislead.
"$stage/bin/opsctl" --generate-completion-script bash | sed '1{/^#!/d}' > "$stage/share/bash-completion/completions/opsctl"
"$stage/bin/opsctl" --generate-completion-script zsh > "$stage/share/zsh/site-functions/_opsctl"
"$stage/bin/opsctl" --generate-completion-script fish > "$stage/share/fish/vendor_completions.d/opsctl.fish"

doc="$stage/share/doc/opsctl"
cp "$root/README.md" "$doc/"
cp -R "$root/runbooks" "$doc/runbooks"
[ -d "$root/docs" ] && cp -R "$root/docs/." "$doc/"
cp -R "$root/templates" "$doc/examples"
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f ! -path "$stage/bin/*" -exec chmod 0644 {} +

# The binary by rename, so a running opsctl (cron) keeps its file and a reader never sees half
# of one; the documentation folder replaced whole, so no file of an older version stays behind.
install -d "$target/bin" "$target/share"
cp "$stage/bin/opsctl" "$target/bin/.opsctl.new"
mv -f "$target/bin/.opsctl.new" "$target/bin/opsctl"
rm -rf "$target/share/doc/opsctl"
cp -R "$stage/share/." "$target/share/"
log "installed opsctl $("$stage/bin/opsctl" --version) into $target"
