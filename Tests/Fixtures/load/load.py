#!/usr/bin/env python3
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
"""A steady load on fresh connections, as users arriving one by one would make it.

    load.py URL [--rate 100] [--workers 4] [--seconds N] [--timeout 5] [--out FILE] [--log FILE]
            [--live FILE] [--ready FILE] [--open] [--max-requests N] [--clients N] [--path-every N:PATH]

Each request opens a new TCP connection (no keep-alive), GETs URL and records the status, the
latency and the "version" of a JSON body. Anything but HTTP 200 within --timeout is a failure.
--workers threads each make one request after the other (a slow answer delays the next); --open
starts every request on time in a thread of its own instead (arrivals do not wait for answers,
as users' do not), at most --max-inflight at once: the next arrival waits for one to end (a
TooManyInFlight failure when none ends within --timeout). --max-requests stops after that many.
--clients N: N users with a cookie jar each, taking turns; a user sends the cookies it was given.
Runs until SIGTERM/SIGINT (or --seconds), then writes a JSON summary to --out (else stdout):
requests, failed, failure reasons, versions seen, versions of failed answers, p50/p99/max ms.
--log writes one CSV line per request (start epoch seconds, ms, ok 0/1, status, version) so a
caller can cut the run into windows (steady state, during deploys). --live writes the same lines
as each request ends (in the order they end), so a caller can wait for requests as they happen.
"""
import argparse
import os
import http.client
import json
import signal
import sys
import threading
import time
import urllib.parse

stop = threading.Event()


class Client:
    """A user: an id and the cookies the service gave it."""

    def __init__(self, number):
        self.number = number
        self.cookies = {}
        self.lock = threading.Lock()

    def header(self):
        with self.lock:
            return "; ".join(f"{name}={value}" for name, value in sorted(self.cookies.items()))

    def remember(self, response):
        for value in response.headers.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0]
            if "=" in pair:
                name, cookie = pair.split("=", 1)
                with self.lock:
                    self.cookies[name.strip()] = cookie.strip()


def one_request(parsed, timeout, client=None):
    started = time.time()
    status, version, reason, retry_after = None, None, None, ""
    try:
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port or 80, timeout=timeout)
        path = parsed.path or "/"
        if parsed.query:
            path += "?" + parsed.query
        headers = {"Connection": "close", "User-Agent": "opsctl-load"}
        if client is not None and client.header():
            headers["Cookie"] = client.header()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        status = response.status
        retry_after = response.getheader("Retry-After") or ""
        if client is not None:
            client.remember(response)
        connection.close()
        try:
            version = json.loads(body).get("version")
        except (ValueError, AttributeError):
            version = None
        if status != 200:
            reason = f"HTTP {status}"
    except Exception as error:  # refused, reset, timeout: all count, by kind
        reason = type(error).__name__ + (f": {error.strerror}" if getattr(error, "strerror", None) else "")
    return started, (time.time() - started) * 1000, reason, status, version, client.number if client else "", retry_after


def csv_line(result):
    started, ms, reason, status, version, client, retry_after = result
    return f"{started:.3f},{ms:.1f},{0 if reason else 1},{status or ''},{version or ''},{client},{retry_after}\n"


class Budget:
    """Requests left to start (--max-requests), and which user makes the next one (--clients)."""

    def __init__(self, limit, clients):
        self.left = limit if limit > 0 else None
        self.clients = [Client(number) for number in range(clients)]
        self.turn = 0
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            if self.left is not None:
                if self.left <= 0:
                    stop.set()
                    return False, None
                self.left -= 1
            client = None
            if self.clients:
                client = self.clients[self.turn % len(self.clients)]
                self.turn += 1
            return True, client


def record(result, results, lock, live):
    with lock:
        results.append(result)
        if live:
            live.write(csv_line(result))


def worker(parsed, interval, timeout, offset, results, lock, live, budget):
    next_at = time.time() + offset
    while not stop.is_set():
        delay = next_at - time.time()
        if delay > 0 and stop.wait(delay):
            break
        allowed, client = budget.take()
        if not allowed:
            break
        record(one_request(parsed, timeout, client), results, lock, live)
        next_at += interval
        if next_at < time.time() - 1:  # far behind (a stall): do not burst to catch up
            next_at = time.time()


