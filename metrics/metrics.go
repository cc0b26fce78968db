// Package metrics is the daemon's operator view of the shops it serves: Prometheus series
// of runs, orders and API calls labelled by app_id, and a health verdict per shop, served at
// /metrics and /healthz. Neither carries money or secrets: only counts, durations, API codes
// and error messages that the callers have redacted.
package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ordersync/fetch"
	"ordersync/pipeline"
)

// Options tune the health verdict of every shop.
type Options struct {
	// MaxAge is how old a shop's last successful sync may be while it is healthy; until its
	// first success, the daemon's start counts as one. Default 30 minutes.
	MaxAge time.Duration
	// MaxFailures is how many syncs of a shop may fail in a row before it is unhealthy,
	// however recent its last success. Default 3.
	MaxFailures int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Metrics collects the daemon's metrics and judges the health of its shops. It is safe
// for concurrent use.
type Metrics struct {
	opts    Options
	reg     *prometheus.Registry
	started time.Time

	runs        *prometheus.CounterVec
	orders      *prometheus.CounterVec
	calls       *prometheus.CounterVec
	callSeconds *prometheus.HistogramVec
	waits       *prometheus.CounterVec
	retries     *prometheus.CounterVec
	tokens      *prometheus.CounterVec

	mu    sync.Mutex
	shops map[string]*shop
}

// shop is what the verdict and the gauges know of one shop.
type shop struct {
	success    time.Time // end of the last successful sync
	failures   int       // syncs failed in a row
	lastErr    string
	configErr  string // "" when the shop has no configuration error
	retryAt    time.Time
	queue      int // failure-queue depth; -1 until known
	checkpoint time.Time
	verify     map[string]int // anomalies by kind; nil before the first verify
}

// The gauges are read from the shops' state at scrape time, so that the lag is measured
// then and a shop's gauges always come from one moment.
var (
	queueDesc = prometheus.NewDesc("ordersync_failure_queue_depth",
		"Orders waiting in the shop's failure queue after its last run.", []string{"app_id"}, nil)
	lastSuccessDesc = prometheus.NewDesc("ordersync_last_success_timestamp_seconds",
		"Unix time of the end of the shop's last successful incremental sync.", []string{"app_id"}, nil)
	lagDesc = prometheus.NewDesc("ordersync_window_lag_seconds",
		"Seconds between now and the shop's incremental checkpoint (how stale its copy may be).", []string{"app_id"}, nil)
	verifyDesc = prometheus.NewDesc("ordersync_verify_anomalies",
		"Anomalies found by the shop's last syncer verify, by kind.", []string{"app_id", "kind"}, nil)
)

// verifyKinds are the anomaly kinds of syncer verify; each is reported, 0 when absent, so
// that a kind that went away reads 0 rather than keeping an old count.
var verifyKinds = []string{"missing", "extra", "stale", "money", "consistency"}

// New returns Metrics with every series registered and no shop yet.
func New(opts Options) *Metrics {
	if opts.MaxAge == 0 {
		opts.MaxAge = 30 * time.Minute
	}
	if opts.MaxFailures == 0 {
		opts.MaxFailures = 3
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Metrics{opts: opts, reg: prometheus.NewRegistry(), started: opts.Now(), shops: map[string]*shop{}}
	f := promFactory{m.reg}
	m.runs = f.counterVec("ordersync_runs_total", "Runs by shop, kind and result (ok, partial, failed, interrupted).", "app_id", "kind", "result")
	m.orders = f.counterVec("ordersync_orders_total", "Orders handled by runs, by shop, kind and outcome (written, unchanged, failed).", "app_id", "kind", "outcome")
	m.calls = f.counterVec("ordersync_api_calls_total", "Xiaoe API calls (HTTP attempts) by shop, endpoint and code (the API's code, or http_NNN, or transport).", "app_id", "endpoint", "code")
	m.callSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ordersync_api_call_duration_seconds", Help: "Duration of Xiaoe API calls, by shop and endpoint.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"app_id", "endpoint"})
	m.waits = f.counterVec("ordersync_rate_limit_wait_seconds_total", "Time spent waiting for the client's rate limiter, by shop and endpoint.", "app_id", "endpoint")
	m.retries = f.counterVec("ordersync_api_retries_total", "API calls retried, by shop, endpoint and error kind.", "app_id", "endpoint", "kind")
	m.tokens = f.counterVec("ordersync_token_refreshes_total", "Access tokens fetched, by shop.", "app_id")
	m.reg.MustRegister(m.callSeconds, gauges{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

type promFactory struct{ reg *prometheus.Registry }

func (f promFactory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

// Shops registers the shops the daemon serves, so that a shop that never runs is judged
// too. Every other method naming a shop registers it as well.
func (m *Metrics) Shops(appIDs ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range appIDs {
		m.shop(id)
	}
}

// shop returns the state of appID, registering it. m.mu must be held.
func (m *Metrics) shop(appID string) *shop {
	s, ok := m.shops[appID]
	if !ok {
		s = &shop{queue: -1}
		m.shops[appID] = s
	}
	return s
}

// Shop returns the fetch.Observer for the API client of shop appID. Call it once per
// client: it registers the shop.
func (m *Metrics) Shop(appID string) fetch.Observer {
	m.Shops(appID)
	l := prometheus.Labels{"app_id": appID}
	return shopObserver{
		calls:   m.calls.MustCurryWith(l),
		seconds: m.callSeconds.MustCurryWith(l),
		waits:   m.waits.MustCurryWith(l),
		retries: m.retries.MustCurryWith(l),
		tokens:  m.tokens.WithLabelValues(appID),
	}
}

// shopObserver is one shop's fetch.Observer, its vectors curried with its app_id.
type shopObserver struct {
	calls   *prometheus.CounterVec
	seconds prometheus.ObserverVec
	waits   *prometheus.CounterVec
	retries *prometheus.CounterVec
	tokens  prometheus.Counter
}

func (o shopObserver) Call(endpoint string, code int, d time.Duration) {
	o.calls.WithLabelValues(endpoint, codeLabel(code)).Inc()
	o.seconds.WithLabelValues(endpoint).Observe(d.Seconds())
}

func codeLabel(code int) string {
	switch {
	case code == -1:
		return "transport"
	case code < 0:
		return "http_" + strconv.Itoa(-code)
	}
	return strconv.Itoa(code)
}

func (o shopObserver) Retry(endpoint string, kind fetch.Kind) {
	o.retries.WithLabelValues(endpoint, kind.String()).Inc()
}

func (o shopObserver) RateWait(endpoint string, d time.Duration) {
	o.waits.WithLabelValues(endpoint).Add(d.Seconds())
}

func (o shopObserver) TokenRefresh() { o.tokens.Inc() }

// RunFinished records a run of shop appID: its result, the failure queue's depth after it
// (negative when unknown: the last known depth stays) and the incremental checkpoint (zero
// when unknown).
//
// Only incremental syncs move the health verdict: they are what keeps the copy fresh, and a
// retry or backfill run can succeed without listing anything (an empty queue, windows
// already done). A run interrupted by a cancelled context moves nothing either: stopping is
// not failing, and a cut-short run proves nothing about freshness.
func (m *Metrics) RunFinished(appID string, res pipeline.Result, err error, queueDepth int, checkpoint time.Time) {
	result := runResult(err)
	m.runs.WithLabelValues(appID, res.Kind, result).Inc()
	m.orders.WithLabelValues(appID, res.Kind, "written").Add(float64(res.Written))
	m.orders.WithLabelValues(appID, res.Kind, "unchanged").Add(float64(res.Unchanged + res.Touched))
	m.orders.WithLabelValues(appID, res.Kind, "failed").Add(float64(res.Failed))

	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.shop(appID)
	if queueDepth >= 0 {
		s.queue = queueDepth
	}
	if !checkpoint.IsZero() {
		s.checkpoint = checkpoint
	}
	if res.Kind != pipeline.KindSync {
		return
	}
	switch result {
	// A partial run stored everything it could and queued the rest for later runs: the
	// shop is being kept fresh.
	case "ok", "partial":
		s.success = m.opts.Now()
		s.failures = 0
		s.lastErr = ""
		s.configErr, s.retryAt = "", time.Time{}
	case "failed":
		s.failures++
		s.lastErr = err.Error()
	}
}

// runResult is the result label of a run that returned err. A run that hit its deadline
// (a job timeout) failed: only a cancellation is a deliberate stop.
func runResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, pipeline.ErrPartial):
		return "partial"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	return "failed"
}

// Synced records what the run history says of shop appID's incremental syncs, whichever
// replica ran them: when the last that stored everything ended (zero for none), how many
// failed since and the last one's error, the failure queue's depth and the checkpoint.
// With several replicas, each runs some of a shop's syncs: the verdict of one replica
// must rest on all of them, not only on its own.
func (m *Metrics) Synced(appID string, lastOK time.Time, failures int, lastErr string, queueDepth int, checkpoint time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.shop(appID)
	if lastOK.After(s.success) {
		s.success = lastOK
		s.configErr, s.retryAt = "", time.Time{}
	}
	if !lastOK.Before(s.success) {
		s.failures, s.lastErr = failures, lastErr
	}
	if queueDepth >= 0 {
		s.queue = queueDepth
	}
	if !checkpoint.IsZero() {
		s.checkpoint = checkpoint
	}
}

// ConfigError marks shop appID unhealthy at once, with err's message as the reason, until a
// later sync succeeds; retryAt is when it will be tried again (zero when unknown). The
// message is served as it is: err must not hold secrets.
func (m *Metrics) ConfigError(appID string, err error, retryAt time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.shop(appID)
	s.configErr = err.Error()
	s.lastErr = s.configErr
	s.retryAt = retryAt
}

// VerifyFinished records the anomalies the last syncer verify of shop appID found, by kind
// (missing, extra, stale, money, consistency; a kind absent from counts is 0). Each call
// replaces the shop's previous counts.
func (m *Metrics) VerifyFinished(appID string, counts map[string]int) {
	v := make(map[string]int, len(verifyKinds)+len(counts))
	for _, k := range verifyKinds {
		v[k] = 0
	}
	maps.Copy(v, counts)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shop(appID).verify = v
}

// gauges is the collector of the series read from the shops' state.
type gauges struct{ m *Metrics }

func (g gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueDesc, lastSuccessDesc, lagDesc, verifyDesc} {
		ch <- d
	}
}

func (g gauges) Collect(ch chan<- prometheus.Metric) {
	for _, mt := range g.m.snapshot() {
		ch <- mt
	}
}

// snapshot reads the gauges under the lock, so that Collect sends them without holding it.
func (m *Metrics) snapshot() []prometheus.Metric {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	for id, s := range m.shops {
		if s.queue >= 0 {
			gauge(queueDesc, float64(s.queue), id)
		}
		if !s.success.IsZero() {
			gauge(lastSuccessDesc, float64(s.success.Unix()), id)
		}
		if !s.checkpoint.IsZero() {
			gauge(lagDesc, now.Sub(s.checkpoint).Seconds(), id)
		}
		for kind, n := range s.verify {
			gauge(verifyDesc, float64(n), id, kind)
		}
	}
	return out
}

// Health is the daemon's verdict, as /healthz reports it: healthy only when every shop is.
type Health struct {
	Healthy bool `json:"healthy"`
	// Reason names each unhealthy shop and why, "" when healthy.
	Reason string                `json:"reason"`
	Shops  map[string]ShopHealth `json:"shops"`
}

// ShopHealth is the verdict on one shop.
type ShopHealth struct {
	Healthy             bool       `json:"healthy"`
	Reason              string     `json:"reason"`
	LastSuccess         *time.Time `json:"last_success"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastError           string     `json:"last_error"`
	// RetryAt is when a shop with a configuration error will be tried again.
	RetryAt *time.Time `json:"retry_at"`
}

// Health tells whether every shop's copy is being kept fresh: a shop is unhealthy while it
// has a configuration error, after MaxFailures syncs failed in a row, or when its last
// successful sync (or, before one, the daemon's start) is older than MaxAge.
func (m *Metrics) Health() Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	h := Health{Healthy: true, Shops: make(map[string]ShopHealth, len(m.shops))}
	var bad []string
	for _, id := range slices.Sorted(maps.Keys(m.shops)) {
		sh := m.shops[id].health(now, m.started, m.opts)
		h.Shops[id] = sh
		if !sh.Healthy {
			bad = append(bad, id+": "+sh.Reason)
		}
	}
	if len(bad) > 0 {
		h.Healthy, h.Reason = false, strings.Join(bad, "; ")
	}
	return h
}

func (s *shop) health(now, started time.Time, opts Options) ShopHealth {
	h := ShopHealth{
		ConsecutiveFailures: s.failures, LastError: s.lastErr,
		LastSuccess: timeOrNil(s.success), RetryAt: timeOrNil(s.retryAt),
	}
	ref := started
	if !s.success.IsZero() {
		ref = s.success
	}
	switch age := now.Sub(ref); {
	case s.configErr != "":
		h.Reason = s.configErr
	case s.failures >= opts.MaxFailures:
		h.Reason = fmt.Sprintf("the last %d syncs failed", s.failures)
	case age > opts.MaxAge && s.success.IsZero():
		h.Reason = fmt.Sprintf("no successful sync in the %s since start", age.Round(time.Second))
	case age > opts.MaxAge:
		h.Reason = fmt.Sprintf("the last successful sync was %s ago", age.Round(time.Second))
	}
	h.Healthy = h.Reason == ""
	return h
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Handler serves /healthz (200 while every shop is healthy, 503 when one is not, with the
// verdict as JSON) and /metrics (Prometheus text format).
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		h := m.Health()
		w.Header().Set("Content-Type", "application/json")
		if !h.Healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
	return mux
}
