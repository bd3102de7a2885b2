#!/usr/bin/env bash
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
# A real multi-node Docker Swarm on one machine, for opsctl's swarm driver tests.
#
#   swarm.sh up DIR [NODES]   start NODES (default 3) dockerd, each in its own network namespace,
#                             joined over veth pairs on a private bridge; node 1 is the manager.
#                             Writes DIR/swarm.env (NODES, MANAGER_HOST, NODE<i>_HOST, NODE<i>_ADDR,
#                             NODE<i>_PID, NODE<i>_NETNS, SUBNET, BRIDGE) and prints it.
#   swarm.sh load DIR IMAGE...  copy images from the host's engine (SOURCE_DOCKER_HOST, default the
#                             local socket; DOCKER_HOST is ignored) to every node (docker save | load).
#   swarm.sh kill DIR I       SIGKILL node I's dockerd (a node lost mid-deploy).
#   swarm.sh down DIR         stop the daemons and what they ran, remove namespaces, bridge, mounts.
#
# Each node: `nsenter --net=/run/netns/NAME dockerd` (`ip netns exec` remounts /sys and dockerd then
# fails with "Devices cgroup isn't mounted"), its own data root, exec root, pid file and socket, no
# bridge network and no iptables rules. Addresses come from 10.<a>.<b>.0/24 chosen at random per run;
# they exist only inside this run. The nodes have no default route, so traffic never leaves the
# machine, and the image pull Swarm tries before each task fails at once (network unreachable)
# instead of waiting 20 s for a DNS timeout; the task then runs the image `load` copied there. The ingress routing mesh
# needs IPVS, which this kernel lacks, so services use host networking (mode=host publishing) with
# the app bound to the node's address.
set -euo pipefail

log() { printf 'swarm.sh: %s\n' "$*" >&2; }

node_host() { echo "unix://$1/n$2.sock"; }

wait_for_daemon() { # host pid log
    for _ in $(seq 1 150); do
        docker -H "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1 && return 0
        kill -0 "$2" 2>/dev/null || { log "dockerd exited; its log:"; tail -n 20 "$3" >&2; return 1; }
        sleep 0.2
    done
    log "dockerd on $1 did not answer within 30 s"; tail -n 20 "$3" >&2; return 1
}

up() {
    local dir=$1 nodes=${2:-3}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ ! -e "$dir/swarm.env" ] || { log "$dir/swarm.env exists: run down first"; exit 1; }
    local id; id=$(printf '%04x' $((RANDOM % 65536)))
    local a=$((RANDOM % 200 + 20)) b=$((RANDOM % 250 + 1))
    local subnet="10.$a.$b" bridge="oswbr$id"
    {
        echo "SWARM_ID=$id"; echo "NODES=$nodes"; echo "SUBNET=$subnet.0/24"; echo "BRIDGE=$bridge"
        echo "HOST_ADDR=$subnet.1"; echo "MANAGER_HOST=$(node_host "$dir" 1)"
    } > "$dir/swarm.env.partial"
    ip link add "$bridge" type bridge
    ip addr add "$subnet.1/24" dev "$bridge"
    ip link set "$bridge" up
    for i in $(seq 1 "$nodes"); do
        local ns="osw$id-n$i" addr="$subnet.$((i + 1))"
        ip netns add "$ns"
        ip link add "osw$id-v$i" type veth peer name "osw$id-p$i"
        ip link set "osw$id-p$i" netns "$ns"
        ip link set "osw$id-v$i" master "$bridge" up
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "osw$id-p$i" name eth0
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set eth0 up
        mkdir -p "$dir/n$i/data" "$dir/n$i/exec"
        # Own UTS namespace: each node has its own hostname, as `docker node ls` shows real hosts.
        nsenter --net="/run/netns/$ns" unshare --uts sh -c 'hostname "$0"; exec "$@"' "node$i" dockerd -H "$(node_host "$dir" "$i")" \
            --data-root "$dir/n$i/data" --exec-root "$dir/n$i/exec" --pidfile "$dir/n$i/dockerd.pid" \
            --bridge=none --iptables=false --ip6tables=false --storage-driver=vfs \
            >"$dir/n$i/dockerd.log" 2>&1 &
        local pid=$!
        { echo "NODE${i}_HOST=$(node_host "$dir" "$i")"; echo "NODE${i}_ADDR=$addr"; echo "NODE${i}_PID=$pid"; echo "NODE${i}_NETNS=$ns"; } >> "$dir/swarm.env.partial"
    done
    for i in $(seq 1 "$nodes"); do
        wait_for_daemon "$(node_host "$dir" "$i")" "$(grep "^NODE${i}_PID=" "$dir/swarm.env.partial" | cut -d= -f2)" "$dir/n$i/dockerd.log"
    done
    docker -H "$(node_host "$dir" 1)" swarm init --advertise-addr "$subnet.2" --listen-addr "$subnet.2:2377" >/dev/null
    local token; token=$(docker -H "$(node_host "$dir" 1)" swarm join-token -q worker)
    for i in $(seq 2 "$nodes"); do
        docker -H "$(node_host "$dir" "$i")" swarm join --token "$token" --advertise-addr "$subnet.$((i + 1))" \
            --listen-addr "$subnet.$((i + 1)):2377" "$subnet.2:2377" >/dev/null
    done
    mv "$dir/swarm.env.partial" "$dir/swarm.env"
    cat "$dir/swarm.env"
}

