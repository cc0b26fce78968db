package fetch

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"ordersync/order"
)

// tokenSource holds the access token that all the Client's goroutines share. It fetches one
// on first need and again ahead of its expiry or when the API rejects it, with one token
// call however many goroutines need it at once: the token call is limited to 100 per 10
// minutes, and each new token retires the previous one 5 minutes later.
type tokenSource struct {
	c      *Client
	store  TokenStore // shares the token with other processes; nil: none
	key    string     // the credentials' fingerprint, the token's key in store
	sealer *sealer    // seals the token shared in store

	mu        sync.Mutex
	tok       string
	expires   time.Time // by c.now
	refreshAt time.Time // ahead of expires
	// retryAt delays the next refresh after a failed one while the current token lasts,
	// so that a failing token endpoint is not asked again by every call.
	retryAt time.Time
	flight  *tokenFlight // the refresh in progress, if any
}

// tokenFlight is one token call and the goroutines waiting for it. When they have all given
// up (their contexts ended) the call is cancelled.
type tokenFlight struct {
	done      chan struct{}
	cancel    context.CancelFunc
	waiters   int
	abandoned bool // all waiters left and the call was cancelled: join none such
	tok       string
	err       error
}

// tokenRetryPause is how long to keep using a still-valid token after a failed refresh.
const tokenRetryPause = 30 * time.Second

// refreshMargin is how long before expiry a token is replaced: a tenth of its lifetime, at
// most 5 minutes (the overlap during which the API honours both old and new).
func refreshMargin(ttl time.Duration) time.Duration {
	return min(ttl/10, 5*time.Minute)
}

// get returns a token to call with. stale is a token that the API has just rejected (or
// ""): get never returns it, and refreshes unless another goroutine did already.
func (ts *tokenSource) get(ctx context.Context, stale string) (string, error) {
	ts.mu.Lock()
	now := ts.c.now()
	usable := ts.tok != "" && ts.tok != stale && now.Before(ts.expires)
	if usable && (now.Before(ts.refreshAt) || (ts.flight == nil && now.Before(ts.retryAt))) {
		tok := ts.tok
		ts.mu.Unlock()
		return tok, nil
	}
	f := ts.flight
	if f == nil || f.abandoned {
		reason := "first"
		switch {
		case ts.tok != "" && ts.tok == stale:
			reason = "rejected"
		case ts.tok != "":
			reason = "expiring"
		}
		// The call outlives the goroutine that starts it if others wait for it too, so it
		// must not end with that goroutine's context; it is cancelled when all waiters leave.
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &tokenFlight{done: make(chan struct{}), cancel: cancel}
		ts.flight = f
		go ts.refresh(fctx, f, reason, stale)
	}
	f.waiters++
	ts.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		ts.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.abandoned = true
			f.cancel()
		}
		ts.mu.Unlock()
		return "", ctx.Err()
	}
	if f.err == nil {
		return f.tok, nil
	}
	// A failed refresh ahead of expiry: the old token still serves.
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok != "" && ts.tok != stale && ts.c.now().Before(ts.expires) {
		return ts.tok, nil
	}
	return "", f.err
}

