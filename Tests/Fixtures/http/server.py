#!/usr/bin/env python3
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
"""A programmable HTTP server on 127.0.0.1 for opsctl's HTTP tests:
server.py PORT [LIFETIME] [--tls CERT KEY]    (PORT 0: a free port below 32768; prints "ready PORT")

Endpoints: /health (JSON healthy), /status/N, /slow/MS (answers after MS ms), /hang (accepts,
never answers), /redirect-loop, /redirect (-> /health), /big/BYTES, /json-broken,
/echo (method, headers and body back as JSON), / (home page), POST /api/auth/login (401),
/plain (no security headers), /headers (X-Version, Cache-Control), /slow-body/MS (headers at
once, the body a byte at a time over MS ms), /eventually/KEY/N (503 for the first N calls per KEY,
then 200), /gate/KEY/N (each call waits until N calls for KEY are in flight at once, then all
answer 200; 504 if that does not happen within 60 s: proof that a client really runs N requests
concurrently, however slow the machine), /healthy-after/EPOCH_MS (503 until that wall-clock time,
then 200), POST /webhook (kept;
GET /webhook/received lists the bodies as JSON). Prints "ready" when listening. It exits when
the process that started it is gone, so a crashed test never leaves it behind, and, when
LIFETIME is given (the benchmarks), after LIFETIME seconds. A test's own length never ends it:
a loaded machine stretches a test far past any fixed lifetime.
"""
import errno, json, os, random, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

calls = {}
webhook_bodies = []
calls_lock = threading.Lock()
gates = {}

class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128   # the default backlog of 5 drops a burst of concurrent connects for 1 s

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, content_type="application/json", headers=(), secure=True):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if secure:
            self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        path = self.path.split("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if path == "/health":
            return self.send(200, '{"status":"healthy","version":"1.0.0","db":{"ok":true}}')
        if path.startswith("/status/"):
            return self.send(int(path.split("/")[2]), '{"status":"error"}')
        if path.startswith("/slow/"):
            time.sleep(int(path.split("/")[2]) / 1000)
            return self.send(200, '{"status":"slow"}')
        if path == "/hang":
            time.sleep(60)
            return
        if path == "/redirect-loop":
            return self.send(302, "", headers=[("Location", "/redirect-loop")])
        if path == "/redirect":
            return self.send(301, "", headers=[("Location", "/health")])
        if path.startswith("/big/"):
            return self.send(200, b"x" * int(path.split("/")[2]), "text/plain")
        if path == "/json-broken":
            return self.send(200, '{"status": ', "application/json")
        if path == "/echo":
            return self.send(200, json.dumps({"method": self.command, "headers": dict(self.headers), "body": body}))
        if path.startswith("/slow-body/"):
            total = int(path.split("/")[2])
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "10")
            self.end_headers()
            for _ in range(10):
                time.sleep(total / 10000)
                self.wfile.write(b"x")
                self.wfile.flush()
            return
        if path == "/webhook" and self.command == "POST":
            with calls_lock:
                webhook_bodies.append({"content_type": self.headers.get("Content-Type"), "body": body})
            return self.send(200, "ok", "text/plain")
        if path == "/webhook/received":
            with calls_lock:
                return self.send(200, json.dumps(webhook_bodies))
        if path.startswith("/healthy-after/"):
            if time.time() * 1000 < int(path.split("/")[2]):
                return self.send(503, '{"status":"starting"}')
            return self.send(200, '{"status":"healthy"}')
        if path.startswith("/gate/"):
            _, _, key, count = path.split("/")
            with calls_lock:
                gate = gates.setdefault(key, threading.Barrier(int(count)))
            try:
                gate.wait(timeout=60)
            except threading.BrokenBarrierError:
                return self.send(504, '{"error":"the other calls never came"}')
            return self.send(200, '{"status":"healthy"}')
        if path.startswith("/eventually/"):
            _, _, key, count = path.split("/")
            with calls_lock:
                calls[key] = calls.get(key, 0) + 1
                seen = calls[key]
            if seen <= int(count):
                return self.send(503, '{"status":"starting"}')
            return self.send(200, '{"status":"healthy"}')
        if path == "/":
            return self.send(200, "<html><body>sample</body></html>", "text/html")
        if path == "/api/auth/login":
            if self.command != "POST":
                return self.send(405, '{"error":"method not allowed"}')
            return self.send(401, '{"error":"Unauthorized"}')
        if path == "/plain":
            return self.send(200, "plain", "text/plain", secure=False)
        if path == "/headers":
            return self.send(200, "{}", headers=[("X-Version", "1.4.2"), ("Cache-Control", "no-store")])
        return self.send(404, '{"error":"not found"}')

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any

def bind(port):
    """PORT 0: a random free port below the ephemeral range (32768+), so no outgoing
    connection holds it, and above 29100: the tests' apps take theirs from 21000-29000."""
    if port:
        return Server(("127.0.0.1", port), Handler)
    for _ in range(200):
        try:
            return Server(("127.0.0.1", random.randint(29100, 32767)), Handler)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
    raise SystemExit("no free port below 32768")

def exit_with_parent(server):
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    server.shutdown()

if __name__ == "__main__":
    args = sys.argv[1:]
    tls = None
    if "--tls" in args:
        at = args.index("--tls")
        tls = args[at + 1:at + 3]
        del args[at:at + 3]
    server = bind(int(args[0]))
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls[0], tls[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    if len(args) > 1:
        threading.Timer(float(args[1]), server.shutdown).start()
    threading.Thread(target=exit_with_parent, args=(server,), daemon=True).start()
    print("ready", server.server_address[1], flush=True)
    server.serve_forever()
