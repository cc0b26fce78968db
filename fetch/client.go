// Package fetch is the client of the Xiaoe (小鹅通) Open API that ordersync uses: the access
// token, the order list and the order detail.
//
// The API allows 20 calls/s per endpoint and fails in many ways: expiring tokens, refused
// bursts, busy answers, HTML error pages. The Client turns that into a steady stream of
// calls: one token for all goroutines, refreshed ahead of expiry; a pacer per endpoint that
// slows down when the API refuses a burst; retries with backoff for what may pass; an
// immediate, explained failure for what will not (see Kind). Credentials and tokens never
// appear in errors or logs.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// The endpoints, as they are named in errors and to the Observer.
const (
	EndpointToken  = "token"
	EndpointList   = "xe.ecommerce.order.list/1.0.0"
	EndpointDetail = "xe.ecommerce.order.detail/1.0.0"
)

// Defaults of Config.
const (
	DefaultBaseURL        = "https://api.xiaoe-tech.com"
	DefaultRate           = 20
	DefaultRequestTimeout = 15 * time.Second
	DefaultMaxAttempts    = 8
	DefaultMaxRetryTime   = 2 * time.Minute
	DefaultBackoffMin     = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
)

// Config configures a Client. Zero values take the defaults.
type Config struct {
	BaseURL   string // e.g. https://api.xiaoe-tech.com (XE_BASE_URL)
	AppID     string // XE_APP_ID
	ClientID  string // XE_CLIENT_ID
	SecretKey Secret // XE_SECRET_KEY

	// HTTPClient makes the requests; nil means one with sane dial and TLS timeouts. Each
	// attempt runs under RequestTimeout whatever the client's own Timeout.
	HTTPClient *http.Client

	// Rate is the API's limit in calls/s per endpoint (list, detail); default 20. The
	// client paces each endpoint at Headroom below it, so that the jitter between our clock
	// and the API's one-second windows never puts one call too many into a window, and
	// lowers the pace while the API refuses bursts (2053/2054).
	Rate float64
	// Headroom is the fraction of Rate left unused; default 0.02 (19.6 calls/s of 20).
	// Negative means none. The pacer never lets go more calls in a second than this pace
	// puts there, so Headroom is the lateness a call may gather on its way to the API
	// relative to the 20 calls after it (Headroom/(1−Headroom) of a second: 20 ms at 0.02)
	// before 21 of them reach it within one second and one may be refused, which halves
	// the pace for a few seconds. Measured with BenchmarkBackfillAtRateLimit (2,000 detail
	// calls against fetchtest at 150 ms latency, on a 2-core machine shared with other CPU
	// work): 0.03 made 0.963–0.965 of the 20/s ceiling over the whole run in 3 runs; 0.02
	// made 0.971–0.975 (mean 0.974) with no refusal in 10 runs, though in 2 of them 21 calls
	// reached the shop within 971 and 985 ms, which only its calendar seconds let pass
	// (see pacer.windowOpens). Over the Internet the jitter can be larger: raise Headroom
	// if the API refuses bursts (the log says "xiaoe refused calls; slowing down").
	Headroom float64

	RequestTimeout time.Duration // per attempt; default 15s

	// MaxAttempts and MaxRetryTime bound the retries of one call: it fails after that many
	// attempts, or when the next wait would take it past that much time since it started.
	// Defaults 8 and 2 minutes.
	MaxAttempts  int
	MaxRetryTime time.Duration
	// BackoffMin is the wait after the first failed attempt, doubled after each further
	// one up to BackoffMax, and jittered (half fixed, half random). Defaults 500ms and 30s.
	BackoffMin, BackoffMax time.Duration

	Logger   *slog.Logger // nil: discard
	Observer Observer     // nil: none

	// Tokens, when set, shares the access token with the other processes of the shop. Nil:
	// this client keeps its own.
	Tokens TokenStore

	// Now is the clock that token lifetimes are measured by; nil means time.Now. Tests
	// set it to expire tokens without waiting two hours.
	Now func() time.Time
}