func (ts *tokenSource) refresh(ctx context.Context, f *tokenFlight, reason, stale string) {
	if tok, ttl, ok := ts.adopt(ctx, stale); ok {
		ts.c.log.LogAttrs(ctx, slog.LevelInfo, "xiaoe access token adopted from another process",
			slog.String("reason", reason), slog.Int64("expires_in_s", int64(ttl/time.Second)))
		ts.finish(f, tok, ttl, nil)
		return
	}
	tok, ttl, err := ts.c.fetchToken(ctx)
	if err == nil {
		if st := ts.store; st != nil {
			if serr := st.SaveToken(ctx, ts.key, ts.sealer.seal(tok), ts.c.now().Add(ttl)); serr != nil {
				// The token serves this process anyway; others will fetch their own.
				ts.c.log.LogAttrs(ctx, slog.LevelWarn, "could not share the access token",
					slog.String("error", serr.Error()))
			}
		}
		ts.c.red.addToken(tok) // before anyone can use it
		ts.c.obs.TokenRefresh()
		ts.c.log.LogAttrs(ctx, slog.LevelInfo, "xiaoe access token fetched",
			slog.String("reason", reason), slog.Int64("expires_in_s", int64(ttl/time.Second)))
	} else if !errors.Is(err, context.Canceled) {
		ts.c.log.LogAttrs(ctx, slog.LevelWarn, "xiaoe access token fetch failed",
			slog.String("reason", reason), slog.String("error", err.Error()))
	}
	ts.finish(f, tok, ttl, err)
}

// adopt returns the shared token when there is one that is neither the token just
// rejected, nor the one this client holds, nor about to expire.
func (ts *tokenSource) adopt(ctx context.Context, stale string) (string, time.Duration, bool) {
	st := ts.store
	if st == nil {
		return "", 0, false
	}
	sealed, expires, err := st.LoadToken(ctx, ts.key)
	if err != nil {
		ts.c.log.LogAttrs(ctx, slog.LevelWarn, "could not read the shared access token",
			slog.String("error", err.Error()))
		return "", 0, false
	}
	if sealed == "" {
		return "", 0, false
	}
	tok, err := ts.sealer.open(sealed)
	if err != nil {
		// Sealed by another version or tampered with: this process fetches its own.
		ts.c.log.LogAttrs(ctx, slog.LevelWarn, "could not open the shared access token", slog.String("error", err.Error()))
		return "", 0, false
	}
	ts.mu.Lock()
	held := ts.tok
	ts.mu.Unlock()
	ttl := expires.Sub(ts.c.now())
	if tok == "" || tok == stale || tok == held || ttl < minAdoptTTL {
		return "", 0, false
	}
	ts.c.red.addToken(tok) // before anyone can use it
	return tok, ttl, true
}

// minAdoptTTL is the least lifetime a shared token must have left to be adopted.
const minAdoptTTL = 10 * time.Second

// finish ends a refresh: it keeps the token (or the error) and wakes the waiters.
func (ts *tokenSource) finish(f *tokenFlight, tok string, ttl time.Duration, err error) {
	ts.mu.Lock()
	now := ts.c.now()
	switch {
	case err == nil:
		ts.tok, ts.expires, ts.refreshAt = tok, now.Add(ttl), now.Add(ttl-refreshMargin(ttl))
		ts.retryAt = time.Time{}
	case !f.abandoned:
		ts.retryAt = now.Add(tokenRetryPause)
	}
	f.tok, f.err = tok, err
	if ts.flight == f {
		ts.flight = nil
	}
	ts.mu.Unlock()
	f.cancel()
	close(f.done) // last: the waiters may end the program's logging once they return
}

// defaultTokenTTL is the documented token lifetime, for a reply that leaves it out.
const defaultTokenTTL = 7200 * time.Second

// fetchToken makes the token call (with retries).
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	data, _, err := c.call(ctx, c.token, nil)
	if err != nil {
		return "", 0, err
	}
	var d struct {
		AccessToken string    `json:"access_token"`
		ExpiresIn   order.Int `json:"expires_in"`
	}
	if err := json.Unmarshal(data, &d); err != nil || d.AccessToken == "" {
		return "", 0, &APIError{Endpoint: EndpointToken, Kind: KindInvalid,
			Msg: "the reply has no data.access_token", Todo: "check XE_BASE_URL: is it the Xiaoe API?"}
	}
	ttl := defaultTokenTTL
	if d.ExpiresIn.Valid && d.ExpiresIn.V > 0 {
		ttl = time.Duration(d.ExpiresIn.V) * time.Second
	}
	return d.AccessToken, ttl, nil
}
