#!/bin/sh
# The sample app: a tiny HTTP service on 127.0.0.1:$PORT whose behaviour is fixed at build time
# (APP_BEHAVIOUR): healthy | unhealthy | crash | slow | flapping | no-security-header.
set -eu
echo "sample app ${APP_VERSION} starting (behaviour ${APP_BEHAVIOUR}, port ${PORT})" >&2
case "$APP_BEHAVIOUR" in
    crash)
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
exec nc -ll -p "$PORT" 127.0.0.1 -e /app/handle.sh
