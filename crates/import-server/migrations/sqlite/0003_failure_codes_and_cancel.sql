-- Why a failed row failed, as a code of the core's FailureCode set; NULL for
-- rows that did not fail.
ALTER TABLE videos ADD COLUMN error_code TEXT;

-- When the job's owner cancelled it (ms); NULL for a job not cancelled.
ALTER TABLE jobs ADD COLUMN cancelled_at INTEGER;

-- The failed listed rows of each job by code, kept up to date as rows
-- finish, so that a job's failure summary is one small read: examples is a
-- JSON array of up to five source URIs.
CREATE TABLE job_failures (
    job_id   TEXT NOT NULL,
    code     TEXT NOT NULL,
    count    INTEGER NOT NULL,
    examples TEXT NOT NULL,
    PRIMARY KEY (job_id, code)
);

-- A caller's jobs, newest first (ids sort by creation time).
CREATE INDEX jobs_org ON jobs (org_id, id);
