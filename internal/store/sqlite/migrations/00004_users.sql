-- Users of tenants (store.UserReader / store.UserTx). login_key is the
-- lower-cased login, so logins are unique per tenant regardless of case.

-- +goose Up
CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    tenant              TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    login               TEXT NOT NULL,
    login_key           TEXT NOT NULL,
    email               TEXT NOT NULL,
    name                TEXT NOT NULL,
    password_hash       BLOB NOT NULL,
    roles               TEXT NOT NULL,
    disabled            INTEGER NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    UNIQUE (tenant, login_key)
) STRICT;

-- +goose Down
DROP TABLE users;
