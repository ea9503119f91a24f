-- The server processes sharing this database: each registers at start and
-- beats every few seconds; a process whose beat is older than
-- --instance-timeout (or, on PostgreSQL, whose advisory lock lock_key is
-- free: its connection died with it) is dead, and any live process queues
-- its rows again at once.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    lock_key     INTEGER NOT NULL
);

-- The process whose worker holds a row's lease (NULL unless UPLOADING).
ALTER TABLE videos ADD COLUMN instance_id TEXT;
-- The media bucket's multipart upload of the row's copy in progress, so that
-- whoever takes the row over aborts what a dead process left.
ALTER TABLE videos ADD COLUMN upload_id TEXT;

-- Idempotency keys belong to an organisation and a user, and a reservation
-- to the process serving it (taken over only once that process is dead).
CREATE TABLE idempotency_keys (
    org_id      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    -- NULL while the first request is being served
    status      INTEGER,
    body        BLOB,
    created_at  INTEGER NOT NULL,
    instance_id TEXT,
    PRIMARY KEY (org_id, user_id, key)
);
INSERT INTO idempotency_keys (org_id, user_id, key, fingerprint, status, body, created_at, instance_id)
    SELECT COALESCE((SELECT k.org_id FROM api_keys k WHERE k.user_id = i.user_id LIMIT 1), ''),
           i.user_id, i.key, i.fingerprint, i.status, i.body, i.created_at, NULL
    FROM idempotency i WHERE i.status IS NOT NULL;
DROP TABLE idempotency;
