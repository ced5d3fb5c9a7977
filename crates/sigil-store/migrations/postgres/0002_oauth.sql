-- sigil store, PostgreSQL schema version 2: the OAuth 2.0 / OpenID Connect
-- provider (docs/protocol.md §17), as the SQLite schema of version 4 holds
-- it. Secrets (codes, refresh tokens, session ids) are stored as their
-- SHA-256 hex, never as given. Times are ms.

-- A registered client; document is the provider's JSON of it (the secret
-- only as its hash), kept as given (text, not jsonb, which would reformat
-- it; the cast to json checks it).
CREATE TABLE oauth_clients (
    client_id     text   NOT NULL PRIMARY KEY CHECK (client_id <> ''),
    document      text   NOT NULL CHECK (document::json IS NOT NULL),
    created_at_ms bigint NOT NULL
);

-- Authorization codes: single use (used flips false → true once, in one
-- UPDATE … WHERE NOT used RETURNING); grant_id names the grant its first
-- use creates, so that a second use can revoke it.
CREATE TABLE oauth_codes (
    code_hash     text    NOT NULL PRIMARY KEY CHECK (length(code_hash) = 64),
    grant_json    text    NOT NULL CHECK (grant_json::json IS NOT NULL),
    grant_id      text    NOT NULL,
    used          boolean NOT NULL DEFAULT false,
    expires_at_ms bigint  NOT NULL
);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at_ms);

-- Login challenges, bound to the browser that fetched them; consumed by
-- one DELETE.
CREATE TABLE oauth_challenges (
    nonce         text   NOT NULL PRIMARY KEY,
    binding_hash  text   NOT NULL,
    expires_at_ms bigint NOT NULL
);
CREATE INDEX oauth_challenges_expiry ON oauth_challenges (expires_at_ms);

CREATE TABLE oauth_sessions (
    id_hash       text   NOT NULL PRIMARY KEY CHECK (length(id_hash) = 64),
    subject       text   NOT NULL,
    auth_time_ms  bigint NOT NULL,
    csrf_token    text   NOT NULL,
    expires_at_ms bigint NOT NULL
);
CREATE INDEX oauth_sessions_expiry ON oauth_sessions (expires_at_ms);

CREATE TABLE oauth_consents (
    subject       text   NOT NULL,
    client_id     text   NOT NULL,
    scopes        text   NOT NULL,
    granted_at_ms bigint NOT NULL,
    PRIMARY KEY (subject, client_id)
);

-- A grant: what one code exchange issued (its access tokens name it) and
-- its refresh-token family, of which only current_hash is good; rotation
-- is a compare-and-swap on current_hash.
CREATE TABLE oauth_grants (
    grant_id      text    NOT NULL PRIMARY KEY,
    client_id     text    NOT NULL,
    subject       text    NOT NULL,
    scopes        text    NOT NULL,
    resource      text,
    auth_time_s   bigint  NOT NULL,
    current_hash  text,
    previous_hash text,
    rotated_at_ms bigint  NOT NULL,
    revoked       boolean NOT NULL DEFAULT false
);
CREATE INDEX oauth_grants_owner ON oauth_grants (subject, client_id);
CREATE INDEX oauth_grants_client ON oauth_grants (client_id);

-- Every refresh token a grant ever had, so that a rotated-out one is
-- recognised (and revokes its family) however old it is.
CREATE TABLE oauth_refresh_tokens (
    token_hash    text   NOT NULL PRIMARY KEY CHECK (length(token_hash) = 64),
    grant_id      text   NOT NULL
);
CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id);

-- private_key_jwt assertions seen, until they expire (RFC 7523 jti).
CREATE TABLE oauth_assertions (
    client_id     text   NOT NULL,
    jti           text   NOT NULL,
    expires_at_ms bigint NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX oauth_assertions_expiry ON oauth_assertions (expires_at_ms);
