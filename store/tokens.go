package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tokens is the shared API access token of one shop; it implements fetch.TokenStore.
type Tokens struct {
	s     *Store
	appID string
}

// Tokens returns the shared access token of the shop appID.
func (s *Store) Tokens(appID string) *Tokens { return &Tokens{s: s, appID: appID} }

// LoadToken returns the token shared under key (the fingerprint of the credentials that
// fetched it) and its expiry; "" when there is none.
func (t *Tokens) LoadToken(ctx context.Context, key string) (string, time.Time, error) {
	var (
		tok     string
		expires time.Time
	)
	err := t.s.pool.QueryRow(ctx, `SELECT access_token, expires_at FROM api_tokens WHERE credential = $1 AND app_id = $2`, key, t.appID).Scan(&tok, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("load the shared access token: %w", err)
	}
	return tok, expires, nil
}

// SaveToken shares a token. A token that expires later than the stored one replaces it;
// an older one (a process that fetched at nearly the same time) does not.
func (t *Tokens) SaveToken(ctx context.Context, key, tok string, expires time.Time) error {
	_, err := t.s.pool.Exec(ctx, `
		INSERT INTO api_tokens (credential, app_id, access_token, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (credential) DO UPDATE SET access_token = excluded.access_token,
			expires_at = excluded.expires_at, updated_at = now()
		WHERE api_tokens.expires_at <= excluded.expires_at`, key, t.appID, tok, expires)
	if err != nil {
		return fmt.Errorf("share the access token: %w", err)
	}
	return nil
}
