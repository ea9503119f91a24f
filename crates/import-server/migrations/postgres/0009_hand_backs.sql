-- Times a row was handed back to the queue because its outcome could not be
-- written (import_core::outcome::MAX_FREE_HAND_BACKS bounds the free ones).
ALTER TABLE videos ADD COLUMN hand_backs INTEGER NOT NULL DEFAULT 0;
