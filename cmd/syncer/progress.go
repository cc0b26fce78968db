package main

import (
	"fmt"
	"sync"
	"time"

	"ordersync/pipeline"
)

// progress shows how a long command is going: on a terminal a line redrawn at most once a
// second, otherwise a log line every ten seconds.
type progress struct {
	e     *env
	kind  string
	tty   bool
	every time.Duration

	mu    sync.Mutex
	last  time.Time
	drawn bool // a line is on the terminal, not yet ended
}

func newProgress(e *env, kind string) *progress {
	p := &progress{e: e, kind: kind, tty: isTerminal(e.stderr), every: 10 * time.Second}
	if p.tty {
		p.every = time.Second
	}
	return p
}

// logProgress is a progress that logs, on a terminal too: the daemon's lines interleave
// with its logs.
func logProgress(e *env, kind string) *progress {
	return &progress{e: e, kind: kind, every: 10 * time.Second}
}

// show is the pipeline's Progress callback.
func (p *progress) show(s pipeline.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Written) / s.Elapsed.Seconds()
	}
	eta := "?"
	if d := estimate(s, p.e.cfg.Rate); d > 0 {
		eta = d.Round(time.Second).String()
	}
	if p.tty {
		fmt.Fprintf(p.e.stderr, "\r%s: windows %d/%d  listed %d  fetched %d  written %d  %.1f orders/s  ETA %s\x1b[K",
			p.kind, s.WindowsDone, s.WindowsTotal, s.Listed, s.Fetched, s.Written, rate, eta)
		p.drawn = true
		return
	}
	p.e.log.Info(p.kind+" progress", "windows_done", s.WindowsDone, "windows_total", s.WindowsTotal,
		"orders_listed", s.Listed, "orders_fetched", s.Fetched, "orders_written", s.Written,
		"orders_per_sec", rate, "eta", eta)
}

// done ends the redrawn line, so that what is printed next starts on a clean one.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.e.stderr)
		p.drawn = false
	}
}

// estimate is the time left: the orders waiting for their details at the API's pace, or,
// while windows remain to be listed, the windows' pace so far if that is longer.
func estimate(s pipeline.Progress, rate float64) time.Duration {
	var d time.Duration
	if left := s.Pending; left > 0 && rate > 0 {
		d = time.Duration(float64(left) / rate * float64(time.Second))
	}
	if s.WindowsDone > 0 && s.WindowsTotal > s.WindowsDone {
		per := s.Elapsed / time.Duration(s.WindowsDone)
		d = max(d, per*time.Duration(s.WindowsTotal-s.WindowsDone))
	}
	return d
}
