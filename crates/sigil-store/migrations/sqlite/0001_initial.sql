-- sigil store, SQLite schema version 1: replay records, signing keys, accounts.
-- Times are milliseconds since the Unix epoch. Applied once, inside one
-- transaction, by src/sqlite/schema.rs; never edit an applied migration, add
-- the next file instead.

-- One row per (namespace, statement); see ReplayNamespace for the codes.
-- A row is live while now < expires_at_ms. WITHOUT ROWID: the primary key is
-- the table, so an insert writes one b-tree plus the expiry index.
CREATE TABLE replay_records (
    namespace     INTEGER NOT NULL CHECK (namespace BETWEEN 1 AND 255),
    key           BLOB    NOT NULL CHECK (length(key) = 32),
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX replay_records_expiry ON replay_records (expires_at_ms);

-- pkcs8 is opaque: encrypted by the caller when SIGIL_MASTER_KEY is set.
CREATE TABLE signing_keys (
    kid           TEXT    NOT NULL PRIMARY KEY CHECK (kid <> ''),
    pkcs8         BLOB    NOT NULL CHECK (length(pkcs8) > 0),
    state         TEXT    NOT NULL CHECK (state IN ('current', 'retiring', 'retired')),
    created_at_ms INTEGER NOT NULL,
    retires_at_ms INTEGER,
    CHECK ((state = 'current') = (retires_at_ms IS NULL))
) STRICT;

-- At most one current key, whoever writes.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';

-- audiences: a JSON array of URL prefixes.
CREATE TABLE accounts (
    pubkey        TEXT    NOT NULL PRIMARY KEY CHECK (length(pubkey) = 66),
    name          TEXT,
    bap_id        TEXT,
    audiences     TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(audiences)),
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
) STRICT;
