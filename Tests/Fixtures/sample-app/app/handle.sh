#!/bin/sh
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# One HTTP/1.0 exchange: request on stdin, response on stdout, a log line on stderr.
CR=$(printf '\r')
IFS=' ' read -r method target protocol || exit 0
protocol=${protocol%"$CR"}
path=${target%%\?*}
length=0
while IFS= read -r header; do
    header=${header%"$CR"}
    [ -z "$header" ] && break
    case "$header" in
        [Cc]ontent-[Ll]ength:*) length=$(echo "${header#*:}" | tr -d ' ') ;;
    esac
done
body=""
if [ "$length" -gt 0 ] 2>/dev/null; then body=$(head -c "$length"); fi

respond() { # status reason content-type body [extra header lines]
    status=$1 reason=$2 type=$3 payload=$4 extra=${5:-}
    printf 'HTTP/1.0 %s %s\r\nContent-Type: %s\r\nContent-Length: %s\r\nConnection: close\r\n' "$status" "$reason" "$type" "${#payload}"
    [ -n "$extra" ] && printf '%s\r\n' "$extra"
    printf '\r\n%s' "$payload"
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $method $path $status" >&2
    [ "$status" -ge 500 ] && echo "ERROR: $method $path answered $status" >&2
    exit 0
}

security_headers='X-Content-Type-Options: nosniff'
[ "$APP_BEHAVIOUR" = "no-security-header" ] && security_headers='X-Powered-By: busybox'

case "$method $path" in
    "GET /health"|"HEAD /health")
        healthy=yes
        [ "$APP_BEHAVIOUR" = "unhealthy" ] && healthy=no
        if [ "$APP_BEHAVIOUR" = "flapping" ]; then
            count=$(( $(cat /tmp/app/requests 2>/dev/null || echo 0) + 1 ))
            echo "$count" > /tmp/app/requests
            [ $((count % 2)) -eq 0 ] && healthy=no
        fi
        if [ "$healthy" = yes ]; then
            respond 200 OK application/json "{\"status\":\"healthy\",\"version\":\"$APP_VERSION\"}" "$security_headers"
        fi
        respond 503 "Service Unavailable" application/json "{\"status\":\"unhealthy\",\"version\":\"$APP_VERSION\"}" "$security_headers" ;;
    "POST /api/auth/login")
        case "$body" in
            *'"password":"correct horse"'*) respond 200 OK application/json '{"token":"sample"}' "$security_headers" ;;
            *'"password"'*) respond 401 Unauthorized application/json '{"error":"invalid credentials"}' "$security_headers" ;;
            *) respond 400 "Bad Request" application/json '{"error":"username and password required"}' "$security_headers" ;;
        esac ;;
    "GET /api/items"|"HEAD /api/items")
        # The query real users make and the smoke checks do not: where a canary shows its faults.
        [ "$APP_BEHAVIOUR" = "slow-responses" ] && sleep "$SLOW_SECONDS"
        if [ "$APP_BEHAVIOUR" = "some-errors" ]; then
            # One request in a hundred, counted under a lock (connections are handled in parallel).
            until mkdir /tmp/app/items.lock 2>/dev/null; do :; done
            count=$(( $(cat /tmp/app/items 2>/dev/null || echo 0) + 1 ))
            echo "$count" > /tmp/app/items
            rmdir /tmp/app/items.lock
            if [ $((count % 100)) -eq 0 ]; then
                respond 500 "Internal Server Error" application/json "{\"error\":\"items query failed\",\"version\":\"$APP_VERSION\"}" "$security_headers"
            fi
        fi
        if [ "$APP_BEHAVIOUR" = "broken-path" ]; then
            respond 500 "Internal Server Error" application/json "{\"error\":\"items query failed\",\"version\":\"$APP_VERSION\"}" "$security_headers"
        fi
        respond 200 OK application/json "{\"items\":[],\"version\":\"$APP_VERSION\"}" "$security_headers" ;;
    "GET /"|"HEAD /")
        respond 200 OK text/html "<html><title>sample $APP_VERSION</title></html>" "$security_headers" ;;
    *)
        respond 404 "Not Found" text/plain "not found" "$security_headers" ;;
esac
