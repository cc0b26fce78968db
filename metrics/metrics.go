// Package metrics is the daemon's operator view: Prometheus metrics of runs, orders and
// API calls, and a health verdict from the recent runs, served at /metrics and /healthz.
package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ordersync/fetch"
	"ordersync/pipeline"
)

// Options tune the health verdict.
type Options struct {
	// MaxAge is how old the last successful run may be while the daemon is healthy; until
	// the first success, the daemon's start counts as one. Default 30 minutes.
	MaxAge time.Duration
	// MaxFailures is how many runs in a row may fail before the daemon is unhealthy, however
	// recent its last success. Default 3.
	MaxFailures int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Metrics collects the daemon's metrics. It is the API client's fetch.Observer.
type Metrics struct {
	opts Options
	reg  *prometheus.Registry

	runs        *prometheus.CounterVec
	orders      *prometheus.CounterVec
	calls       *prometheus.CounterVec
	callSeconds *prometheus.HistogramVec
	waits       *prometheus.CounterVec
	retries     *prometheus.CounterVec
	tokens      prometheus.Counter
	queue       prometheus.Gauge
	lastSuccess prometheus.Gauge

	mu         sync.Mutex
	started    time.Time
	success    time.Time // last successful run
	failures   int       // runs failed in a row
	lastErr    string
	checkpoint time.Time
}

var _ fetch.Observer = (*Metrics)(nil)

// New returns Metrics with every series registered.
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
	m := &Metrics{opts: opts, reg: prometheus.NewRegistry(), started: opts.Now()}
	f := promFactory{m.reg}
	m.runs = f.counterVec("ordersync_runs_total", "Sync runs by kind and result (ok, partial, failed).", "kind", "result")
	m.orders = f.counterVec("ordersync_orders_total", "Orders handled by runs, by outcome (written, unchanged, failed).", "kind", "outcome")
	m.calls = f.counterVec("ordersync_api_calls_total", "Xiaoe API calls (HTTP attempts) by endpoint and code (the API's code, or http_NNN, or transport).", "endpoint", "code")
	m.callSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ordersync_api_call_duration_seconds", Help: "Duration of Xiaoe API calls.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"endpoint"})
	m.reg.MustRegister(m.callSeconds)
	m.waits = f.counterVec("ordersync_rate_limit_wait_seconds_total", "Time spent waiting for the client's rate limiter, by endpoint.", "endpoint")
	m.retries = f.counterVec("ordersync_api_retries_total", "API calls retried, by endpoint and error kind.", "endpoint", "kind")
	m.tokens = prometheus.NewCounter(prometheus.CounterOpts{Name: "ordersync_token_refreshes_total", Help: "Access tokens fetched."})
	m.queue = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ordersync_failure_queue_depth", Help: "Orders waiting in the failure queue after the last run."})
	m.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ordersync_last_success_timestamp_seconds", Help: "Unix time of the end of the last successful run."})
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ordersync_window_lag_seconds",
		Help: "Seconds between now and the incremental sync's checkpoint (how stale the copy may be).",
	}, m.lag)
	m.reg.MustRegister(m.tokens, m.queue, m.lastSuccess, lag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

type promFactory struct{ reg *prometheus.Registry }

func (f promFactory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (m *Metrics) lag() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.checkpoint.IsZero() {
		return 0
	}
	return m.opts.Now().Sub(m.checkpoint).Seconds()
}

// Call implements fetch.Observer.
func (m *Metrics) Call(endpoint string, code int, d time.Duration) {
	m.calls.WithLabelValues(endpoint, codeLabel(code)).Inc()
	m.callSeconds.WithLabelValues(endpoint).Observe(d.Seconds())
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

// Retry implements fetch.Observer.
func (m *Metrics) Retry(endpoint string, kind fetch.Kind) {
	m.retries.WithLabelValues(endpoint, fmt.Sprint(kind)).Inc()
}

// RateWait implements fetch.Observer.
func (m *Metrics) RateWait(endpoint string, d time.Duration) {
	m.waits.WithLabelValues(endpoint).Add(d.Seconds())
}

// TokenRefresh implements fetch.Observer.
func (m *Metrics) TokenRefresh() { m.tokens.Inc() }

// RunFinished records a run: its result, the failure queue's depth after it (negative
// when unknown) and the incremental checkpoint (zero when unknown).
func (m *Metrics) RunFinished(res pipeline.Result, err error, queueDepth int, checkpoint time.Time) {
	result := "ok"
	switch {
	case errors.Is(err, pipeline.ErrPartial):
		result = "partial"
	case errors.Is(err, context.Canceled):
		result = "interrupted"
	case err != nil:
		result = "failed"
	}
	m.runs.WithLabelValues(res.Kind, result).Inc()
	m.orders.WithLabelValues(res.Kind, "written").Add(float64(res.Written))
	m.orders.WithLabelValues(res.Kind, "unchanged").Add(float64(res.Unchanged + res.Touched))
	m.orders.WithLabelValues(res.Kind, "failed").Add(float64(res.Failed))
	if queueDepth >= 0 {
		m.queue.Set(float64(queueDepth))
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if !checkpoint.IsZero() {
		m.checkpoint = checkpoint
	}
	// A partial run stored everything it could and queued the rest for later runs: the
	// daemon is doing its job.
	if err == nil || errors.Is(err, pipeline.ErrPartial) {
		m.success = m.opts.Now()
		m.failures = 0
		m.lastErr = ""
		m.lastSuccess.Set(float64(m.success.Unix()))
		return
	}
	m.failures++
	m.lastErr = err.Error()
}

// Health is the daemon's verdict, as /healthz reports it.
type Health struct {
	Healthy             bool       `json:"healthy"`
	Reason              string     `json:"reason,omitempty"`
	LastSuccess         *time.Time `json:"last_success"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastError           string     `json:"last_error,omitempty"`
}

// Health tells whether the copy is being kept fresh: the last successful run is recent
// enough and runs are not failing one after another.
func (m *Metrics) Health() Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := Health{Healthy: true, ConsecutiveFailures: m.failures, LastError: m.lastErr}
	ref := m.started
	if !m.success.IsZero() {
		s := m.success
		h.LastSuccess = &s
		ref = s
	}
	switch age := m.opts.Now().Sub(ref); {
	case m.failures >= m.opts.MaxFailures:
		h.Healthy, h.Reason = false, fmt.Sprintf("the last %d runs failed", m.failures)
	case age > m.opts.MaxAge && h.LastSuccess == nil:
		h.Healthy, h.Reason = false, fmt.Sprintf("no successful run in the %s since start", age.Round(time.Second))
	case age > m.opts.MaxAge:
		h.Healthy, h.Reason = false, fmt.Sprintf("the last successful run was %s ago", age.Round(time.Second))
	}
	return h
}

// Handler serves /healthz (200 while healthy, 503 when not, with the verdict as JSON) and
// /metrics (Prometheus text format).
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
