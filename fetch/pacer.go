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
// On top of the bucket, a pacer with a window (list and detail: the API counts their calls
// per second) never lets go more calls in any window-long span than the ceiling pace puts
// there, counted from when they were actually let go. The bucket reckons a late timer's
// turn from when it was due so that timer lateness costs no throughput; the window keeps
// the calls that catch up from crowding one second with the calls before. It holds on
// any alignment of the API's seconds (calendar or sliding), so it aligns to none.
//
// Every change of pace applies at once to the calls already waiting, because only one
// waits on the bucket at a time and it reckons its turn again when the pace changes. (A
// rate.Limiter fixes the time of each waiter as it arrives: a queue of them would go on at
// the old pace, or after a rise overlap the calls at the new one.)
type pacer struct {
	// turn is held by the call that waits on the bucket; the others queue for it.
	turn chan struct{}
	// window is the span the API counts calls in (a second); 0: no such count.
	window time.Duration

	mu      sync.Mutex
	burst   float64
	tokens  float64
	at      time.Time     // when tokens was reckoned
	changed chan struct{} // closed when the pace changes
	full    float64       // the ceiling of a process that has the rate to itself, calls/s
	max     float64       // the pace it returns to: its share of full
	cur     float64
	// granted holds when the latest calls were let go, oldest first, or when they were
	// sent if that is known: the window's count is checked against them.
	granted []time.Time
	grants  uint64 // calls let go so far: the newest in granted is number grants-1
	// gen counts slow-downs. A refusal of a call sent before the latest slow-down says
	// nothing new: the calls in flight when a storm starts all come back refused, and they
	// must halve the pace once, not once each.
	gen uint64
}

func newPacer(perSec float64, burst int, window time.Duration) *pacer {
	return &pacer{
		turn:    make(chan struct{}, 1),
		window:  window,
		burst:   float64(burst),
		changed: make(chan struct{}),
		full:    perSec,
		max:     perSec,
		cur:     perSec,
	}
}

// wait blocks until the endpoint may be called, and returns the generation to pass to
// slowDown if the call is refused and the call's number to pass to sent.
func (p *pacer) wait(ctx context.Context) (gen, call uint64, err error) {
	select {
	case p.turn <- struct{}{}: // the runtime lets blocked senders in in order
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	defer func() { <-p.turn }()
	now := time.Now()
	for {
		p.mu.Lock()
		p.reckon(now)
		if p.tokens >= 1 {
			p.tokens--
			p.mu.Unlock()
			break
		}
		due := p.at.Add(time.Duration(math.Ceil((1 - p.tokens) / p.cur * float64(time.Second))))
		changed := p.changed
		p.mu.Unlock()
		onTime, err := sleepUntil(ctx, due, changed)
		if err != nil {
			return 0, 0, err
		}
		now = time.Now()
		if onTime {
			// Its turn came when due, not when the timer woke it: the timer's lateness
			// must not slow the pace. The calls after it may then follow closer than the
			// pace; the window below keeps them from crowding a second.
			now = due
		}
	}
	for {
		p.mu.Lock()
		now := time.Now()
		opens := p.windowOpens()
		if !now.Before(opens) {
			if p.window > 0 {
				p.granted = append(p.granted, now)
			}
			p.grants++
			gen := p.gen
			p.mu.Unlock()
			return gen, p.grants - 1, nil
		}
		changed := p.changed
		p.mu.Unlock()
		if _, err := sleepUntil(ctx, opens, changed); err != nil {
			return 0, 0, err
		}
	}
}

// windowOpens is the earliest time the next call keeps the window's count: n calls
// after any call, n being the ceiling pace's calls in a window rounded up (20 at 19.6/s),
// go no sooner than that pace spaces them (20/19.6 s). It trims granted to the last n.
// p.mu must be held.
//
// The bucket alone does not ensure it, because it lets a call whose timer woke late be
// followed at once by the next: 20 calls 1/19.6 s apart, the first of them let go 21 ms
// late, and the 21st caught up on, fit in a second. The window counts from when calls
// were let go, or sent if later, so lateness before that is accounted for; only the
// jitter of the calls' way to the API is left to the headroom. Measured with
// BenchmarkBackfillAtRateLimit, the shortest span in which 21 detail calls reached the
// shop: without the window, 971–999 ms in each of 3 runs at a 0.03 headroom (1031 ms
// nominal); with it, at 0.02 (1020 ms nominal), 1011–1015 ms in 5 of 10 runs, 998–1005 in
// 3, 971 and 985 ms in 2 while other work kept the 2-core machine's load average at 3–5:
// that jitter arises after the call is written out, where no client can see it.
func (p *pacer) windowOpens() time.Time {
	if p.window <= 0 {
		return time.Time{}
	}
	n := max(1, int(math.Ceil(p.max*p.window.Seconds())))
	if len(p.granted) > n {
		p.granted = p.granted[len(p.granted)-n:]
	}
	if len(p.granted) < n {
		return time.Time{}
	}
	return p.granted[0].Add(time.Duration(math.Ceil(float64(n) / p.max * float64(time.Second))))
}

// sent tells that call, a number from wait, was written out at t. The window then counts
// it from t: what delayed it after its turn (a busy machine, a new connection and its TLS
// handshake) would otherwise bring it to the API closer to the calls after it.
func (p *pacer) sent(call uint64, t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if back := p.grants - 1 - call; back < uint64(len(p.granted)) {
		i := len(p.granted) - 1 - int(back)
		if t.After(p.granted[i]) {
			p.granted[i] = t
		}
	}
}

// sleepUntil waits until t, until the pace changes or until ctx ends, and reports
// whether it was t. It fails without waiting when t lies past ctx's deadline.
func sleepUntil(ctx context.Context, t time.Time, changed <-chan struct{}) (bool, error) {
	if deadline, ok := ctx.Deadline(); ok && deadline.Before(t) {
		return false, fmt.Errorf("waiting for the rate limit would pass the deadline: %w", context.DeadlineExceeded)
	}
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true, nil
	case <-changed:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
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
