-- Keys an operator can manage: an id to name a key by (never the key), when
-- it was last used, an optional expiry, and revocation.
ALTER TABLE api_keys ADD COLUMN id TEXT;
UPDATE api_keys SET id = 'ak_' || substr(key_hash, 1, 16);
CREATE UNIQUE INDEX api_keys_id ON api_keys (id);
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
