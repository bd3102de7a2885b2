#!/usr/bin/env python3
"""A programmable HTTP server on 127.0.0.1 for opsctl's HTTP tests: server.py PORT

Endpoints: /health (JSON healthy), /status/N, /slow/MS (answers after MS ms), /hang (accepts,
never answers), /redirect-loop, /redirect (-> /health), /big/BYTES, /json-broken,
/echo (method, headers and body back as JSON). Prints "ready" when listening; exits after
--lifetime seconds (default 300) so a crashed test never leaves it behind.
"""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, content_type="application/json", headers=()):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
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
        return self.send(404, '{"error":"not found"}')

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any

if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    threading.Timer(float(sys.argv[2]) if len(sys.argv) > 2 else 300, server.shutdown).start()
    print("ready", flush=True)
    server.serve_forever()
