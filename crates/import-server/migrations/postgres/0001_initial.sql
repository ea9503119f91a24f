-- The reference server's schema (PostgreSQL). Times are milliseconds since the Unix epoch.
CREATE TABLE api_keys (
    key_hash     TEXT PRIMARY KEY,
    key_prefix   TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    display_name TEXT,
    created_at   BIGINT NOT NULL
);

CREATE TABLE folders (
    id          TEXT COLLATE "C" PRIMARY KEY,
    org_id      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    -- the owner for `user` folders, '' for `org` folders
    owner_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (org_id, scope, owner_id, name)
);

CREATE TABLE integrations (
    id                      TEXT PRIMARY KEY,
    org_id                  TEXT NOT NULL,
    created_by              TEXT NOT NULL,
    created_by_display_name TEXT,
    name                    TEXT NOT NULL,
    kind                    TEXT NOT NULL,
    bucket                  TEXT NOT NULL,
    prefix                  TEXT,
    region                  TEXT,
    endpoint_url            TEXT,
    -- AES-256-GCM sealed JSON of the secrets: nonce || ciphertext
    sealed_secrets          BYTEA NOT NULL,
    created_at              BIGINT NOT NULL,
    last_used               BIGINT
);
CREATE INDEX integrations_org ON integrations (org_id, kind, bucket, created_at);

CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    scope          TEXT NOT NULL,
    source         TEXT NOT NULL,
    bucket         TEXT NOT NULL,
    prefix         TEXT,
    folder_id      TEXT,
    folder_name    TEXT,
    collection     TEXT NOT NULL,
    integration_id TEXT,
    multi_view     BIGINT NOT NULL,
    total          BIGINT NOT NULL,
    uploaded       BIGINT NOT NULL DEFAULT 0,
    failed         BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    completed_at   BIGINT
);

-- One row per object. The rows are the queue: workers claim PENDING rows with a lease.
CREATE TABLE videos (
    id          TEXT COLLATE "C" PRIMARY KEY,
    job_id      TEXT NOT NULL,
    -- multi-view: the set's id (= the front's id) and the role; NULL for single-view
    set_id      TEXT,
    role        TEXT,
    object      TEXT NOT NULL,
    source_uri  TEXT NOT NULL,
    status      TEXT NOT NULL,
    error       TEXT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    not_before  BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    size_bytes  BIGINT,
    sha256      TEXT,
    duration_s  DOUBLE PRECISION,
    width       BIGINT,
    height      BIGINT,
    codec       TEXT,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX videos_job ON videos (job_id, id);
CREATE INDEX videos_queue ON videos (status, not_before, id);
CREATE INDEX videos_set ON videos (set_id);
CREATE INDEX videos_job_status ON videos (job_id, status);

CREATE TABLE idempotency (
    user_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    -- NULL while the first request is being served
    status      BIGINT,
    body        BYTEA,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
