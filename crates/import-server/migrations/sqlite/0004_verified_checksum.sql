-- Which checksum the source declared and the copy matched (the core's
-- ChecksumAlgorithm: md5, crc32c or sha256); NULL when none could be checked.
ALTER TABLE videos ADD COLUMN verified_checksum TEXT;
