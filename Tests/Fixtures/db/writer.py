#!/usr/bin/env python3
"""A busy application: inserts rows with sequential ids into DB, one transaction each.

writer.py DB [--interval-ms 5] [--seconds N] [--latencies FILE]
Table seq(id INTEGER PRIMARY KEY, at REAL, payload TEXT) is created if missing. Ids are 1, 2, 3, ...
with no gaps, so a consistent backup holds exactly a gap-free prefix. Runs until SIGTERM (or N
seconds); then writes "<unix time of the commit start> <latency ms>" per commit to FILE if given.
"""
import argparse, signal, sqlite3, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("db")
parser.add_argument("--interval-ms", type=float, default=5.0)
parser.add_argument("--seconds", type=float, default=0)
parser.add_argument("--latencies")
parser.add_argument("--journal-mode", default="wal")
args = parser.parse_args()

stop = False
def on_term(signum, frame):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)

db = sqlite3.connect(args.db, timeout=60, isolation_level=None)
db.execute(f"PRAGMA journal_mode={args.journal_mode}")
db.execute("CREATE TABLE IF NOT EXISTS seq(id INTEGER PRIMARY KEY, at REAL, payload TEXT)")
next_id = (db.execute("SELECT COALESCE(MAX(id), 0) FROM seq").fetchone()[0] or 0) + 1
latencies = []
deadline = time.monotonic() + args.seconds if args.seconds else None
print("ready", flush=True)
while not stop and (deadline is None or time.monotonic() < deadline):
    started = time.monotonic()
    wall = time.time()
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO seq(id, at, payload) VALUES (?, ?, ?)", (next_id, time.time(), "x" * 200))
    db.execute("COMMIT")
    latencies.append((wall, (time.monotonic() - started) * 1000))
    next_id += 1
    time.sleep(max(0.0, args.interval_ms / 1000 - (time.monotonic() - started)))
if args.latencies:
    with open(args.latencies, "w") as out:
        out.write("".join(f"{at:.6f} {ms:.3f}\n" for at, ms in latencies))
print(f"wrote {next_id - 1} rows", file=sys.stderr)