load_images() {
    local dir=$1; shift
    # shellcheck disable=SC1091
    . "$dir/swarm.env"
    for image in "$@"; do
        docker -H "${SOURCE_DOCKER_HOST:-unix:///var/run/docker.sock}" save "$image" > "$dir/image.tar"
        for i in $(seq 1 "$NODES"); do
            local host; host=$(eval echo "\$NODE${i}_HOST")
            docker -H "$host" load -q < "$dir/image.tar" >/dev/null &
        done
        wait
        rm -f "$dir/image.tar"
    done
}

kill_node() {
    local dir=$1 i=$2
    # shellcheck disable=SC1091
    . "$dir/swarm.env"
    kill -KILL "$(eval echo "\$NODE${i}_PID")" 2>/dev/null || true
}

down() {
    local dir=$1
    local env="$dir/swarm.env"
    [ -e "$env" ] || env="$dir/swarm.env.partial"
    [ -e "$env" ] || return 0
    # shellcheck disable=SC1090
    . "$env"
    local count=${NODES:-0}
    # The whole swarm goes away, so no node needs to leave it politely: stop every daemon at once.
    local pids=()
    for i in $(seq 1 "$count"); do
        local pid; pid=$(eval echo "\${NODE${i}_PID:-}")
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    done
    for _ in $(seq 1 25); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.2
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    # Containers and the managed containerd of a killed daemon can outlive it: they sit in the
    # node's namespace, so kill whatever still runs there.
    for i in $(seq 1 "$count"); do
        local ns; ns=$(eval echo "\${NODE${i}_NETNS:-}")
        [ -n "$ns" ] || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    done
    sleep 0.2
    # dockerd bind-mounts network namespaces of its own under the exec root.
    { grep -o " $dir/[^ ]*" /proc/mounts || true; } | sort -r | while read -r mountpoint; do umount -l "$mountpoint" 2>/dev/null || true; done
    for i in $(seq 1 "$count"); do
        local ns; ns=$(eval echo "\${NODE${i}_NETNS:-}")
        [ -n "$ns" ] && ip netns delete "$ns" 2>/dev/null || true
    done
    [ -n "${BRIDGE:-}" ] && ip link delete "$BRIDGE" 2>/dev/null || true
    rm -rf "$dir"
}

case "${1:-}" in
    up) up "${2:?usage: swarm.sh up DIR [NODES]}" "${3:-3}" ;;
    load) shift; load_images "$@" ;;
    kill) kill_node "${2:?}" "${3:?}" ;;
    down) down "${2:?usage: swarm.sh down DIR}" ;;
    *) echo "usage: swarm.sh up DIR [NODES] | load DIR IMAGE... | kill DIR I | down DIR" >&2; exit 64 ;;
esac
