-- sigil store, SQLite schema version 5: each signing key keeps its `x5c`
-- certificate.
--
-- The certificate's ECDSA signature is randomised, so an instance that
-- built its own certificate of a shared key published different bytes
-- from the next. The key's creator now stores the certificate with the
-- key; a key stored before this version has none (NULL) until the first
-- instance that loads it stores one with a compare-and-set, and every
-- instance then publishes the stored bytes (docs/protocol.md §13). The
-- certificate is public: it is never sealed, and retiring a key leaves it.
ALTER TABLE signing_keys ADD COLUMN certificate BLOB
    CHECK (certificate IS NULL OR length(certificate) > 0);
