#!/bin/sh
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# The sample app: a tiny HTTP service on $BIND_ADDRESS:$PORT (default 127.0.0.1; a swarm node's
# task binds 0.0.0.0 inside the node's network namespace) whose behaviour is fixed at build time
# (APP_BEHAVIOUR): healthy | unhealthy | crash | slow | flapping | no-security-header | ignore-sigterm
#   | broken-path | slow-responses | some-errors (GET /api/items answers 500, slowly, or 500 once in a hundred; see handle.sh).
set -eu
bind=${BIND_ADDRESS:-127.0.0.1}
echo "sample app ${APP_VERSION} starting (behaviour ${APP_BEHAVIOUR}, ${bind}:${PORT})" >&2
case "$APP_BEHAVIOUR" in
    crash)
        # Like many real apps, it dumps its config when it dies: opsctl must scrub this from what it keeps.
        # A secret given as a file (NAME_FILE, as Docker secrets are) is dumped too.
        jwt=${JWT_SECRET:-$(cat "${JWT_SECRET_FILE:-/nonexistent}" 2>/dev/null || echo unset)}
        echo "config: JWT_SECRET=${jwt} API_TOKEN=${API_TOKEN:-unset}" >&2
        echo "ERROR: cannot open database /app/data/app.db: permission denied" >&2
        exit 1 ;;
    slow)
        echo "warming caches for ${SLOW_SECONDS}s" >&2
        sleep "$SLOW_SECONDS" ;;
esac
mkdir -p /tmp/app
echo 0 > /tmp/app/requests
# busybox httpd runs CGI only under /cgi-bin/ (Debian's build has no rewrite or proxy), so the
# listener is `nc -ll`, which forks app/handle.sh per connection with the socket on stdin/stdout.
# As PID 1 the shell gets no default signal handling: stop on SIGTERM explicitly, as a real app
# does, so `docker stop` takes milliseconds instead of its 10 s grace period.
nc -ll -p "$PORT" "$bind" -e /app/handle.sh &
listener=$!
trap 'echo "sample app ${APP_VERSION} stopping" >&2; kill "$listener" 2>/dev/null; exit 0' TERM INT
if [ "$APP_BEHAVIOUR" = "ignore-sigterm" ]; then
    # Like node or a shell script run without an init: SIGTERM does nothing, docker stop waits
    # its whole grace period, then SIGKILL.
    trap '' TERM
    echo "ignoring SIGTERM" >&2
fi
wait "$listener"
