#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# make deb: dist/opsctl_<version>_<arch>.deb from the static release build, with dpkg-deb.
#   - the files `make install PREFIX=/usr` installs, man page gzipped, copyright, changelog.gz;
#   - Depends computed from the binary by dpkg-shlibdeps (libc6, libcurl4, libsqlite3-0,
#     zlib1g, ...); Recommends docker.io | docker-ce, pigz, nginx;
#   - Version: `opsctl --version` (git describe) in Debian's syntax;
#   - checked with lintian when it is installed: any error fails the build.
# scripts/package-deb.sh --debian-version V prints V in Debian's syntax and exits.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=${STATIC_BUILD_DIR:-$root/.build-static}
dist=${DIST:-$root/dist}
# Who maintains the package: $DEB_MAINTAINER, else Debian's usual $DEBFULLNAME <$DEBEMAIL>, else
# the author of the commit being packaged (a packager's own identity, never a placeholder).
git_author=$(git -C "$root" log -1 --format='%an <%ae>' 2>/dev/null || true)
if [ -n "${DEB_MAINTAINER:-}" ]; then maintainer=$DEB_MAINTAINER
elif [ -n "${DEBFULLNAME:-}" ] && [ -n "${DEBEMAIL:-}" ]; then maintainer="$DEBFULLNAME <$DEBEMAIL>"
elif [ -n "$git_author" ]; then maintainer=$git_author
else echo "deb: no maintainer: set DEB_MAINTAINER=\"Name <email>\" (or DEBFULLNAME and DEBEMAIL)" >&2; exit 1
fi
compression=${DEB_COMPRESSION:-xz}

log() { printf 'deb: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# git describe → Debian: 1.2.0 → 1.2.0; 1.2.0-3-gabc1234 → 1.2.0+3.gabc1234 (after 1.2.0);
# 1.2.0-rc.1 → 1.2.0~rc.1 (before 1.2.0); 0.0.0-unknown → 0.0.0~unknown.
debian_version() {
    local version=$1 after=""
    if [[ $version =~ ^(.+)-([0-9]+)-g([0-9a-f]+)$ ]]; then
        version=${BASH_REMATCH[1]}
        after="+${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}"
    fi
    version="${version//-/\~}$after"
    [[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "'$1' cannot be a Debian version (it must start with a digit; letters, digits and . + - only)"
    printf '%s\n' "$version"
}

if [ "${1:-}" = "--debian-version" ]; then
    debian_version "${2:?usage: $0 --debian-version VERSION}"
    exit 0
fi

for tool in dpkg-deb dpkg-shlibdeps; do
    command -v "$tool" >/dev/null || die "$tool is missing: apt-get install dpkg-dev (scripts/setup.sh does)"
done
binary="$scratch/release/opsctl"
[ -x "$binary" ] || die "$binary is missing: run \`make static\` (make deb does) first"

version=$(debian_version "$("$binary" --version)")
arch=$(dpkg --print-architecture)
work=$(mktemp -d "${TMPDIR:-/tmp}/opsctl-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage="$work/root"

DESTDIR="$stage" PREFIX=/usr STATIC_BUILD_DIR="$scratch" bash "$root/scripts/install.sh"
doc="$stage/usr/share/doc/opsctl"
gzip -9n "$stage/usr/share/man/man1/opsctl.1"
install -m 0644 "$root/packaging/debian/copyright" "$doc/copyright"
install -D -m 0644 "$root/packaging/debian/lintian-overrides" "$stage/usr/share/lintian/overrides/opsctl"

# A native package's changelog: this build's entry, dated by its commit (reproducible).
commit=$(git -C "$root" log -1 --format='git commit %h' 2>/dev/null || echo "a tree without git metadata")
date=$(git -C "$root" log -1 --format=%cD 2>/dev/null || date -R)
printf 'opsctl (%s) unstable; urgency=medium\n\n  * Built from %s\n\n -- %s  %s\n' \
    "$version" "$commit" "$maintainer" "$date" | gzip -9n > "$doc/changelog.gz"

# dpkg-shlibdeps reads the package names from a debian/control next to where it runs.
mkdir -p "$work/debian"
printf 'Source: opsctl\nMaintainer: %s\n\nPackage: opsctl\nArchitecture: any\n' "$maintainer" > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -e"$stage/usr/bin/opsctl" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies for $stage/usr/bin/opsctl"

mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<EOF
Package: opsctl
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Recommends: docker.io | docker-ce, pigz, nginx
Section: admin
Priority: optional
Description: deployment runbook as one command
 opsctl deploys a release with a health-wait and automatic rollback, takes
 online SQLite backups with parallel gzip and retention, verifies and restores
 them, runs HTTP smoke tests, checks a host before a deploy and writes the
 shift handoff, keeping a ledger of everything it does.
EOF
find "$stage" -type d -exec chmod 0755 {} +

mkdir -p "$dist"
deb="$dist/opsctl_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"$compression" --build "$stage" "$deb" >/dev/null
log "built $deb (Depends: $depends)"

if command -v lintian >/dev/null; then
    lintian --fail-on error "$deb" >&2 \
        || die "lintian reports errors in $deb"
else
    log "lintian is not installed: not checked (apt-get install lintian)"
fi
printf '%s\n' "$deb"
