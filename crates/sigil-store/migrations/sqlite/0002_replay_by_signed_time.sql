-- sigil store, SQLite schema version 2: replay records keyed by the time
-- their statement was signed.
--
-- Version 1 keyed replay_records by (namespace, key). The key is a SHA-256,
-- so each insert landed on a random leaf of a table holding every statement
-- of the last minutes (millions of rows at full rate): one 4 KiB page
-- written to the WAL, and later checkpointed, per token. Statements arrive
-- moments after they were signed, so with their own time first in the key
-- the inserts of a batch append to the same few pages at the end of the
-- table (docs/decisions/0005-store-design.md).
--
-- Rows of version 1 carry no statement time: they keep signed_at_ms = -1
-- (no real time is negative), and the store also looks a key up under -1
-- for as long as such rows remain (src/sqlite/replay.rs); the purge removes
-- them once they expire.
CREATE TABLE replay_records_v2 (
    namespace     INTEGER NOT NULL CHECK (namespace BETWEEN 1 AND 255),
    signed_at_ms  INTEGER NOT NULL CHECK (signed_at_ms >= -1),
    key           BLOB    NOT NULL CHECK (length(key) = 32),
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (namespace, signed_at_ms, key)
) STRICT, WITHOUT ROWID;

INSERT INTO replay_records_v2 (namespace, signed_at_ms, key, expires_at_ms)
    SELECT namespace, -1, key, expires_at_ms FROM replay_records;

DROP TABLE replay_records;
ALTER TABLE replay_records_v2 RENAME TO replay_records;

CREATE INDEX replay_records_expiry ON replay_records (expires_at_ms);
