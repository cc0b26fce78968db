package fetch_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/order"
)

var (
	day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, order.Shanghai)
	day1 = day0.AddDate(0, 0, 20)
)

// testBundle is a fake shop and a client pointed at it.
type testBundle struct {
	srv    *fetchtest.Server
	client *fetch.Client
	obs    *recorder
	logs   *logBuffer
}

type setupOpts struct {
	shop   fetchtest.Options
	config func(*fetch.Config)
}

// setup starts a fake shop and a client for it: fast retries, no pace limit unless the
// test sets one, logs to the test and to a buffer.
func setup(t *testing.T, o setupOpts) *testBundle {
	t.Helper()
	if o.shop.From.IsZero() {
		o.shop.From, o.shop.To = day0, day1
	}
	if o.shop.Rate == 0 {
		o.shop.Rate = -1
	}
	srv := fetchtest.NewServer(t, o.shop)
	b := &testBundle{srv: srv, obs: &recorder{}, logs: newLogBuffer(t)}
	opts := srv.Options()
	cfg := fetch.Config{
		BaseURL:      srv.URL(),
		AppID:        opts.AppID,
		ClientID:     opts.ClientID,
		SecretKey:    fetch.Secret(opts.SecretKey),
		Rate:         1000,
		BackoffMin:   5 * time.Millisecond,
		BackoffMax:   50 * time.Millisecond,
		MaxRetryTime: 20 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Observer:     b.obs,
	}
	if o.config != nil {
		o.config(&cfg)
	}
	c, err := fetch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.client = c
	return b
}

// logBuffer keeps what the client logs and shows it in the test's output while the test runs.
type logBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	t    *testing.T
	done bool
}

func newLogBuffer(t *testing.T) *logBuffer {
	l := &logBuffer{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.done {
		l.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// recorder is an Observer that counts what it is told.
type recorder struct {
	mu      sync.Mutex
	calls   map[string]map[int]int
	retries map[fetch.Kind]int
	waits   int
	refresh int
	onCall  func(endpoint string, code int)
}

func (r *recorder) Call(endpoint string, code int, d time.Duration) {
	r.mu.Lock()
	if r.calls == nil {
		r.calls = map[string]map[int]int{}
	}
	if r.calls[endpoint] == nil {
		r.calls[endpoint] = map[int]int{}
	}
	r.calls[endpoint][code]++
	hook := r.onCall
	r.mu.Unlock()
	if hook != nil {
		hook(endpoint, code)
	}
}

func (r *recorder) Retry(endpoint string, kind fetch.Kind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.retries == nil {
		r.retries = map[fetch.Kind]int{}
	}
	r.retries[kind]++
}

func (r *recorder) RateWait(endpoint string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits++
}

func (r *recorder) TokenRefresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refresh++
}

func (r *recorder) setOnCall(f func(string, int)) {
	r.mu.Lock()
	r.onCall = f
	r.mu.Unlock()
}

func (r *recorder) retriesOf(k fetch.Kind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.retries[k]
}

func (r *recorder) totalRetries() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.retries {
		n += v
	}
	return n
}

// together runs f in n goroutines released at once, and waits for them all.
func together(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

// pool fetches the details of ids with n workers and returns the raw payloads by id.
func pool(ctx context.Context, c *fetch.Client, ids []string, n int) (map[string][]byte, []error) {
	var mu sync.Mutex
	got := make(map[string][]byte, len(ids))
	var errs []error
	next := make(chan string)
	go func() {
		defer close(next)
		for _, id := range ids {
			select {
			case next <- id:
			case <-ctx.Done():
				return
			}
		}
	}()
	together(n, func(int) {
		for id := range next {
			data, _, err := c.OrderDetail(ctx, id)
			mu.Lock()
			if err != nil {
				errs = append(errs, err)
			} else {
				got[id] = data
			}
			mu.Unlock()
		}
	})
	return got, errs
}

// newTestLogger logs to the test.
func newTestLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(newLogBuffer(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
