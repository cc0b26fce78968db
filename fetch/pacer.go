package fetch

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// floorFraction is how far below its ceiling refusals may push a pace.
const floorFraction = 32

// pacer spaces the calls of one endpoint, shared by all goroutines: a token bucket that
// fills at the pace, up to burst. Its pace drops by half when the API refuses a burst and
// climbs back by a fortieth of its ceiling with each call that succeeds (additive
// increase, multiplicative decrease), so that a storm of refusals quiets the client in a
// few calls and a passing one costs little throughput. The ceiling is the full pace
// divided among the processes that share the shop's rate.
//
// Every change of pace applies at once to the calls already waiting, because only one
// waits on the bucket at a time and it reckons its turn again when the pace changes. (A
// rate.Limiter fixes the time of each waiter as it arrives: a queue of them would go on at
// the old pace, or after a rise overlap the calls at the new one.)
type pacer struct {
	// turn is held by the call that waits on the bucket; the others queue for it.
	turn chan struct{}

	mu      sync.Mutex
	burst   float64
	tokens  float64
	at      time.Time     // when tokens was reckoned
	changed chan struct{} // closed when the pace changes
	full    float64       // the ceiling of a process that has the rate to itself, calls/s
	max     float64       // the pace it returns to: its share of full
	cur     float64
	// gen counts slow-downs. A refusal of a call sent before the latest slow-down says
	// nothing new: the calls in flight when a storm starts all come back refused, and they
	// must halve the pace once, not once each.
	gen uint64
}

func newPacer(perSec float64, burst int) *pacer {
	return &pacer{
		turn:    make(chan struct{}, 1),
		burst:   float64(burst),
		changed: make(chan struct{}),
		full:    perSec,
		max:     perSec,
		cur:     perSec,
	}
}

// wait blocks until the endpoint may be called, and returns the generation to pass to
// slowDown if the call is refused.
func (p *pacer) wait(ctx context.Context) (uint64, error) {
	select {
	case p.turn <- struct{}{}: // the runtime lets blocked senders in in order
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-p.turn }()
	now := time.Now()
	for {
		p.mu.Lock()
		p.reckon(now)
		if p.tokens >= 1 {
			p.tokens--
			gen := p.gen
			p.mu.Unlock()
			return gen, nil
		}
		due := p.at.Add(time.Duration(math.Ceil((1 - p.tokens) / p.cur * float64(time.Second))))
		changed := p.changed
		p.mu.Unlock()
		if deadline, ok := ctx.Deadline(); ok && deadline.Before(due) {
			return 0, fmt.Errorf("waiting for the rate limit would pass the deadline: %w", context.DeadlineExceeded)
		}
		t := time.NewTimer(time.Until(due))
		select {
		case <-t.C:
			// Its turn came when due, not when the timer woke it: the timer's lateness
			// must not slow the pace.
			now = due
		case <-changed:
			now = time.Now()
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		}
		t.Stop()
	}
}

// reckon fills the bucket up to t at the current pace. p.mu must be held.
func (p *pacer) reckon(t time.Time) {
	if t.After(p.at) {
		p.tokens = min(p.burst, p.tokens+t.Sub(p.at).Seconds()*p.cur)
		p.at = t
	}
}

// setPace changes the pace from now on and tells the waiting call. p.mu must be held.
func (p *pacer) setPace(v float64) {
	p.reckon(time.Now())
	p.cur = v
	close(p.changed)
	p.changed = make(chan struct{})
}

// succeeded lets the pace climb back towards its ceiling.
func (p *pacer) succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur < p.max {
		p.setPace(min(p.max, p.cur+p.max/40))
	}
}

// slowDown halves the pace after a refusal of a call sent in generation gen, unless it was
// halved since. It returns the new pace and whether it changed.
func (p *pacer) slowDown(gen uint64) (float64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	floor := p.max / floorFraction
	if gen != p.gen || p.cur <= floor {
		return p.cur, false
	}
	p.gen++
	p.setPace(max(floor, p.cur/2))
	return p.cur, true
}

// share sets the ceiling to the full pace divided by n. The current pace moves with it,
// staying as far below the ceiling as refusals had put it: a slow-down answered a crowded
// API, which a new share does not make less crowded.
func (p *pacer) share(n float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ceiling := p.full / n
	p.setPace(min(ceiling, p.cur*ceiling/p.max))
	p.max = ceiling
}

// pace is the current pace in calls/s.
func (p *pacer) pace() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}
