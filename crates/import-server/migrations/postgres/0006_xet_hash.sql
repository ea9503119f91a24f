-- The Hugging Face Hub's Xet hash of an object imported from a bucket.
ALTER TABLE videos ADD COLUMN xet_hash TEXT;
