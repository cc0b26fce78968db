package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"ordersync/fetch"
	"ordersync/pipeline"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func healthz(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestHealthFollowsRuns(t *testing.T) {
	c := &clock{time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	m := New(Options{MaxAge: 15 * time.Minute, MaxFailures: 3, Now: c.now})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	if got := healthz(t, srv); got != http.StatusOK {
		t.Fatalf("a daemon just started: %d, want 200", got)
	}
	failed := errors.New("list update_time …: API busy")
	for i := 1; i <= 3; i++ {
		m.RunFinished(pipeline.Result{Kind: pipeline.KindSync}, failed, 0, time.Time{})
		want := http.StatusOK
		if i == 3 {
			want = http.StatusServiceUnavailable
		}
		if got := healthz(t, srv); got != want {
			t.Errorf("after %d failed runs: %d, want %d", i, got, want)
		}
	}
	m.RunFinished(pipeline.Result{Kind: pipeline.KindSync, Written: 5}, nil, 0, c.t)
	if got := healthz(t, srv); got != http.StatusOK {
		t.Errorf("after a success: %d, want 200", got)
	}
	c.t = c.t.Add(16 * time.Minute)
	if got := healthz(t, srv); got != http.StatusServiceUnavailable {
		t.Errorf("16 minutes after the last success: %d, want 503", got)
	}
	m.RunFinished(pipeline.Result{Kind: pipeline.KindSync, Failed: 1}, fmt.Errorf("1 orders: %w", pipeline.ErrPartial), 1, c.t)
	if got := healthz(t, srv); got != http.StatusOK {
		t.Errorf("after a partial run: %d, want 200 (it stored what it could)", got)
	}
}

func TestMetricsScrape(t *testing.T) {
	c := &clock{time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	m := New(Options{Now: c.now})
	m.Call("xe.ecommerce.order.detail/1.0.0", 0, 120*time.Millisecond)
	m.Call("xe.ecommerce.order.detail/1.0.0", 0, 80*time.Millisecond)
	m.Call("xe.ecommerce.order.detail/1.0.0", 2054, 10*time.Millisecond)
	m.Call("xe.ecommerce.order.list/1.0.0", -502, time.Second)
	m.Retry("xe.ecommerce.order.detail/1.0.0", fetch.KindRateLimited)
	m.RateWait("xe.ecommerce.order.detail/1.0.0", 1500*time.Millisecond)
	m.TokenRefresh()
	m.RunFinished(pipeline.Result{Kind: pipeline.KindSync, Written: 7, Unchanged: 3}, nil, 2, c.t.Add(-5*time.Minute))

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f, ok := families[name]
		if !ok {
			t.Fatalf("no metric %s", name)
		}
	metrics:
		for _, mt := range f.Metric {
			for k, v := range labels {
				if !hasLabel(mt, k, v) {
					continue metrics
				}
			}
			switch {
			case mt.Counter != nil:
				return mt.Counter.GetValue()
			case mt.Gauge != nil:
				return mt.Gauge.GetValue()
			case mt.Histogram != nil:
				return float64(mt.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("no %s with labels %v", name, labels)
		return 0
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ordersync_api_calls_total", map[string]string{"endpoint": "xe.ecommerce.order.detail/1.0.0", "code": "0"}, 2},
		{"ordersync_api_calls_total", map[string]string{"code": "2054"}, 1},
		{"ordersync_api_calls_total", map[string]string{"code": "http_502"}, 1},
		{"ordersync_api_call_duration_seconds", map[string]string{"endpoint": "xe.ecommerce.order.detail/1.0.0"}, 3},
		{"ordersync_api_retries_total", map[string]string{"kind": fmt.Sprint(fetch.KindRateLimited)}, 1},
		{"ordersync_rate_limit_wait_seconds_total", nil, 1.5},
		{"ordersync_token_refreshes_total", nil, 1},
		{"ordersync_runs_total", map[string]string{"kind": "sync", "result": "ok"}, 1},
		{"ordersync_orders_total", map[string]string{"outcome": "written"}, 7},
		{"ordersync_orders_total", map[string]string{"outcome": "unchanged"}, 3},
		{"ordersync_failure_queue_depth", nil, 2},
		{"ordersync_last_success_timestamp_seconds", nil, float64(c.t.Unix())},
		{"ordersync_window_lag_seconds", nil, 300},
	}
	for _, ck := range checks {
		if got := value(ck.name, ck.labels); got != ck.want {
			t.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
		}
	}
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.Label {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}
