-- Grant records of the OpenID Connect flows (store.GrantReader /
-- store.GrantTx) and the clients' OIDC fields. Every secret is stored as
-- its SHA-256 only. A record goes with its tenant, client or user (ON DELETE
-- CASCADE); user_id is NULL where no user is known yet (a pending device
-- code), which the foreign key accepts. Each table has an index on
-- expires_at for DeleteExpiredGrants, and on its user_id and client_id so
-- that the cascades do not scan the table once per deleted row.

-- +goose Up
ALTER TABLE clients ADD COLUMN jwks BLOB NOT NULL DEFAULT x'';
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';

CREATE TABLE auth_codes (
    hash              BLOB PRIMARY KEY,
    tenant            TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id         TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id           TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id        TEXT NOT NULL,
    redirect_uri      TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    nonce             TEXT NOT NULL,
    code_challenge    TEXT NOT NULL,
    auth_time         TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    redeemed_at       TEXT,
    issued_jti        TEXT NOT NULL,
    issued_expires_at TEXT NOT NULL,
    issued_family     TEXT NOT NULL
) STRICT;

CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);
CREATE INDEX auth_codes_client_id ON auth_codes (client_id);
CREATE INDEX auth_codes_user_id ON auth_codes (user_id);

CREATE TABLE refresh_families (
    id                  TEXT PRIMARY KEY,
    tenant              TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id           TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id             TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id          TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    auth_time           TEXT NOT NULL,
    current_hash        BLOB NOT NULL,
    previous_hash       BLOB NOT NULL,
    rotated_at          TEXT NOT NULL,
    generation          INTEGER NOT NULL,
    last_jti            TEXT NOT NULL,
    last_jti_expires_at TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    expires_at          TEXT NOT NULL,
    revoked_at          TEXT,
    revoke_reason       TEXT NOT NULL
) STRICT;

CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);
CREATE INDEX refresh_families_client_id ON refresh_families (client_id);
-- Also serves ListRefreshFamilies.
CREATE INDEX refresh_families_user_id ON refresh_families (user_id, created_at);

CREATE TABLE device_codes (
    hash           BLOB PRIMARY KEY,
    user_code_hash BLOB NOT NULL UNIQUE,
    tenant         TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes         TEXT NOT NULL,
    status         TEXT NOT NULL,
    user_id        TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id     TEXT NOT NULL,
    auth_time      TEXT NOT NULL,
    poll_interval  INTEGER NOT NULL,
    last_polled_at TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
) STRICT;

CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
CREATE INDEX device_codes_client_id ON device_codes (client_id);
CREATE INDEX device_codes_user_id ON device_codes (user_id);

CREATE TABLE sessions (
    hash       BLOB PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    tenant     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    auth_time  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;

CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE consents (
    tenant     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, user_id, client_id)
) STRICT;

CREATE INDEX consents_user_id ON consents (user_id);
CREATE INDEX consents_client_id ON consents (client_id);

-- The jti of each accepted client assertion until it expires (RFC 7523 §3).
CREATE TABLE client_assertions (
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    jti        TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (client_id, jti)
) STRICT;

CREATE INDEX client_assertions_expires_at ON client_assertions (expires_at);

-- +goose Down
DROP TABLE client_assertions;
DROP TABLE consents;
DROP TABLE sessions;
DROP TABLE device_codes;
DROP TABLE refresh_families;
DROP TABLE auth_codes;
ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
ALTER TABLE clients DROP COLUMN id_token_alg;
ALTER TABLE clients DROP COLUMN jwks_uri;
ALTER TABLE clients DROP COLUMN jwks;
