-- Failed-authentication counts shared by the instances (store.AuthFailures).
-- Short-lived: rows older than a few minutes are deleted.

-- +goose Up
CREATE TABLE auth_failures (
    instance     text COLLATE "C" NOT NULL,
    key          text COLLATE "C" NOT NULL,
    window_start bigint NOT NULL, -- Unix seconds
    count        bigint NOT NULL,
    PRIMARY KEY (window_start, instance, key)
);

-- +goose Down
DROP TABLE auth_failures;
