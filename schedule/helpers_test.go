package schedule

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testWriter sends each line written to it to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// record is a log record as the tests look at it: attribute values as strings.
type record struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// logs keeps the records of a logger built by newLogger and lets a test wait for one.
type logs struct {
	mu      sync.Mutex
	records []record
	added   chan struct{} // closed and replaced when a record is added
}

// newLogger returns a logger at level that writes to t.Log and records into the returned
// logs. The code under test must not log after t ends, so start schedulers with start.
func newLogger(t testing.TB, level slog.Level) (*slog.Logger, *logs) {
	l := &logs{added: make(chan struct{})}
	text := slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level})
	return slog.New(&recordHandler{text: text, logs: l}), l
}

// find returns the records that match.
func (l *logs) find(match func(record) bool) []record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var found []record
	for _, r := range l.records {
		if match(r) {
			found = append(found, r)
		}
	}
	return found
}

// waitFor blocks until a record that matches has been logged and returns it. The minute
// is a guard against a hang, not a deadline the code must meet.
func (l *logs) waitFor(t testing.TB, what string, match func(record) bool) record {
	t.Helper()
	guard := time.NewTimer(time.Minute)
	defer guard.Stop()
	for {
		l.mu.Lock()
		i := slices.IndexFunc(l.records, match)
		var r record
		if i >= 0 {
			r = l.records[i]
		}
		added := l.added
		l.mu.Unlock()
		if i >= 0 {
			return r
		}
		select {
		case <-added:
		case <-guard.C:
			t.Fatalf("no log record %s", what)
		}
	}
}

// is matches records with that message and the given attribute values (key, value, …).
func is(msg string, keyValues ...string) func(record) bool {
	return func(r record) bool {
		if r.msg != msg {
			return false
		}
		for i := 0; i+1 < len(keyValues); i += 2 {
			if r.attrs[keyValues[i]] != keyValues[i+1] {
				return false
			}
		}
		return true
	}
}

type recordHandler struct {
	text  slog.Handler
	logs  *logs
	attrs []slog.Attr
}

func (h *recordHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.text.Enabled(ctx, level)
}

func (h *recordHandler) Handle(ctx context.Context, r slog.Record) error {
	rec := record{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.logs.mu.Lock()
	h.logs.records = append(h.logs.records, rec)
	close(h.logs.added)
	h.logs.added = make(chan struct{})
	h.logs.mu.Unlock()
	return h.text.Handle(ctx, r)
}

func (h *recordHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &recordHandler{text: h.text.WithAttrs(attrs), logs: h.logs, attrs: append(slices.Clip(h.attrs), attrs...)}
}

func (h *recordHandler) WithGroup(name string) slog.Handler {
	return &recordHandler{text: h.text.WithGroup(name), logs: h.logs, attrs: h.attrs}
}

// start runs s until the returned stop is called, or until t ends. stop cancels Run's
// context and returns what Run returned.
func start(t testing.TB, s *Scheduler) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// wait blocks until ch is closed; the minute guards against a hang.
func wait(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// newScheduler returns a scheduler logging to t at Info.
func newScheduler(t testing.TB, opts Options) (*Scheduler, *logs) {
	t.Helper()
	var l *logs
	if opts.Logger == nil {
		opts.Logger, l = newLogger(t, slog.LevelInfo)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, l
}

func mustAdd(t testing.TB, s *Scheduler, job Job) {
	t.Helper()
	if err := s.Add(job); err != nil {
		t.Fatal(err)
	}
}
