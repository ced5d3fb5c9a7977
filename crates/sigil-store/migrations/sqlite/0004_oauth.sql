-- sigil store, SQLite schema version 4: the OAuth 2.0 / OpenID Connect
-- provider (docs/protocol.md §17). Secrets (codes, refresh tokens, session
-- ids) are stored as their SHA-256 hex, never as given. Times are ms.

-- A registered client; document is the provider's JSON of it (the secret
-- only as its hash).
CREATE TABLE oauth_clients (
    client_id     TEXT    NOT NULL PRIMARY KEY CHECK (client_id <> ''),
    document      TEXT    NOT NULL CHECK (json_valid(document)),
    created_at_ms INTEGER NOT NULL
) STRICT;

-- Authorization codes: single use (used flips 0 → 1 once); grant_id names
-- the grant its first use creates, so that a second use can revoke it.
CREATE TABLE oauth_codes (
    code_hash     TEXT    NOT NULL PRIMARY KEY CHECK (length(code_hash) = 64),
    grant_json    TEXT    NOT NULL CHECK (json_valid(grant_json)),
    grant_id      TEXT    NOT NULL,
    used          INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
    expires_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at_ms);

-- Login challenges, bound to the browser that fetched them.
CREATE TABLE oauth_challenges (
    nonce         TEXT    NOT NULL PRIMARY KEY,
    binding_hash  TEXT    NOT NULL,
    expires_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_challenges_expiry ON oauth_challenges (expires_at_ms);

CREATE TABLE oauth_sessions (
    id_hash       TEXT    NOT NULL PRIMARY KEY CHECK (length(id_hash) = 64),
    subject       TEXT    NOT NULL,
    auth_time_ms  INTEGER NOT NULL,
    csrf_token    TEXT    NOT NULL,
    expires_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_sessions_expiry ON oauth_sessions (expires_at_ms);

CREATE TABLE oauth_consents (
    subject       TEXT    NOT NULL,
    client_id     TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,
    granted_at_ms INTEGER NOT NULL,
    PRIMARY KEY (subject, client_id)
) STRICT;

-- A grant: what one code exchange issued (its access tokens name it) and
-- its refresh-token family, of which only current_hash is good.
CREATE TABLE oauth_grants (
    grant_id      TEXT    NOT NULL PRIMARY KEY,
    client_id     TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,
    resource      TEXT,
    auth_time_s   INTEGER NOT NULL,
    current_hash  TEXT,
    previous_hash TEXT,
    rotated_at_ms INTEGER NOT NULL,
    revoked       INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT;
CREATE INDEX oauth_grants_owner ON oauth_grants (subject, client_id);

-- Every refresh token a grant ever had, so that a rotated-out one is
-- recognised (and revokes its family) however old it is.
CREATE TABLE oauth_refresh_tokens (
    token_hash    TEXT    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 64),
    grant_id      TEXT    NOT NULL
) STRICT;
CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id);

-- private_key_jwt assertions seen, until they expire (RFC 7523 jti).
CREATE TABLE oauth_assertions (
    client_id     TEXT    NOT NULL,
    jti           TEXT    NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
) STRICT;
CREATE INDEX oauth_assertions_expiry ON oauth_assertions (expires_at_ms);
