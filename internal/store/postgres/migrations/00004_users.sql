-- Users of tenants (store.UserReader / store.UserTx). login_key is the
-- lower-cased login, so logins are unique per tenant regardless of case.

-- +goose Up
CREATE TABLE users (
    id                  text COLLATE "C" PRIMARY KEY,
    tenant              text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    login               text NOT NULL,
    login_key           text COLLATE "C" NOT NULL,
    email               text NOT NULL,
    name                text NOT NULL,
    password_hash       bytea NOT NULL,
    roles               text[] NOT NULL,
    disabled            boolean NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    password_changed_at timestamptz NOT NULL,
    CONSTRAINT users_tenant_login_key UNIQUE (tenant, login_key)
);

-- +goose Down
DROP TABLE users;
