// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0
/// Versioned migrations of the state database, keyed on `PRAGMA user_version`.
/// Append only: a released migration never changes, a new one goes at the end.
enum LedgerSchema {
    static let migrations: [String] = [
        // 1: deployments, notes and locks (what deploy and handoff first needed).
        """
        CREATE TABLE deployments (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'deploy',          -- deploy | rollback
            version TEXT NOT NULL,
            previous_version TEXT,
            status TEXT NOT NULL,                         -- running | succeeded | failed | rolled_back | interrupted
            git_commit TEXT,
            image TEXT,
            container TEXT,
            started_at REAL NOT NULL,
            finished_at REAL,
            actor TEXT,
            host TEXT,
            pid INTEGER,
            message TEXT,
            reason TEXT,
            logs TEXT
        );
        CREATE INDEX deployments_env_started ON deployments(env, started_at);
        CREATE TABLE notes (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            text TEXT NOT NULL,
            author TEXT,
            created_at REAL NOT NULL,
            resolved_at REAL
        );
        CREATE TABLE locks (
            scope TEXT PRIMARY KEY,                       -- e.g. deploy:production, backup:/srv/app.db
            holder TEXT NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            command TEXT NOT NULL,
            acquired_at REAL NOT NULL
        );
        """,
        // 2: backups, verifications and smoke runs.
        """
        CREATE TABLE backups (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            database_path TEXT NOT NULL,
            file TEXT,
            status TEXT NOT NULL,                         -- running | succeeded | failed
            bytes INTEGER,
            source_bytes INTEGER,
            pages INTEGER,
            sha256 TEXT,
            started_at REAL NOT NULL,
            finished_at REAL,
            error TEXT
        );
        CREATE INDEX backups_env_started ON backups(env, started_at);
        CREATE TABLE verifications (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            file TEXT NOT NULL,
            status TEXT NOT NULL,                         -- ok | failed
            reason TEXT,
            deep INTEGER NOT NULL DEFAULT 0,
            checked_at REAL NOT NULL,
            duration_ms INTEGER
        );
        CREATE INDEX verifications_env_checked ON verifications(env, checked_at);
        CREATE INDEX verifications_file ON verifications(file, checked_at);
        CREATE TABLE smoke_runs (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            base_url TEXT,
            status TEXT NOT NULL,                         -- passed | failed
            passed INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            started_at REAL NOT NULL,
            duration_ms INTEGER,
            details TEXT                                  -- JSON, secrets already redacted
        );
        CREATE INDEX smoke_runs_env_started ON smoke_runs(env, started_at);
        """,
        // 3: restores (and restore drills).
        """
        CREATE TABLE restores (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            backup TEXT NOT NULL,
            target TEXT NOT NULL,
            drill INTEGER NOT NULL,                       -- 1: --to elsewhere, the live database untouched
            safety_copy TEXT,
            status TEXT NOT NULL,                         -- succeeded | failed
            reason TEXT,
            actor TEXT,
            finished_at REAL NOT NULL
        );
        """,
        // 4: archived handoff reports (the next one says what changed since).
        """
        CREATE TABLE handoffs (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            generated_at REAL NOT NULL,
            window_from REAL NOT NULL,
            window_to REAL NOT NULL,
            verdict TEXT NOT NULL,                        -- Healthy | Warning | Critical
            author TEXT,
            report TEXT NOT NULL                          -- the JSON report, secrets already redacted
        );
        CREATE INDEX handoffs_env_generated ON handoffs(env, generated_at);
        """,
        // 5: strategies: the slot each release ran on, and the release kept on standby after a switch.
        """
        ALTER TABLE deployments ADD COLUMN strategy TEXT;  -- stop-start | blue-green (NULL: before strategies)
        ALTER TABLE deployments ADD COLUMN slot TEXT;      -- blue-green: where the release ran
        CREATE TABLE standby (
            env TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            slot TEXT,                                     -- NULL: a release from before blue/green
            container TEXT NOT NULL,
            since REAL NOT NULL,
            expires_at REAL NOT NULL
        );
        """,
        // 6: off-site copies on S3-compatible storage: each object upload, and each run.
        """
        CREATE TABLE offsite_uploads (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            url TEXT NOT NULL,                            -- s3://bucket/prefix/file (never a credential)
            file TEXT NOT NULL,
            backup_time REAL,                             -- when the backup was taken (from its name)
            status TEXT NOT NULL,                         -- uploaded | failed
            bytes INTEGER,
            parts INTEGER,
            duration_ms INTEGER,
            error_code TEXT,                              -- S3's code (SignatureDoesNotMatch, ...) or opsctl's
            error TEXT,
            finished_at REAL NOT NULL
        );
        CREATE INDEX offsite_uploads_env_time ON offsite_uploads(env, backup_time);
        CREATE TABLE offsite_runs (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            url TEXT NOT NULL,
            status TEXT NOT NULL,                         -- succeeded | failed
            uploaded INTEGER NOT NULL,
            pending INTEGER NOT NULL,                     -- local backups still without a complete copy
            aborted_uploads INTEGER NOT NULL,             -- stale multipart uploads of killed runs
            pruned INTEGER NOT NULL,
            error_code TEXT,
            error TEXT,
            started_at REAL NOT NULL,
            finished_at REAL NOT NULL
        );
        CREATE INDEX offsite_runs_env_started ON offsite_runs(env, started_at);
        """,
        // 7: canary steps: the share of live traffic each step gave the new release, and what nginx's log showed.
        """
        CREATE TABLE canary_steps (
            id INTEGER PRIMARY KEY,
            deployment_id INTEGER NOT NULL,               -- deployments.id
            step INTEGER NOT NULL,                        -- 1-based
            share INTEGER NOT NULL,                       -- percent of live traffic to the new release
            started_at REAL NOT NULL,
            watched_ms INTEGER NOT NULL,
            requests_old INTEGER NOT NULL,
            requests_new INTEGER NOT NULL,
            errors_old INTEGER NOT NULL,                  -- 5xx (and attempts nginx gave up on)
            errors_new INTEGER NOT NULL,
            p99_old_ms REAL,
            p99_new_ms REAL,
            verdict TEXT NOT NULL,                        -- passed | failed | interrupted
            reason TEXT,
            extended INTEGER NOT NULL DEFAULT 0,          -- 1: watched past pause (fewer than min_requests)
            failing_paths TEXT                            -- JSON [{path, count}] of the new release
        );
        CREATE INDEX canary_steps_deployment ON canary_steps(deployment_id, step);
        """,
        // 8: incidents: each one opened and closed, and its own timeline (notes, diagnostic bundles,
        // webhook notices, and every opsctl command run on the environment while it was open).
        """
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            title TEXT NOT NULL,                          -- secrets scrubbed
            severity TEXT NOT NULL,                       -- critical | major | minor
            opened_at REAL NOT NULL,
            opened_by TEXT,
            closed_at REAL,                               -- NULL while open
            closed_by TEXT,
            summary TEXT                                  -- close --summary, secrets scrubbed
        );
        CREATE INDEX incidents_env_open ON incidents(env, closed_at);
        CREATE TABLE incident_events (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            kind TEXT NOT NULL,                           -- note | bundle | notice | command
            at REAL NOT NULL,
            finished_at REAL,                             -- command: when it ended
            actor TEXT,
            text TEXT NOT NULL,                           -- the note, the bundle's file, the notice's outcome, the command line (secrets scrubbed)
            exit_code INTEGER,                            -- command: its exit code
            error_code TEXT,                              -- command: the error's code when it failed
            pid INTEGER,                                  -- command: its process (deployments.pid names the same one)
            detail TEXT                                   -- bundle: JSON of its parts and how each went
        );
        CREATE INDEX incident_events_incident ON incident_events(incident_id, at);
        """,
        // 9: maintenance and pauses through the proxy: what users got, and the upstream file each one replaced.
        """
        CREATE TABLE maintenance (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            state TEXT NOT NULL,                          -- on | paused (while it lasts)
            source TEXT NOT NULL,                         -- maintenance | restore
            message TEXT NOT NULL,                        -- the page's message
            retry_after INTEGER NOT NULL,                 -- seconds, the Retry-After header
            upstream_file TEXT NOT NULL,
            replaced_upstream TEXT NOT NULL,              -- the file's exact text before: what off and resume put back
            token TEXT NOT NULL,                          -- sent back by the front and the gate, so a confirmation knows them
            hold_until REAL,                              -- paused: when the bound passes and held requests get the page
            gate_pid INTEGER,                             -- paused: the gate process (opsctl maintenance-gate)
            gate_address TEXT,
            started_at REAL NOT NULL,
            actor TEXT,
            ended_at REAL,                                -- NULL while it lasts
            end_reason TEXT
        );
        CREATE INDEX maintenance_env_started ON maintenance(env, started_at);
        """,
        // 10: maintenance of the app's database (opsctl db): what ran, what it changed, how long writers waited.
        """
        CREATE TABLE database_maintenance (
            id INTEGER PRIMARY KEY,
            env TEXT NOT NULL,
            database_path TEXT NOT NULL,
            operation TEXT NOT NULL,                      -- optimize | vacuum | checkpoint
            method TEXT NOT NULL,                         -- optimize: limited | full; vacuum: incremental | swap; checkpoint: passive | truncate
            status TEXT NOT NULL,                         -- succeeded | failed
            started_at REAL NOT NULL,
            finished_at REAL NOT NULL,
            bytes_before INTEGER,                         -- the database file (its WAL aside)
            bytes_after INTEGER,
            freelist_before INTEGER,                      -- free pages
            freelist_after INTEGER,
            writer_hold_ms REAL,                          -- opsctl's write transactions in all: the app's writers waited at most this
            longest_hold_ms REAL,
            generation TEXT,                              -- vacuum by swap: the new file's id; a WAL replica starts a new generation
            safety_copy TEXT,
            summary TEXT,                                 -- what changed, one line
            error TEXT
        );
        CREATE INDEX database_maintenance_env ON database_maintenance(env, operation, finished_at);
        """,
    ]

    static var latestVersion: Int { migrations.count }
}
