-- Daily counts of API requests made with OAuth access tokens, per tenant
-- and client (store.TrafficReader / store.TrafficTx): the token side of the
-- keys-versus-tokens traffic chart. Like usage_days, rows outlive their
-- client and tenant, so no foreign keys.
-- The primary key leads with (tenant, day) for a tenant's chart; the index
-- on day serves the operator's all-tenants chart.

-- +goose Up
CREATE TABLE token_usage_days (
    tenant    TEXT NOT NULL,
    day       TEXT NOT NULL,
    client_id TEXT NOT NULL,
    requests  INTEGER NOT NULL,
    PRIMARY KEY (tenant, day, client_id)
) STRICT;

CREATE INDEX token_usage_days_day ON token_usage_days (day);

-- +goose Down
DROP TABLE token_usage_days;