// TokenStore shares the access token among the processes that call the API for one shop.
// Replicas must not each fetch a token of their own: every new token retires the previous
// one five minutes later, so replicas taking turns would keep retiring each other's. With a
// store, a client about to fetch a token first adopts the shared one, unless that is the
// token just rejected or it is about to expire, and saves any token it fetches.
//
// Tokens are shared by key, a fingerprint of the credentials that fetched them, so that a
// process configured with other credentials (a wrong secret) never borrows a token and
// meets its configuration error at once.
type TokenStore interface {
	// LoadToken returns the token shared under key, as SaveToken was given it (sealed:
	// unreadable without the credentials), and when it expires; "" when none.
	LoadToken(ctx context.Context, key string) (token string, expires time.Time, err error)
	// SaveToken shares a token this client fetched under key.
	SaveToken(ctx context.Context, key, token string, expires time.Time) error
}

// Observer is told about every HTTP attempt, retry, rate-limit wait and token refresh, for
// metrics. Its methods are called synchronously from the calling goroutines, concurrently:
// they must be quick and safe for concurrent use.
type Observer interface {
	// Call reports one HTTP attempt and how long it took. code is the API's code (0 is
	// success); when the reply carried none it is -HTTPStatus (-502 for a bad gateway,
	// -200 for a 200 whose body is not a JSON envelope), and -1 when no reply came
	// (connection error, timeout, cancellation).
	Call(endpoint string, code int, d time.Duration)
	// Retry reports that a failed attempt of kind will be tried again.
	Retry(endpoint string, kind Kind)
	// RateWait reports how long an attempt waited for the endpoint's pacer (often 0).
	RateWait(endpoint string, d time.Duration)
	// TokenRefresh reports a new access token.
	TokenRefresh()
}

type nopObserver struct{}

func (nopObserver) Call(string, int, time.Duration) {}
func (nopObserver) Retry(string, Kind)              {}
func (nopObserver) RateWait(string, time.Duration)  {}
func (nopObserver) TokenRefresh()                   {}

// Client calls the Xiaoe API. It is safe for concurrent use; share one per shop, so that
// all goroutines share its token and its pace.
type Client struct {
	base     string // without a trailing slash
	appID    string
	clientID string
	secret   Secret

	hc  *http.Client
	log *slog.Logger
	obs Observer
	now func() time.Time
	red *redactor

	requestTimeout         time.Duration
	maxAttempts            int
	maxRetryTime           time.Duration
	backoffMin, backoffMax time.Duration

	token, list, detail *endpoint
	tokens              *tokenSource

	// lastOK is when a call last succeeded (Unix nanoseconds): a call that keeps failing
	// while others succeed is failing on its own, not because the API is down.
	lastOK atomic.Int64
}

// endpoint is one API path and its pacer.
type endpoint struct {
	name  string
	url   string
	pacer *pacer
}

// The token call is limited to 100 per 10 minutes; the pacer keeps a client that has to
// refresh unusually often (a token rejected again and again) under it.
const (
	tokenRate  = 100.0 / 600
	tokenBurst = 10
)

