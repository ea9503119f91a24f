-- Fewer index entries per new row: creating a job writes one entry per row in
-- every index of `videos`, which is most of a big job's creation time.
--
-- The rows of a job are found through videos_job (job_id, id); the index on
-- (job_id, status) served only the job's completion check, which now runs
-- once the job's listed rows are all counted, and the retry of failed rows.
DROP INDEX videos_job_status;

-- Only the views of multi-view sets have a set; single-view rows (most of
-- them) need no entry.
DROP INDEX videos_set;
CREATE INDEX videos_set ON videos (set_id) WHERE set_id IS NOT NULL;
