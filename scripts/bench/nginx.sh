# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Sourced by bluegreen.sh and canary.sh: their clean-up, free ports, Debian's nginx in its own prefix
# directory (never the system one) in front of the upstream file opsctl owns, the proxy: section
# opsctl is given, and the load generator through it.

# proxy_bench_cleanup SCRIPT KEPT: the trap both benchmarks set. The load, nginx and the app's
#   containers stop with the run; $work goes too unless KEEP=1 (KEPT says what it holds).
# shellcheck disable=SC2154 # app and work are the sourcing script's
proxy_bench_cleanup() {
    [ -n "${load_pid:-}" ] && kill "$load_pid" 2>/dev/null || true
    [ -n "${nginx_pid:-}" ] && kill "$nginx_pid" 2>/dev/null || true
    docker ps -aq --filter "label=opsctl.app=$app" | xargs -r docker rm -f >/dev/null 2>&1 || true
    if [ "${KEEP:-0}" = 1 ]; then echo "$1: kept $work ($2)" >&2; else rm -rf "$work"; fi
}

# free_ports N: N distinct ports below the ephemeral range that nothing listens on.
free_ports() {
    python3 - "$1" <<'PY'
import random, socket, sys
ports = []
while len(ports) < int(sys.argv[1]):
    port = random.randint(21000, 29000)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            continue
    if port not in ports:
        ports.append(port)
print(*ports)
PY
}

# start_nginx DIR PORT UPSTREAM SERVER ACCESS_LOG
#   nginx on 127.0.0.1:PORT proxying to `upstream UPSTREAM`, which DIR/upstream.conf first points
#   at SERVER (host:port). ACCESS_LOG: `off`, or the file for the canary's documented line.
#   Sets nginx_pid, and nginx_argv: the `-p … -c … -e …` items for proxy.check and proxy.reload.
start_nginx() {
    local dir=$1 port=$2 upstream=$3 server=$4 log=$5 access="access_log off;"
    if [ "$log" != off ]; then
        access="log_format opsctl_canary '\$upstream_addr \$status \$request_time';
    access_log $log opsctl_canary;"
    fi
    mkdir -p "$dir/tmp"
    cat > "$dir/nginx.conf" <<NGINX
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 8192; }   # a request held by a pause takes four
http {
    $access
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include $dir/upstream.conf;
    server {
        listen 127.0.0.1:$port;
        location / { proxy_pass http://$upstream; }
    }
}
NGINX
    echo "upstream $upstream { server $server; }" > "$dir/upstream.conf"
    # shellcheck disable=SC2034 # read by the sourcing script
    nginx_argv="\"-p\", \"$dir\", \"-c\", \"$dir/nginx.conf\", \"-e\", \"$dir/error.log\""
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    for _ in $(seq 50); do [ -s "$dir/nginx.pid" ] && break; sleep 0.1; done
    # shellcheck disable=SC2034 # read by the sourcing script
    nginx_pid=$(cat "$dir/nginx.pid")
}

# proxy_yaml [ACCESS_LOG [EXTRA]]: the environment's proxy: section (4 spaces in) for the nginx
#   start_nginx started, slots $blue_port and $green_port; ACCESS_LOG for the canary's analysis;
#   EXTRA: more keys, each line 6 spaces in. $standby (default 5m) is proxy.standby.
# shellcheck disable=SC2154 # app, nginx_argv and the ports are the sourcing script's
proxy_yaml() {
    cat <<YAML
    proxy:
      kind: nginx
      upstream_file: nginx/upstream.conf
      upstream_name: $app
      check: [nginx, $nginx_argv, "-t"]
      reload: [nginx, $nginx_argv, "-s", "reload"]
      url: http://127.0.0.1:$proxy_port
      slots: {blue: "127.0.0.1:$blue_port", green: "127.0.0.1:$green_port"}
      port_env: PORT
      standby: ${standby:-5m}
YAML
    if [ -n "${1:-}" ]; then echo "      access_log: $1"; fi
    if [ -n "${2:-}" ]; then echo "$2"; fi
}

now() { date +%s.%N; }

# quietly ARGS: opsctl ARGS; its report only when it fails (and then the benchmark stops).
# shellcheck disable=SC2154 # opsctl is common.sh's
quietly() {
    local out
    out=$("$opsctl" "$@" 2>&1) || { echo "$out" >&2; echo "$(basename "$0"): opsctl $* failed" >&2; exit 1; }
}

# load NAME [LOAD.PY OPTIONS…]: the load generator on http://127.0.0.1:$proxy_port$load_path at
#   $rate requests/s, logging every request to $work/NAME.csv (start, ms, ok, status, version,
#   client, Retry-After); it has reached its pace when this returns. `--open`: arrivals on time
#   whatever the answers do (a held request holds nobody back); `--clients N`: users with cookies.
# shellcheck disable=SC2154 # load_path, rate and work are the sourcing script's
load() {
    local name=$1
    shift
    python3 "$root/Tests/Fixtures/load/load.py" "http://127.0.0.1:$proxy_port$load_path" --rate "$rate" \
        --log "$work/$name.csv" --out "$work/$name.json" --ready "$work/$name.ready" "$@" &
    load_pid=$!
    for _ in $(seq 100); do [ -e "$work/$name.ready" ] && break; sleep 0.05; done
    sleep 1
}
unload() { kill "$load_pid"; wait "$load_pid" || true; load_pid=""; }

# window_stats NAME START END: requests started in [START, END], failed ones by kind (an HTTP
#   status, or the exception: a connection error), 503s that carried Retry-After, the longest.
window_stats() {
    python3 - "$work/$1.csv" "$2" "$3" <<'PY'
import sys, collections
start, end = float(sys.argv[2]), float(sys.argv[3])
rows = [line.rstrip("\n").split(",") for line in open(sys.argv[1]) if line.strip()]
inside = [r for r in rows if start <= float(r[0]) <= end]
failed = collections.Counter(("HTTP " + r[3]) if r[3] else "connection error" for r in inside if r[2] == "0")
retry = sum(1 for r in inside if r[3] == "503" and len(r) > 6 and r[6])
longest = max((float(r[1]) for r in inside), default=0)
print(len(inside), sum(failed.values()), failed.get("connection error", 0), retry, f"{longest:.0f}",
      ";".join(f"{k}={v}" for k, v in sorted(failed.items())) or "-")
PY
}
