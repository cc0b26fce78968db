package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"ordersync/fetch"
	"ordersync/pipeline"
)

var start = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type testBundle struct {
	m     *Metrics
	clock *clock
	srv   *httptest.Server
}

// setup starts Metrics at start, judging shops with MaxAge 15 minutes and MaxFailures 3,
// and serves its Handler.
func setup(t *testing.T) *testBundle {
	t.Helper()
	c := &clock{start}
	m := New(Options{MaxAge: 15 * time.Minute, MaxFailures: 3, Now: c.now})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return &testBundle{m: m, clock: c, srv: srv}
}

func (b *testBundle) get(t *testing.T, path string) *http.Response {
	t.Helper()
	resp, err := http.Get(b.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (b *testBundle) healthz(t *testing.T) (int, Health) {
	t.Helper()
	resp := b.get(t, "/healthz")
	var h Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("decode /healthz: %v", err)
	}
	return resp.StatusCode, h
}

func (b *testBundle) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(b.get(t, "/metrics").Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// series is every series of family name, keyed by its labels as "k=v,k=v" (sorted by
// name); a histogram's value is its sample count.
func series(families map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	for _, mt := range families[name].GetMetric() {
		var labels []string
		for _, l := range mt.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		slices.Sort(labels)
		v := mt.GetCounter().GetValue() + mt.GetGauge().GetValue() + float64(mt.GetHistogram().GetSampleCount())
		out[strings.Join(labels, ",")] = v
	}
	return out
}

func at(d time.Duration) *time.Time {
	t := start.Add(d)
	return &t
}

// Steps of the health scenarios.

func shops(ids ...string) func(*testBundle) {
	return func(b *testBundle) { b.m.Shops(ids...) }
}

func client(appID string) func(*testBundle) {
	return func(b *testBundle) { b.m.Shop(appID) }
}

func runOf(appID, kind string, err error) func(*testBundle) {
	return func(b *testBundle) {
		b.m.RunFinished(appID, pipeline.Result{Kind: kind}, err, -1, time.Time{})
	}
}

func syncOf(appID string, err error) func(*testBundle) {
	return runOf(appID, pipeline.KindSync, err)
}

func wait(d time.Duration) func(*testBundle) {
	return func(b *testBundle) { b.clock.t = b.clock.t.Add(d) }
}

func configError(appID string, err error, retryAt time.Time) func(*testBundle) {
	return func(b *testBundle) { b.m.ConfigError(appID, err, retryAt) }
}

func TestHealth(t *testing.T) {
	var (
		busy        = errors.New("list update_time 2026-03-01 09:50:00 … 10:00:00: xiaoe: transient error: 1001 system busy")
		refused     = fmt.Errorf("token: %w: 2017 client_id or secret_key is wrong", fetch.ErrConfig)
		interrupted = fmt.Errorf("list update_time: %w", context.Canceled)
		partial     = fmt.Errorf("1 orders: %w", pipeline.ErrPartial)
	)
	fresh := ShopHealth{Healthy: true}
	syncedAtStart := ShopHealth{Healthy: true, LastSuccess: at(0)}
	tests := []struct {
		name  string
		steps []func(*testBundle)
		want  Health // its Healthy also gives the status: 200 or 503
	}{
		{
			name:  "a daemon just started",
			steps: []func(*testBundle){shops("a", "b")},
			want:  Health{Healthy: true, Shops: map[string]ShopHealth{"a": fresh, "b": fresh}},
		},
		{
			name: "one shop's failures leave the other healthy",
			steps: []func(*testBundle){shops("a", "b"), syncOf("b", nil),
				syncOf("a", busy), syncOf("a", busy), syncOf("a", busy)},
			want: Health{Reason: "a: the last 3 syncs failed", Shops: map[string]ShopHealth{
				"a": {Reason: "the last 3 syncs failed", ConsecutiveFailures: 3, LastError: busy.Error()},
				"b": syncedAtStart,
			}},
		},
		{
			name:  "fewer failures than MaxFailures",
			steps: []func(*testBundle){syncOf("a", busy), syncOf("a", busy)},
			want: Health{Healthy: true, Shops: map[string]ShopHealth{
				"a": {Healthy: true, ConsecutiveFailures: 2, LastError: busy.Error()},
			}},
		},
		{
			name:  "a success after failures",
			steps: []func(*testBundle){syncOf("a", busy), syncOf("a", busy), syncOf("a", busy), wait(time.Minute), syncOf("a", nil)},
			want:  Health{Healthy: true, Shops: map[string]ShopHealth{"a": {Healthy: true, LastSuccess: at(time.Minute)}}},
		},
		{
			name:  "a success older than MaxAge",
			steps: []func(*testBundle){syncOf("a", nil), wait(16 * time.Minute)},
			want: Health{Reason: "a: the last successful sync was 16m0s ago", Shops: map[string]ShopHealth{
				"a": {Reason: "the last successful sync was 16m0s ago", LastSuccess: at(0)},
			}},
		},
		{
			// It stored everything it could and queued the rest for later runs.
			name:  "a partial sync is a success",
			steps: []func(*testBundle){syncOf("a", nil), wait(16 * time.Minute), syncOf("a", partial)},
			want:  Health{Healthy: true, Shops: map[string]ShopHealth{"a": {Healthy: true, LastSuccess: at(16 * time.Minute)}}},
		},
		{
			name:  "a registered shop that never ran, at MaxAge",
			steps: []func(*testBundle){shops("a", "b"), wait(10 * time.Minute), syncOf("b", nil), wait(5 * time.Minute)},
			want: Health{Healthy: true, Shops: map[string]ShopHealth{
				"a": fresh, "b": {Healthy: true, LastSuccess: at(10 * time.Minute)},
			}},
		},
		{
			name:  "a registered shop that never ran, after MaxAge",
			steps: []func(*testBundle){shops("a", "b"), wait(10 * time.Minute), syncOf("b", nil), wait(6 * time.Minute)},
			want: Health{Reason: "a: no successful sync in the 16m0s since start", Shops: map[string]ShopHealth{
				"a": {Reason: "no successful sync in the 16m0s since start"},
				"b": {Healthy: true, LastSuccess: at(10 * time.Minute)},
			}},
		},
		{
			name:  "a shop with an API client is judged",
			steps: []func(*testBundle){client("a"), wait(16 * time.Minute)},
			want: Health{Reason: "a: no successful sync in the 16m0s since start", Shops: map[string]ShopHealth{
				"a": {Reason: "no successful sync in the 16m0s since start"},
			}},
		},
		{
			name:  "a configuration error shows at once",
			steps: []func(*testBundle){shops("a", "b"), syncOf("a", nil), syncOf("b", nil), configError("a", refused, start.Add(time.Minute))},
			want: Health{Reason: "a: " + refused.Error(), Shops: map[string]ShopHealth{
				"a": {Reason: refused.Error(), LastSuccess: at(0), LastError: refused.Error(), RetryAt: at(time.Minute)},
				"b": syncedAtStart,
			}},
		},
		{
			name:  "a failed sync keeps the configuration error",
			steps: []func(*testBundle){configError("a", refused, start.Add(time.Minute)), wait(time.Minute), syncOf("a", busy)},
			want: Health{Reason: "a: " + refused.Error(), Shops: map[string]ShopHealth{
				"a": {Reason: refused.Error(), ConsecutiveFailures: 1, LastError: busy.Error(), RetryAt: at(time.Minute)},
			}},
		},
		{
			name:  "a successful sync clears the configuration error",
			steps: []func(*testBundle){configError("a", refused, start.Add(time.Minute)), wait(time.Minute), syncOf("a", nil)},
			want:  Health{Healthy: true, Shops: map[string]ShopHealth{"a": {Healthy: true, LastSuccess: at(time.Minute)}}},
		},
		{
			name:  "an interrupted sync is no failure",
			steps: []func(*testBundle){syncOf("a", busy), syncOf("a", busy), syncOf("a", interrupted)},
			want: Health{Healthy: true, Shops: map[string]ShopHealth{
				"a": {Healthy: true, ConsecutiveFailures: 2, LastError: busy.Error()},
			}},
		},
		{
			name:  "an interrupted sync is no success",
			steps: []func(*testBundle){wait(16 * time.Minute), syncOf("a", interrupted)},
			want: Health{Reason: "a: no successful sync in the 16m0s since start", Shops: map[string]ShopHealth{
				"a": {Reason: "no successful sync in the 16m0s since start"},
			}},
		},
		{
			// A retry run with an empty queue succeeds without calling the API.
			name: "retries and backfills do not keep a shop fresh",
			steps: []func(*testBundle){syncOf("a", nil), wait(16 * time.Minute),
				runOf("a", pipeline.KindRetry, nil), runOf("a", pipeline.KindBackfill, nil)},
			want: Health{Reason: "a: the last successful sync was 16m0s ago", Shops: map[string]ShopHealth{
				"a": {Reason: "the last successful sync was 16m0s ago", LastSuccess: at(0)},
			}},
		},
		{
			name: "failed backfills are not failed syncs",
			steps: []func(*testBundle){runOf("a", pipeline.KindBackfill, busy),
				runOf("a", pipeline.KindBackfill, busy), runOf("a", pipeline.KindBackfill, busy)},
			want: Health{Healthy: true, Shops: map[string]ShopHealth{"a": fresh}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			for _, step := range tt.steps {
				step(b)
			}
			status, got := b.healthz(t)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("/healthz (-want +got):\n%s", diff)
			}
			wantStatus := http.StatusOK
			if !tt.want.Healthy {
				wantStatus = http.StatusServiceUnavailable
			}
			if status != wantStatus {
				t.Errorf("/healthz status %d, want %d", status, wantStatus)
			}
		})
	}
}

// The keys of /healthz are a contract with scripts: every one is there, null or "" when it
// has no value.
func TestHealthzKeys(t *testing.T) {
	b := setup(t)
	b.m.Shops("a", "b")
	b.m.ConfigError("a", fmt.Errorf("token: %w: 2017", fetch.ErrConfig), start.Add(time.Minute))
	var got struct {
		Healthy *bool                     `json:"healthy"`
		Reason  *string                   `json:"reason"`
		Shops   map[string]map[string]any `json:"shops"`
	}
	if err := json.NewDecoder(b.get(t, "/healthz").Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Healthy == nil || got.Reason == nil {
		t.Errorf("healthy or reason missing: %+v", got)
	}
	wantKeys := []string{"consecutive_failures", "healthy", "last_error", "last_success", "reason", "retry_at"}
	for id, sh := range got.Shops {
		var keys []string
		for k := range sh {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if diff := cmp.Diff(wantKeys, keys); diff != "" {
			t.Errorf("keys of shop %s (-want +got):\n%s", id, diff)
		}
	}
	if got, want := got.Shops["a"]["retry_at"], "2026-03-01T10:01:00Z"; got != want {
		t.Errorf("retry_at of a = %v, want %v", got, want)
	}
}

func TestMetricsPerShop(t *testing.T) {
	b := setup(t)
	a, bb := b.m.Shop("a"), b.m.Shop("b")
	a.Call(fetch.EndpointDetail, 0, 120*time.Millisecond)
	a.Call(fetch.EndpointDetail, 0, 80*time.Millisecond)
	a.Call(fetch.EndpointDetail, 2054, 10*time.Millisecond)
	a.Retry(fetch.EndpointDetail, fetch.KindRateLimited)
	a.RateWait(fetch.EndpointDetail, 1500*time.Millisecond)
	a.TokenRefresh()
	bb.Call(fetch.EndpointList, -502, time.Second)
	bb.Call(fetch.EndpointList, -1, time.Second)
	bb.RateWait(fetch.EndpointList, 250*time.Millisecond)
	b.m.RunFinished("a", pipeline.Result{Kind: pipeline.KindSync, Written: 7, Unchanged: 2, Touched: 1}, nil, 2, start.Add(-5*time.Minute))
	b.m.RunFinished("b", pipeline.Result{Kind: pipeline.KindSync, Written: 1, Failed: 4}, fmt.Errorf("4 orders: %w", pipeline.ErrPartial), 4, start.Add(-20*time.Minute))
	// Unknown depth and checkpoint keep the last known ones.
	b.m.RunFinished("b", pipeline.Result{Kind: pipeline.KindBackfill}, context.Canceled, -1, time.Time{})
	b.clock.t = start.Add(time.Minute)

	const detail, list = "endpoint=" + fetch.EndpointDetail, "endpoint=" + fetch.EndpointList
	tests := []struct {
		family string
		want   map[string]float64
	}{
		{"ordersync_api_calls_total", map[string]float64{
			"app_id=a,code=0," + detail:       2,
			"app_id=a,code=2054," + detail:    1,
			"app_id=b,code=http_502," + list:  1,
			"app_id=b,code=transport," + list: 1,
		}},
		{"ordersync_api_call_duration_seconds", map[string]float64{"app_id=a," + detail: 3, "app_id=b," + list: 2}},
		{"ordersync_api_retries_total", map[string]float64{"app_id=a," + detail + ",kind=rate limited": 1}},
		{"ordersync_rate_limit_wait_seconds_total", map[string]float64{"app_id=a," + detail: 1.5, "app_id=b," + list: 0.25}},
		{"ordersync_token_refreshes_total", map[string]float64{"app_id=a": 1, "app_id=b": 0}},
		{"ordersync_runs_total", map[string]float64{
			"app_id=a,kind=sync,result=ok":              1,
			"app_id=b,kind=sync,result=partial":         1,
			"app_id=b,kind=backfill,result=interrupted": 1,
		}},
		{"ordersync_orders_total", map[string]float64{
			"app_id=a,kind=sync,outcome=written":       7,
			"app_id=a,kind=sync,outcome=unchanged":     3,
			"app_id=a,kind=sync,outcome=failed":        0,
			"app_id=b,kind=sync,outcome=written":       1,
			"app_id=b,kind=sync,outcome=unchanged":     0,
			"app_id=b,kind=sync,outcome=failed":        4,
			"app_id=b,kind=backfill,outcome=written":   0,
			"app_id=b,kind=backfill,outcome=unchanged": 0,
			"app_id=b,kind=backfill,outcome=failed":    0,
		}},
		{"ordersync_failure_queue_depth", map[string]float64{"app_id=a": 2, "app_id=b": 4}},
		{"ordersync_last_success_timestamp_seconds", map[string]float64{"app_id=a": float64(start.Unix()), "app_id=b": float64(start.Unix())}},
		{"ordersync_window_lag_seconds", map[string]float64{"app_id=a": 360, "app_id=b": 1260}},
	}
	families := b.scrape(t)
	for _, tt := range tests {
		got := series(families, tt.family)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.family, diff)
		}
	}
	// The Go and process collectors are the daemon's, not a shop's.
	if got := series(families, "go_goroutines"); len(got) != 1 || got[""] == 0 {
		t.Errorf("go_goroutines = %v, want one series without labels", got)
	}
}

// A shop whose depth and checkpoint were never read has no such series: a 0 would read as
// an empty queue and a copy with no lag.
func TestMetricsUnknownState(t *testing.T) {
	b := setup(t)
	b.m.Shops("a")
	b.m.RunFinished("a", pipeline.Result{Kind: pipeline.KindSync}, errors.New("list: connection refused"), -1, time.Time{})
	families := b.scrape(t)
	for _, name := range []string{"ordersync_failure_queue_depth", "ordersync_window_lag_seconds", "ordersync_last_success_timestamp_seconds", "ordersync_verify_anomalies"} {
		if got := series(families, name); len(got) != 0 {
			t.Errorf("%s = %v, want no series", name, got)
		}
	}
}

func TestVerifyAnomalies(t *testing.T) {
	// expand gives the series of the shops' counts, every other kind at 0.
	expand := func(counts map[string]map[string]float64) map[string]float64 {
		out := map[string]float64{}
		for app, c := range counts {
			for _, kind := range []string{"missing", "extra", "stale", "money", "consistency"} {
				out["app_id="+app+",kind="+kind] = c[kind]
			}
		}
		return out
	}
	tests := []struct {
		name    string
		reports []map[string]int // of shop a when i is even, of b when odd
		want    map[string]map[string]float64
	}{
		{
			name:    "shops apart",
			reports: []map[string]int{{"missing": 2, "money": 1}, {"consistency": 3}},
			want:    map[string]map[string]float64{"a": {"missing": 2, "money": 1}, "b": {"consistency": 3}},
		},
		{
			name:    "a later verify replaces the counts",
			reports: []map[string]int{{"missing": 2, "money": 1}, {"stale": 5}, {"stale": 1}},
			want:    map[string]map[string]float64{"a": {"stale": 1}, "b": {"stale": 5}},
		},
		{
			name:    "a clean verify",
			reports: []map[string]int{nil},
			want:    map[string]map[string]float64{"a": {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t)
			b.m.Shops("never-verified") // has no series
			for i, counts := range tt.reports {
				b.m.VerifyFinished([]string{"a", "b"}[i%2], counts)
			}
			if diff := cmp.Diff(expand(tt.want), series(b.scrape(t), "ordersync_verify_anomalies")); diff != "" {
				t.Errorf("ordersync_verify_anomalies (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSyncedFromTheRunHistory: another replica's syncs count: a success it recorded makes
// the shop healthy here, and the failures it recorded since make it unhealthy.
func TestSyncedFromTheRunHistory(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	m := New(Options{MaxAge: time.Minute, MaxFailures: 3, Now: func() time.Time { return now }})
	m.Shops("a")
	now = now.Add(2 * time.Minute)
	if m.Health().Healthy {
		t.Fatal("healthy with no sync in twice MaxAge")
	}
	m.Synced("a", now.Add(-10*time.Second), 0, "", 0, now.Add(-10*time.Second))
	if h := m.Health(); !h.Healthy {
		t.Fatalf("another replica's recent sync: %+v", h)
	}
	m.Synced("a", now.Add(-10*time.Second), 3, "xiaoe: HTTP 502", 0, time.Time{})
	if h := m.Health(); h.Healthy || h.Shops["a"].LastError != "xiaoe: HTTP 502" {
		t.Errorf("three failures recorded since: %+v", h)
	}
}
