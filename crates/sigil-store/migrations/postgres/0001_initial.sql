-- sigil store, PostgreSQL schema version 1: replay records, signing keys,
-- accounts, as the SQLite schema of version 3 holds them. Times are
-- milliseconds since the Unix epoch. Applied once, inside the migration
-- transaction that holds the schema's advisory lock (src/postgres/schema.rs);
-- never edit an applied migration, add the next file instead.

-- One row per (namespace, statement); see ReplayNamespace for the codes. A
-- row is live while now < expires_at_ms. The primary key decides
-- insert-if-absent (INSERT … ON CONFLICT); the expiry index serves the purge.
CREATE TABLE replay_records (
    namespace     smallint NOT NULL CHECK (namespace BETWEEN 1 AND 255),
    key           bytea    NOT NULL CHECK (length(key) = 32),
    signed_at_ms  bigint   NOT NULL,
    expires_at_ms bigint   NOT NULL,
    PRIMARY KEY (namespace, key)
);

CREATE INDEX replay_records_expiry ON replay_records (expires_at_ms);

-- pkcs8 is opaque: encrypted by the caller when SIGIL_MASTER_KEY is set, and
-- erased (NULL) when the key retires.
CREATE TABLE signing_keys (
    kid           text   NOT NULL PRIMARY KEY CHECK (kid <> ''),
    pkcs8         bytea  CHECK (pkcs8 IS NULL OR length(pkcs8) > 0),
    state         text   NOT NULL CHECK (state IN ('current', 'retiring', 'retired')),
    created_at_ms bigint NOT NULL,
    retires_at_ms bigint,
    CHECK ((state = 'current') = (retires_at_ms IS NULL)),
    CHECK ((state = 'retired') = (pkcs8 IS NULL))
);

-- At most one current key, whichever instance writes.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';

CREATE TABLE accounts (
    pubkey        text   NOT NULL PRIMARY KEY CHECK (length(pubkey) = 66),
    name          text,
    bap_id        text,
    audiences     text[] NOT NULL DEFAULT '{}',
    created_at_ms bigint NOT NULL,
    revoked_at_ms bigint
);
