-- Failed-authentication counts (store.AuthFailures). With SQLite there is
-- one instance, but the table keeps both backends at one schema version.

-- +goose Up
CREATE TABLE auth_failures (
    instance     TEXT NOT NULL,
    key          TEXT NOT NULL,
    window_start INTEGER NOT NULL, -- Unix seconds
    count        INTEGER NOT NULL,
    PRIMARY KEY (window_start, instance, key)
);

-- +goose Down
DROP TABLE auth_failures;
