import GRDB

extension SQLiteStore {
    /// Numbered schema migrations; append new ones, never edit a shipped one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("001-core") { db in
            try db.execute(sql: """
                CREATE TABLE jobs (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    team TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    state TEXT NOT NULL,
                    priority INTEGER NOT NULL,
                    task_count INTEGER NOT NULL,
                    next_unstarted INTEGER NOT NULL,
                    submitted_at INTEGER NOT NULL,
                    started_at INTEGER,
                    ended_at INTEGER,
                    reason TEXT,
                    submitted_by TEXT NOT NULL,
                    spec TEXT NOT NULL
                );
                CREATE INDEX jobs_team_state ON jobs(team, state);
                -- One row per shard that has started at least once; unstarted shards are jobs.next_unstarted..task_count.
                CREATE TABLE tasks (
                    job_id INTEGER NOT NULL REFERENCES jobs(id),
                    idx INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    failures INTEGER NOT NULL,
                    lost INTEGER NOT NULL,
                    attempts INTEGER NOT NULL,
                    current_attempt INTEGER,
                    not_before INTEGER,
                    PRIMARY KEY (job_id, idx)
                ) WITHOUT ROWID;
                CREATE TABLE nodes (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE,
                    millicores INTEGER NOT NULL,
                    memory_bytes INTEGER NOT NULL,
                    gpus INTEGER NOT NULL,
                    gpu_indices TEXT NOT NULL,
                    labels TEXT NOT NULL,
                    prices TEXT NOT NULL,
                    state TEXT NOT NULL,
                    registered_at INTEGER NOT NULL,
                    token_hash TEXT NOT NULL
                );
                -- The attempt id is also its fencing token.
                CREATE TABLE attempts (
                    id INTEGER PRIMARY KEY,
                    job_id INTEGER NOT NULL REFERENCES jobs(id),
                    idx INTEGER NOT NULL,
                    number INTEGER NOT NULL,
                    node_id INTEGER NOT NULL REFERENCES nodes(id),
                    state TEXT NOT NULL,
                    millicores INTEGER NOT NULL,
                    memory_bytes INTEGER NOT NULL,
                    gpus INTEGER NOT NULL,
                    gpu_indices TEXT NOT NULL,
                    started_at INTEGER NOT NULL,
                    ended_at INTEGER,
                    exit_code INTEGER,
                    signal INTEGER,
                    peak_rss_bytes INTEGER,
                    cost_micros INTEGER,
                    progress TEXT,
                    reason TEXT
                );
                CREATE INDEX attempts_job ON attempts(job_id, idx);
                CREATE INDEX attempts_running ON attempts(state) WHERE state = 'running';
                CREATE TABLE events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at INTEGER NOT NULL,
                    subject TEXT NOT NULL,
                    job_id INTEGER,
                    from_state TEXT,
                    to_state TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    actor TEXT NOT NULL
                );
                CREATE INDEX events_job ON events(job_id, id) WHERE job_id IS NOT NULL;
                CREATE TABLE logs (
                    attempt_id INTEGER NOT NULL,
                    offset INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (attempt_id, offset)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("002-tokens") { db in
            try db.execute(sql: """
                -- API tokens; only the SHA-256 of each secret is kept.
                CREATE TABLE tokens (
                    id TEXT PRIMARY KEY,
                    hash TEXT NOT NULL UNIQUE,
                    role TEXT NOT NULL,
                    team TEXT,
                    created_at INTEGER NOT NULL,
                    created_by TEXT NOT NULL,
                    revoked_at INTEGER
                );
                """)
        }
        migrator.registerMigration("003-quotas") { db in
            try db.execute(sql: "CREATE TABLE quotas (team TEXT PRIMARY KEY, quota TEXT NOT NULL)")
        }
        migrator.registerMigration("004-drain-deadline") { db in
            try db.execute(sql: "ALTER TABLE nodes ADD COLUMN drain_deadline INTEGER")
        }
        migrator.registerMigration("005-cost-ledger") { db in
            try db.execute(sql: """
                -- One row per priced resource of an attempt per booked interval. Append-only: a
                -- correction is a new row that reverses an old one (each at most once).
                CREATE TABLE ledger (
                    id INTEGER PRIMARY KEY,
                    attempt_id INTEGER NOT NULL,
                    team TEXT NOT NULL,
                    job_id INTEGER NOT NULL,
                    node_id INTEGER NOT NULL,
                    resource TEXT NOT NULL,
                    quantity INTEGER NOT NULL,
                    rate_micros INTEGER NOT NULL,
                    amount_micros INTEGER NOT NULL,
                    from_ms INTEGER NOT NULL,
                    to_ms INTEGER NOT NULL,
                    reverses INTEGER UNIQUE REFERENCES ledger(id),
                    note TEXT
                );
                CREATE INDEX ledger_to ON ledger(to_ms);
                CREATE INDEX ledger_attempt ON ledger(attempt_id);
                CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
                    BEGIN SELECT RAISE(ABORT, 'the cost ledger is append-only; reverse a row instead'); END;
                CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
                    BEGIN SELECT RAISE(ABORT, 'the cost ledger is append-only; reverse a row instead'); END;
                CREATE TABLE budget_alerts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    team TEXT NOT NULL,
                    level TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    period_start_day INTEGER NOT NULL,
                    spent_micros INTEGER NOT NULL,
                    budget_micros INTEGER NOT NULL,
                    message TEXT NOT NULL
                );
                -- How far a running attempt's cost is booked (NULL once it ended).
                ALTER TABLE attempts ADD COLUMN meter TEXT;
                -- The rates the agent declared; nodes.prices holds those in force.
                ALTER TABLE nodes ADD COLUMN declared_prices TEXT;
                """)
        }
        migrator.registerMigration("006-running-tasks") { db in
            // Load finds the finished jobs that still run an attempt without reading every row.
            try db.execute(sql: "CREATE INDEX tasks_running ON tasks(job_id) WHERE state = 'running'")
        }
        migrator.registerMigration("007-idempotency-keys") { db in
            // The client's Idempotency-Key of a submission: a retried submit finds its first job.
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN idempotency_key TEXT")
        }
        migrator.registerMigration("008-node-task-isolation") { db in
            // `uid` or `none` (TaskIsolation); NULL for nodes registered before, read as `none`.
            try db.execute(sql: "ALTER TABLE nodes ADD COLUMN task_isolation TEXT")
        }
        migrator.registerMigration("009-webhooks") { db in
            try db.execute(sql: """
                -- Registered webhooks; the secret is sealed by the coordinator's key.
                CREATE TABLE webhooks (
                    id TEXT PRIMARY KEY,
                    url TEXT NOT NULL,
                    events TEXT NOT NULL,
                    team TEXT,
                    sealed_secret TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    created_by TEXT NOT NULL
                );
                -- The outbox: one row per event per matching webhook, queued in the commit of the
                -- change that caused the event. The payload is the exact body (bounded by the coordinator).
                CREATE TABLE webhook_deliveries (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    webhook_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    tries INTEGER NOT NULL,
                    next_try INTEGER,
                    last_status INTEGER,
                    last_error TEXT
                );
                CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_try) WHERE state = 'pending';
                CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, seq);
                -- The delivery log: every try, with its answer or error and how long it took.
                CREATE TABLE webhook_tries (
                    delivery_id TEXT NOT NULL,
                    number INTEGER NOT NULL,
                    at INTEGER NOT NULL,
                    status INTEGER,
                    error TEXT,
                    duration_ms INTEGER NOT NULL,
                    PRIMARY KEY (delivery_id, number)
                ) WITHOUT ROWID;
                """)
        }
        return migrator
    }
}
