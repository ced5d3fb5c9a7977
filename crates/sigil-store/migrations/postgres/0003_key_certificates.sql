-- sigil store, PostgreSQL schema version 3: each signing key keeps its
-- `x5c` certificate (see migrations/sqlite/0005_key_certificates.sql).
--
-- The key's creator stores the certificate with the key (under the key
-- advisory lock); a key stored before this version has none (NULL) until
-- the first instance that loads it stores one with a compare-and-set.
-- Public bytes: never sealed.
ALTER TABLE signing_keys ADD COLUMN certificate bytea
    CHECK (certificate IS NULL OR octet_length(certificate) > 0);
