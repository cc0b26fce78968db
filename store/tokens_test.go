package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/store/storetest"
)

// Two replicas of a shop share one token through the database: the second adopts the
// first's, and after the API rejects it, one fetches a new one and the other adopts that.
func TestReplicasShareOneToken(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	shop := fetchtest.NewServer(t, fetchtest.Options{Seed: 9, Orders: 10, Rate: -1})
	o := shop.Options()
	var tokens fetch.TokenStore = s.Tokens(o.AppID)
	client := func() *fetch.Client {
		c, err := fetch.New(fetch.Config{BaseURL: shop.URL(), AppID: o.AppID, ClientID: o.ClientID,
			SecretKey: fetch.Secret(o.SecretKey), Tokens: tokens})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := client(), client()
	ctx := context.Background()
	id := shop.Orders()[0].ID
	detail := func(c *fetch.Client) {
		t.Helper()
		if _, _, err := c.OrderDetail(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	detail(a)
	detail(b)
	if n := shop.Stats().TokensIssued; n != 1 {
		t.Errorf("two replicas fetched %d tokens, want 1", n)
	}
	shop.ExpireTokens()
	detail(a) // rejected: a fetches a new token and shares it
	detail(b) // rejected: b adopts a's new token
	if n := shop.Stats().TokensIssued; n != 2 {
		t.Errorf("after the token expired, %d tokens in all, want 2", n)
	}
	var shared int
	if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM api_tokens WHERE app_id = $1 AND expires_at > now()", o.AppID).Scan(&shared); err != nil || shared != 1 {
		t.Errorf("%d shared tokens (%v), want 1", shared, err)
	}

	// What an analyst with SELECT reads is no token: the shop accepts none of it.
	var stored string
	if err := s.Pool().QueryRow(ctx, "SELECT access_token FROM api_tokens WHERE app_id = $1", o.AppID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	for _, tok := range shop.Tokens() {
		if strings.Contains(stored, tok) {
			t.Errorf("api_tokens holds the access token %s… in the clear", tok[:6])
		}
	}
	if len(stored) < 40 {
		t.Errorf("stored token %q is too short to be sealed", stored)
	}

	// A replica with a wrong secret borrows nothing: it meets its configuration error.
	wrong, err := fetch.New(fetch.Config{BaseURL: shop.URL(), AppID: o.AppID, ClientID: o.ClientID,
		SecretKey: "wrong-secret", Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := wrong.OrderDetail(ctx, id); !errors.Is(err, fetch.ErrConfig) {
		t.Errorf("a replica with a wrong secret: %v, want a configuration error", err)
	}
}
