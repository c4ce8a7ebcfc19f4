-- Grant records of the OpenID Connect flows (store.GrantReader /
-- store.GrantTx) and the clients' OIDC fields. Every secret is stored as
-- its SHA-256 only. A record goes with its tenant, client or user (ON DELETE
-- CASCADE); user_id is NULL where no user is known yet (a pending device
-- code), which the foreign key accepts. Each table has an index on
-- expires_at for DeleteExpiredGrants, and on its user_id and client_id so
-- that the cascades do not scan the table once per deleted row. Primary
-- keys keep the default <table>_pkey name, which mapErr reads as
-- ErrAlreadyExists; any other unique violation is ErrConflict.

-- +goose Up
ALTER TABLE clients
    ADD COLUMN jwks                      bytea NOT NULL DEFAULT ''::bytea,
    ADD COLUMN jwks_uri                  text NOT NULL DEFAULT '',
    ADD COLUMN id_token_alg              text NOT NULL DEFAULT '',
    ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}';

CREATE TABLE auth_codes (
    hash              bytea PRIMARY KEY,
    tenant            text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id         text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id           text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    session_id        text NOT NULL,
    redirect_uri      text NOT NULL,
    scopes            text[] NOT NULL,
    nonce             text NOT NULL,
    code_challenge    text NOT NULL,
    auth_time         timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    redeemed_at       timestamptz,
    issued_jti        text NOT NULL,
    issued_expires_at timestamptz NOT NULL,
    issued_family     text NOT NULL
);

CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);
CREATE INDEX auth_codes_client_id ON auth_codes (client_id);
CREATE INDEX auth_codes_user_id ON auth_codes (user_id);

CREATE TABLE refresh_families (
    id                  text COLLATE "C" PRIMARY KEY,
    tenant              text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id           text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id             text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    session_id          text NOT NULL,
    scopes              text[] NOT NULL,
    auth_time           timestamptz NOT NULL,
    current_hash        bytea NOT NULL,
    previous_hash       bytea NOT NULL,
    rotated_at          timestamptz NOT NULL,
    generation          integer NOT NULL,
    last_jti            text NOT NULL,
    last_jti_expires_at timestamptz NOT NULL,
    created_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    revoked_at          timestamptz,
    revoke_reason       text NOT NULL
);

CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);
CREATE INDEX refresh_families_client_id ON refresh_families (client_id);
-- Also serves ListRefreshFamilies.
CREATE INDEX refresh_families_user_id ON refresh_families (user_id, created_at);

CREATE TABLE device_codes (
    hash           bytea PRIMARY KEY,
    user_code_hash bytea NOT NULL,
    tenant         text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id      text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes         text[] NOT NULL,
    status         text NOT NULL,
    user_id        text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    session_id     text NOT NULL,
    auth_time      timestamptz NOT NULL,
    poll_interval  bigint NOT NULL,
    last_polled_at timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    CONSTRAINT device_codes_user_code_hash UNIQUE (user_code_hash)
);

CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
CREATE INDEX device_codes_client_id ON device_codes (client_id);
CREATE INDEX device_codes_user_id ON device_codes (user_id);

CREATE TABLE sessions (
    hash       bytea PRIMARY KEY,
    id         text COLLATE "C" NOT NULL,
    tenant     text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    text COLLATE "C" REFERENCES users (id) ON DELETE CASCADE,
    auth_time  timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT sessions_id UNIQUE (id)
);

CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE consents (
    tenant     text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, user_id, client_id)
);

CREATE INDEX consents_user_id ON consents (user_id);
CREATE INDEX consents_client_id ON consents (client_id);

-- The jti of each accepted client assertion until it expires (RFC 7523 §3).
CREATE TABLE client_assertions (
    client_id  text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    jti        text COLLATE "C" NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE INDEX client_assertions_expires_at ON client_assertions (expires_at);

-- +goose Down
DROP TABLE client_assertions;
DROP TABLE consents;
DROP TABLE sessions;
DROP TABLE device_codes;
DROP TABLE refresh_families;
DROP TABLE auth_codes;
ALTER TABLE clients
    DROP COLUMN post_logout_redirect_uris,
    DROP COLUMN id_token_alg,
    DROP COLUMN jwks_uri,
    DROP COLUMN jwks;
