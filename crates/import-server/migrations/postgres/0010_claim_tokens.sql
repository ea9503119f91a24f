-- Fencing tokens: every claim of a row counts (`claims`, never reset, not
-- even by a retry), and each claim writes its copy to a media object of its
-- own (`videos/{id}.{claim}.mp4`), so a worker that lost its row can never
-- overwrite the copy of the claim that took it over. `media_claim` is the
-- claim whose copy the row's video is (NULL: a copy made before this
-- migration, at `videos/{id}.mp4`); `upload_claim` the claim that started
-- the unfinished multipart upload kept in `upload_id`.
ALTER TABLE videos ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
ALTER TABLE videos ADD COLUMN media_claim INTEGER;
ALTER TABLE videos ADD COLUMN upload_claim INTEGER;
