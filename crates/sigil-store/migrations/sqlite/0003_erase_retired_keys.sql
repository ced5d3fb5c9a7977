-- sigil store, SQLite schema version 3: a retired signing key keeps no
-- private key.
--
-- A retired key neither signs nor verifies (docs/protocol.md §13): every token it
-- signed has expired. Its PKCS#8 document (sealed or not) is only a risk
-- then, so retiring a key erases it (pkcs8 becomes NULL) and the table
-- refuses a retired key that still holds one. kid, state and times stay,
-- for `sigil keys list`. Keys retired before this version are erased here.
-- See docs/decisions/0011-keys-at-rest.md.
CREATE TABLE signing_keys_v3 (
    kid           TEXT    NOT NULL PRIMARY KEY CHECK (kid <> ''),
    pkcs8         BLOB    CHECK (pkcs8 IS NULL OR length(pkcs8) > 0),
    state         TEXT    NOT NULL CHECK (state IN ('current', 'retiring', 'retired')),
    created_at_ms INTEGER NOT NULL,
    retires_at_ms INTEGER,
    CHECK ((state = 'current') = (retires_at_ms IS NULL)),
    CHECK ((state = 'retired') = (pkcs8 IS NULL))
) STRICT;

INSERT INTO signing_keys_v3 (kid, pkcs8, state, created_at_ms, retires_at_ms)
    SELECT kid, CASE WHEN state = 'retired' THEN NULL ELSE pkcs8 END,
           state, created_at_ms, retires_at_ms
    FROM signing_keys;

DROP TABLE signing_keys;
ALTER TABLE signing_keys_v3 RENAME TO signing_keys;

-- At most one current key, whoever writes.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
