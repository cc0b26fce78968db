-- The shop's API access token, shared by every process that calls the API for it: each new
-- token retires the previous one five minutes later, so replicas must not fetch their own.
-- The token is a credential: it lives in the same trust domain as the orders, and nothing
-- prints it. credential is a SHA-256 fingerprint of the app id, client id and secret that
-- fetched the token: processes configured with other credentials do not share it.

-- +goose Up
CREATE TABLE api_tokens (
    credential   text NOT NULL PRIMARY KEY,
    app_id       text NOT NULL,
    access_token text NOT NULL,
    expires_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE api_tokens;
