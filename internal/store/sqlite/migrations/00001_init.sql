-- Times are UTC text in a fixed-width RFC 3339 form, so text order is time
-- order; slices are JSON arrays; durations are integer nanoseconds.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE scopes (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    permissions TEXT NOT NULL,
    builtin     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE clients (
    id                 TEXT PRIMARY KEY,
    tenant             TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    contact_login      TEXT NOT NULL,
    contact_first_name TEXT NOT NULL,
    contact_last_name  TEXT NOT NULL,
    contact_email      TEXT NOT NULL,
    grant_types        TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    redirect_uris      TEXT NOT NULL,
    auth_method        TEXT NOT NULL,
    secrets            TEXT NOT NULL,
    access_token_ttl   INTEGER NOT NULL,
    status             TEXT NOT NULL,
    converted_from_key TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
) STRICT;

-- A contact login names one client per tenant.
CREATE UNIQUE INDEX clients_tenant_contact_login
    ON clients (tenant, contact_login) WHERE contact_login <> '';

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    use            TEXT NOT NULL,
    state          TEXT NOT NULL,
    public_jwk     BLOB NOT NULL,
    private_sealed BLOB NOT NULL,
    created_at     TEXT NOT NULL,
    activate_at    TEXT NOT NULL,
    retired_at     TEXT NOT NULL,
    publish_until  TEXT NOT NULL
) STRICT;

-- Revocations and audit events outlive the tenant they name: no foreign key.
CREATE TABLE revocations (
    jti        TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    revoked_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;

CREATE INDEX revocations_expires_at ON revocations (expires_at);

CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,
    time         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    actor_tenant TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    action       TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    remote_addr  TEXT NOT NULL,
    details      BLOB
) STRICT;

-- Events of the same instant are listed newest first by rowid, which
-- grows with every insert since events are never deleted.
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_tenant_time ON audit_events (tenant, time);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE revocations;
DROP TABLE signing_keys;
DROP TABLE clients;
DROP TABLE scopes;
DROP TABLE tenants;
