#!/usr/bin/env python3
# Copyright 2026 the opsctl authors
# SPDX-License-Identifier: Apache-2.0
"""Generates a test database of about SIZE MB mixing compressible text and incompressible blobs.

generate.py DB SIZE_MB [--journal-mode wal|delete] [--seed N]
Tables: sessions(id, user, status, note TEXT ~600 B of words), attachments(id, session_id, data BLOB 4 KiB random).
About two thirds of the bytes are text, one third random blobs: gzip -6 gets roughly 2x.
"""
import argparse, os, random, sqlite3

parser = argparse.ArgumentParser()
parser.add_argument("db")
parser.add_argument("size_mb", type=float)
parser.add_argument("--journal-mode", default="wal")
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

rnd = random.Random(args.seed)
words = ("session user login token active expired deploy rollback backup verify health smoke handoff "
         "production staging request response latency error warning info debug dashboard database").split()
db = sqlite3.connect(args.db, isolation_level=None)
db.execute(f"PRAGMA journal_mode={args.journal_mode}")
db.execute("CREATE TABLE IF NOT EXISTS sessions(id INTEGER PRIMARY KEY, user TEXT, status TEXT, note TEXT)")
db.execute("CREATE TABLE IF NOT EXISTS attachments(id INTEGER PRIMARY KEY, session_id INTEGER, data BLOB)")
db.execute("CREATE INDEX IF NOT EXISTS sessions_status ON sessions(status)")
target = int(args.size_mb * 1024 * 1024)
session_id = 0
while os.path.getsize(args.db) < target:
    db.execute("BEGIN")
    for _ in range(2000):
        session_id += 1
        note = " ".join(rnd.choice(words) for _ in range(80))
        db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (session_id, f"user{rnd.randrange(5000)}", rnd.choice(["active", "expired"]), note))
        if session_id % 4 == 0:
            db.execute("INSERT INTO attachments(session_id, data) VALUES (?, ?)", (session_id, rnd.randbytes(1200)))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(f"{args.db}: {os.path.getsize(args.db) / 1048576:.0f} MiB, {session_id} sessions")
