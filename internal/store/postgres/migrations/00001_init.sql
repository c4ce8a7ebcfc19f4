-- keyshift's PostgreSQL schema. Identifiers and names use the "C" collation
-- so that ORDER BY and keyset paging follow byte order, as on SQLite and in
-- Go. Times are timestamptz (microseconds); durations are bigint nanoseconds.

-- +goose Up
CREATE TABLE tenants (
    id         text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    status     text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE scopes (
    name        text COLLATE "C" PRIMARY KEY,
    description text NOT NULL,
    permissions text[] NOT NULL,
    builtin     boolean NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE clients (
    id                 text COLLATE "C" PRIMARY KEY,
    tenant             text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name               text NOT NULL,
    contact_login      text NOT NULL,
    contact_first_name text NOT NULL,
    contact_last_name  text NOT NULL,
    contact_email      text NOT NULL,
    grant_types        text[] NOT NULL,
    scopes             text[] NOT NULL,
    redirect_uris      text[] NOT NULL,
    auth_method        text NOT NULL,
    secrets            jsonb NOT NULL,
    access_token_ttl   bigint NOT NULL,
    status             text NOT NULL,
    converted_from_key text NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE INDEX clients_tenant ON clients (tenant, id);

-- A contact login names one client per tenant.
CREATE UNIQUE INDEX clients_tenant_contact_login
    ON clients (tenant, contact_login) WHERE contact_login <> '';

CREATE TABLE signing_keys (
    kid            text COLLATE "C" PRIMARY KEY,
    alg            text NOT NULL,
    use            text NOT NULL,
    state          text NOT NULL,
    public_jwk     bytea NOT NULL,
    private_sealed bytea NOT NULL,
    created_at     timestamptz NOT NULL,
    activate_at    timestamptz NOT NULL,
    retired_at     timestamptz NOT NULL,
    publish_until  timestamptz NOT NULL
);

-- Revocations and audit events outlive the tenant they name: no foreign key.
CREATE TABLE revocations (
    jti        text COLLATE "C" PRIMARY KEY,
    tenant     text NOT NULL,
    client_id  text NOT NULL,
    revoked_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX revocations_expires_at ON revocations (expires_at);

-- seq orders events of the same instant, newest first.
CREATE TABLE audit_events (
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    id           text COLLATE "C" PRIMARY KEY,
    time         timestamptz NOT NULL,
    actor        text NOT NULL,
    actor_tenant text NOT NULL,
    tenant       text NOT NULL,
    action       text NOT NULL,
    object_type  text NOT NULL,
    object_id    text NOT NULL,
    remote_addr  text NOT NULL,
    details      bytea
);

CREATE INDEX audit_events_time ON audit_events (time, seq);
CREATE INDEX audit_events_tenant_time ON audit_events (tenant, time, seq);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE revocations;
DROP TABLE signing_keys;
DROP TABLE clients;
DROP TABLE scopes;
DROP TABLE tenants;
