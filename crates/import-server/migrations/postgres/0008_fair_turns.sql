-- Fair share between organisations: each row takes a turn in its
-- organisation's line when it is queued, and workers claim the lowest turn.
-- An organisation's new rows start at the turn being served now (or after
-- its own last turn), so a big job of one organisation and a small one of
-- another interleave instead of queueing one behind the other. Rows queued
-- before this migration keep turn 0 and go first, in id order, as before.
ALTER TABLE videos ADD COLUMN turn BIGINT NOT NULL DEFAULT 0;
DROP INDEX videos_queue;
CREATE INDEX videos_queue ON videos (status, turn, id);
CREATE TABLE org_turns (
    org_id    TEXT PRIMARY KEY,
    next_turn BIGINT NOT NULL
);