// New checks cfg and returns a Client. It makes no call: the token is fetched on first need.
// Errors name the environment variables of the fields at fault and wrap ErrConfig.
func New(cfg Config) (*Client, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	base, err := checkBaseURL(cfg.BaseURL)
	if err != nil {
		bad("XE_BASE_URL %v", err)
	}
	checkCredential := func(env, v string) {
		switch {
		case v == "":
			bad("%s is not set", env)
		case strings.TrimSpace(v) != v:
			bad("%s has white space around its value", env)
		}
	}
	checkCredential("XE_APP_ID", cfg.AppID)
	checkCredential("XE_CLIENT_ID", cfg.ClientID)
	checkCredential("XE_SECRET_KEY", string(cfg.SecretKey))
	if cfg.Rate < 0 || cfg.Headroom >= 1 || cfg.RequestTimeout < 0 || cfg.MaxAttempts < 0 ||
		cfg.MaxRetryTime < 0 || cfg.BackoffMin < 0 || cfg.BackoffMax < 0 {
		bad("Rate, RequestTimeout, MaxAttempts, MaxRetryTime and the backoffs must not be negative, Headroom below 1")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	c := &Client{
		base:           base,
		appID:          cfg.AppID,
		clientID:       cfg.ClientID,
		secret:         cfg.SecretKey,
		hc:             cfg.HTTPClient,
		log:            cfg.Logger,
		obs:            cfg.Observer,
		now:            cfg.Now,
		red:            &redactor{secret: string(cfg.SecretKey)},
		requestTimeout: orDefault(cfg.RequestTimeout, DefaultRequestTimeout),
		maxAttempts:    orDefault(cfg.MaxAttempts, DefaultMaxAttempts),
		maxRetryTime:   orDefault(cfg.MaxRetryTime, DefaultMaxRetryTime),
		backoffMin:     orDefault(cfg.BackoffMin, DefaultBackoffMin),
		backoffMax:     orDefault(cfg.BackoffMax, DefaultBackoffMax),
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient(c.requestTimeout)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.obs == nil {
		c.obs = nopObserver{}
	}
	if c.now == nil {
		c.now = time.Now
	}
	rate := orDefault(cfg.Rate, DefaultRate)
	headroom := cfg.Headroom
	switch {
	case headroom == 0:
		headroom = 0.02
	case headroom < 0:
		headroom = 0
	}
	pace := rate * (1 - headroom)
	c.token = &endpoint{name: EndpointToken, url: base + "/token", pacer: newPacer(tokenRate, tokenBurst, 0)}
	c.list = &endpoint{name: EndpointList, url: base + "/" + EndpointList, pacer: newPacer(pace, 1, time.Second)}
	c.detail = &endpoint{name: EndpointDetail, url: base + "/" + EndpointDetail, pacer: newPacer(pace, 1, time.Second)}
	seal, err := newSealer(cfg.AppID, cfg.ClientID, cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	c.tokens = &tokenSource{c: c, store: cfg.Tokens, key: credentialKey(cfg.AppID, cfg.ClientID, cfg.SecretKey), sealer: seal}
	return c, nil
}

// SetShare divides the list and detail pace among members processes that call the API for
// the shop, this one included: each paces at Rate × (1 − Headroom) / members. It applies
// at once, to the calls already waiting for their turn as well. A pace that refusals have
// lowered stays as far below its new ceiling as it was below the old one.
//
// members < 1 says that the other processes no longer count this one (it could not renew
// its share) and may be spending the whole rate: it then calls at a thirty-second of the
// full pace, the lowest refusals take it to, which is about what the others' Headroom
// leaves unused. Safe for concurrent use.
func (c *Client) SetShare(members int) {
	n := float64(members)
	if members < 1 {
		n = floorFraction
	}
	c.list.pacer.share(n)
	c.detail.pacer.share(n)
}

// credentialKey fingerprints the credentials: a SHA-256, from which the secret cannot be
// recovered, that names the tokens they fetch.
func credentialKey(appID, clientID string, secret Secret) string {
	h := sha256.Sum256([]byte(appID + "\x00" + clientID + "\x00" + string(secret)))
	return hex.EncodeToString(h[:16])
}

func checkBaseURL(s string) (string, error) {
	if s == "" {
		return "", errors.New("is not set (the API is at " + DefaultBaseURL + ")")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL like %s", s, DefaultBaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q must not have a query, fragment or user", s)
	}
	return strings.TrimRight(s, "/"), nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// defaultHTTPClient is http.DefaultTransport's dial, TLS and idle timeouts, with room for
// a pool of workers' connections; each attempt's context bounds the whole exchange.
func defaultHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ResponseHeaderTimeout = timeout
	return &http.Client{Transport: t}
}
