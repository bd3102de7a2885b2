#!/usr/bin/env python3
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
"""A busy application: inserts rows with sequential ids into DB, one transaction each.

writer.py DB [--interval-ms 5] [--seconds N] [--latencies FILE] [--journal-mode wal]
          [--checkpoint-every N --checkpoint-mode truncate|restart|passive|full]
          [--autocheckpoint PAGES] [--payload-bytes 200] [--commits FILE] [--reconnect]

Table seq(id INTEGER PRIMARY KEY, at REAL, payload TEXT) is created if missing. Ids are 1, 2, 3, ...
with no gaps, so a consistent copy holds exactly a gap-free prefix. Runs until SIGTERM (or N
seconds). Like a real app it may checkpoint its own WAL: every N commits with the given mode
(TRUNCATE and RESTART reset the WAL, the traps for anything that ships WAL frames), and with
SQLite's auto-checkpoint at PAGES (0 turns it off; default SQLite's 1000).

--latencies FILE: "<unix time of the commit start> <latency ms>" per commit, written at the end.
--commits FILE:   "<id> <unix time just after COMMIT returned>" per commit, appended and flushed as
                  it goes (so a test that kills the writer still knows what was committed, and when).
Errors (SQLITE_BUSY included) are counted and printed to stderr as "busy N errors M" at the end
(after --seconds, or on SIGTERM/SIGINT); the exit status is 3 when any commit failed.
"""
import argparse, signal, sqlite3, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("db")
parser.add_argument("--interval-ms", type=float, default=5.0)
parser.add_argument("--seconds", type=float, default=0)
parser.add_argument("--latencies")
parser.add_argument("--commits")
parser.add_argument("--journal-mode", default="wal")
parser.add_argument("--checkpoint-every", type=int, default=0)
parser.add_argument("--checkpoint-mode", default="truncate", choices=["passive", "full", "restart", "truncate"])
parser.add_argument("--autocheckpoint", type=int, default=None)
parser.add_argument("--payload-bytes", type=int, default=200)
parser.add_argument("--reconnect", action="store_true",
                    help="a new connection for every commit, closed after it (a CGI script, a cron job): "
                         "each close may be the last one, which checkpoints and deletes the WAL")
args = parser.parse_args()

stop = False
def on_term(signum, frame):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
# A parent may start us with these blocked (Foundation's Process starts children from a thread
# that blocks them): unblocked, SIGTERM ends the run cleanly, with the counts printed.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

def connect():
    connection = sqlite3.connect(args.db, timeout=60, isolation_level=None)
    if args.autocheckpoint is not None:
        connection.execute(f"PRAGMA wal_autocheckpoint={args.autocheckpoint}")
    return connection

db = connect()
db.execute(f"PRAGMA journal_mode={args.journal_mode}")
db.execute("CREATE TABLE IF NOT EXISTS seq(id INTEGER PRIMARY KEY, at REAL, payload TEXT)")
next_id = (db.execute("SELECT max(id) FROM seq").fetchone()[0] or 0) + 1
commits = open(args.commits, "a", buffering=1) if args.commits else None
latencies = []
busy = errors = checkpoints = 0
deadline = time.monotonic() + args.seconds if args.seconds else None
payload = "x" * args.payload_bytes
print("ready", flush=True)
while not stop and (deadline is None or time.monotonic() < deadline):
    started = time.monotonic()
    wall = time.time()
    if args.reconnect:
        db.close()
        db = connect()
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO seq(id, at, payload) VALUES (?, ?, ?)", (next_id, time.time(), payload))
        db.execute("COMMIT")
    except sqlite3.OperationalError as error:
        errors += 1
        if "locked" in str(error) or "busy" in str(error):
            busy += 1
        if db.in_transaction:
            db.execute("ROLLBACK")
        continue
    latencies.append((wall, (time.monotonic() - started) * 1000))
    if commits:
        commits.write(f"{next_id} {time.time():.6f}\n")
    if args.checkpoint_every and next_id % args.checkpoint_every == 0:
        db.execute(f"PRAGMA wal_checkpoint({args.checkpoint_mode.upper()})").fetchone()
        checkpoints += 1
    next_id += 1
    time.sleep(max(0.0, args.interval_ms / 1000 - (time.monotonic() - started)))
if args.latencies:
    with open(args.latencies, "w") as out:
        out.write("".join(f"{at:.6f} {ms:.3f}\n" for at, ms in latencies))
print(f"wrote {next_id - 1} rows, {checkpoints} checkpoints", file=sys.stderr)
print(f"busy {busy} errors {errors}", file=sys.stderr)
sys.exit(3 if errors else 0)
