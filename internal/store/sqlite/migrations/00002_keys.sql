-- Legacy API keys, their daily usage, settings documents and the
-- notification outbox (store.KeyReader / store.KeyTx).

-- +goose Up
CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY,
    tenant              TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hash                BLOB NOT NULL UNIQUE,
    hint                TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    contact_login       TEXT NOT NULL,
    contact_first_name  TEXT NOT NULL,
    contact_last_name   TEXT NOT NULL,
    contact_email       TEXT NOT NULL,
    permissions         TEXT NOT NULL,
    expires_at          TEXT,
    owner               TEXT NOT NULL,
    purpose             TEXT NOT NULL,
    status              TEXT NOT NULL,
    converted_to_client TEXT NOT NULL,
    disable_at          TEXT,
    imported            INTEGER NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    last_used_at        TEXT
) STRICT;

CREATE INDEX api_keys_tenant ON api_keys (tenant, id);

-- Usage outlives its key (reports still count what a deleted key did).
CREATE TABLE usage_days (
    key_id          TEXT NOT NULL,
    tenant          TEXT NOT NULL,
    day             TEXT NOT NULL,
    accepted        INTEGER NOT NULL,
    refused         TEXT NOT NULL,
    last_used_at    TEXT NOT NULL,
    last_ip         TEXT NOT NULL,
    last_user_agent TEXT NOT NULL,
    routes          TEXT NOT NULL,
    PRIMARY KEY (key_id, day)
) STRICT;

CREATE INDEX usage_days_tenant_day ON usage_days (tenant, day);

CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    topic           TEXT NOT NULL,
    payload         BLOB NOT NULL,
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    delivered_at    TEXT
) STRICT;

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE settings;
DROP TABLE usage_days;
DROP TABLE api_keys;