def open_arrivals(parsed, rate, timeout, results, lock, live, budget, max_inflight):
    """One thread per request, started on schedule whatever the answers do."""
    inflight = threading.BoundedSemaphore(max_inflight)
    threads = []

    def run(client):
        try:
            record(one_request(parsed, timeout, client), results, lock, live)
        finally:
            inflight.release()

    next_at = time.time()
    while not stop.is_set():
        delay = next_at - time.time()
        if delay > 0 and stop.wait(delay):
            break
        allowed, client = budget.take()
        if not allowed:
            break
        if not inflight.acquire(timeout=timeout):
            record((time.time(), 0.0, "TooManyInFlight", None, None, client.number if client else "", ""), results, lock, live)
        else:
            thread = threading.Thread(target=run, args=(client,), daemon=True)
            thread.start()
            threads.append(thread)
        next_at += 1 / rate
        if next_at < time.time() - 1:
            next_at = time.time()
    return threads


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 1)


def summary(results):
    failures, versions, failed_versions = {}, {}, {}
    latencies = [result[1] for result in results]
    for _, _, reason, _, version, _, _ in results:
        if version is not None:
            versions[version] = versions.get(version, 0) + 1
        if reason is not None:
            failures[reason] = failures.get(reason, 0) + 1
            if version is not None:
                failed_versions[version] = failed_versions.get(version, 0) + 1
    return {
        "requests": len(results),
        "failed": sum(failures.values()),
        "failures": failures,
        "versions": versions,
        "failed_versions": failed_versions,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": round(max(latencies), 1) if latencies else None,
        "started": results[0][0] if results else None,
        "ended": results[-1][0] if results else None,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=0)
    parser.add_argument("--timeout", type=float, default=5)
    parser.add_argument("--out")
    parser.add_argument("--log")
    parser.add_argument("--live")
    parser.add_argument("--ready")
    parser.add_argument("--open", action="store_true")
    parser.add_argument("--max-inflight", type=int, default=2000)
    parser.add_argument("--max-requests", type=int, default=0)
    parser.add_argument("--clients", type=int, default=0)
    args = parser.parse_args()
    parsed = urllib.parse.urlsplit(args.url)
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    # A parent may hand down a blocked SIGTERM (Foundation's Process does): take it back.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    results, lock = [], threading.Lock()
    interval = args.workers / args.rate
    live = open(args.live, "w", buffering=1) if args.live else None
    budget = Budget(args.max_requests, args.clients)
    if args.open:
        spawned = []
        threads = [threading.Thread(target=lambda: spawned.extend(open_arrivals(parsed, args.rate, args.timeout, results, lock, live, budget,
                                                                                   args.max_inflight)), daemon=True)]
    else:
        threads = [threading.Thread(target=worker, args=(parsed, interval, args.timeout, index * interval / args.workers, results, lock, live, budget),
                                    daemon=True) for index in range(args.workers)]
    for thread in threads:
        thread.start()
    if args.ready:
        with open(args.ready, "w") as ready:
            ready.write("ready\n")
    if args.seconds > 0:
        stop.wait(args.seconds)
        stop.set()
    else:
        while not stop.is_set():
            stop.wait(0.2)
    for thread in threads:
        thread.join(args.timeout + 1)
    if args.open:
        for thread in spawned:
            thread.join(max(0.0, args.timeout + 1))
    with lock:
        ordered = sorted(results)
    if args.log:
        with open(args.log, "w") as log:
            log.write("".join(csv_line(result) for result in ordered))
    text = json.dumps(summary(ordered), indent=2, sort_keys=True)
    if args.out:
        with open(args.out + ".tmp", "w") as out:
            out.write(text + "\n")
        os.replace(args.out + ".tmp", args.out)
    else:
        print(text)


if __name__ == "__main__":
    sys.exit(main())
