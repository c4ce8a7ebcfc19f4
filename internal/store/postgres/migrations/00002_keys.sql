-- Legacy API keys, their daily usage, settings documents and the
-- notification outbox (store.KeyReader / store.KeyTx).

-- +goose Up
CREATE TABLE api_keys (
    id                  text COLLATE "C" PRIMARY KEY,
    tenant              text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hash                bytea NOT NULL,
    hint                text NOT NULL,
    name                text NOT NULL,
    description         text NOT NULL,
    contact_login       text NOT NULL,
    contact_first_name  text NOT NULL,
    contact_last_name   text NOT NULL,
    contact_email       text NOT NULL,
    permissions         text[] NOT NULL,
    expires_at          timestamptz,
    owner               text NOT NULL,
    purpose             text NOT NULL,
    status              text NOT NULL,
    converted_to_client text NOT NULL,
    disable_at          timestamptz,
    imported            boolean NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    last_used_at        timestamptz,
    CONSTRAINT api_keys_hash_key UNIQUE (hash)
);

CREATE INDEX api_keys_tenant ON api_keys (tenant, id);

-- Usage outlives its key (reports still count what a deleted key did).
-- refused is a JSON object of counts by decision code; routes a JSON array
-- of {"route", "count"}, most used first, at most 10.
CREATE TABLE usage_days (
    key_id          text COLLATE "C" NOT NULL,
    tenant          text COLLATE "C" NOT NULL,
    day             timestamptz NOT NULL,
    accepted        bigint NOT NULL,
    refused         jsonb NOT NULL,
    last_used_at    timestamptz NOT NULL,
    last_ip         text NOT NULL,
    last_user_agent text NOT NULL,
    routes          jsonb NOT NULL,
    PRIMARY KEY (key_id, day)
);

CREATE INDEX usage_days_tenant_day ON usage_days (tenant, day);

-- ks_add_counts adds two JSON objects of counts key by key, so that an
-- upsert merges refusals from many instances exactly. (PL/pgSQL rather
-- than SQL so that the query plan is cached for the session.)
-- +goose StatementBegin
CREATE FUNCTION ks_add_counts(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
    FROM (SELECT k, sum(n)::bigint AS n
          FROM (SELECT key AS k, value::bigint AS n FROM jsonb_each_text(a)
                UNION ALL
                SELECT key, value::bigint FROM jsonb_each_text(b)) AS x
          GROUP BY k) AS y);
END
$$;
-- +goose StatementEnd

-- ks_merge_routes adds two route count arrays and keeps the 10 most used,
-- ties in byte order of the route.
-- +goose StatementBegin
CREATE FUNCTION ks_merge_routes(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT coalesce(jsonb_agg(jsonb_build_object('route', route, 'count', n)
                              ORDER BY n DESC, route COLLATE "C"), '[]'::jsonb)
    FROM (SELECT route, sum(n)::bigint AS n
          FROM (SELECT r->>'route' AS route, (r->>'count')::bigint AS n
                FROM jsonb_array_elements(a) AS r
                UNION ALL
                SELECT r->>'route', (r->>'count')::bigint
                FROM jsonb_array_elements(b) AS r) AS x
          GROUP BY route
          ORDER BY n DESC, route COLLATE "C"
          LIMIT 10) AS y);
END
$$;
-- +goose StatementEnd

CREATE TABLE settings (
    name       text COLLATE "C" PRIMARY KEY,
    value      bytea NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE outbox (
    id              text COLLATE "C" PRIMARY KEY,
    tenant          text NOT NULL,
    topic           text NOT NULL,
    payload         bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    attempts        integer NOT NULL,
    last_error      text NOT NULL,
    delivered_at    timestamptz
);

CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE settings;
DROP FUNCTION ks_merge_routes(jsonb, jsonb);
DROP FUNCTION ks_add_counts(jsonb, jsonb);
DROP TABLE usage_days;
DROP TABLE api_keys;
