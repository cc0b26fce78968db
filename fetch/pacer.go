package fetch

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/time/rate"
)

// floorFraction is how far below its ceiling refusals may push a pace.
const floorFraction = 32

// pacer spaces the calls of one endpoint, shared by all goroutines. Its pace drops by half
// when the API refuses a burst and climbs back by a fortieth of its ceiling with each call
// that succeeds (additive increase, multiplicative decrease), so that a storm of refusals
// quiets the client in a few calls and a passing one costs little throughput. The ceiling
// is the full pace divided among the processes that share the shop's rate.
type pacer struct {
	lim *rate.Limiter

	mu   sync.Mutex
	full float64 // the ceiling of a process that has the rate to itself, calls/s
	max  float64 // the pace it returns to: its share of full
	cur  float64
	// gen counts slow-downs. A refusal of a call sent before the latest slow-down says
	// nothing new: the calls in flight when a storm starts all come back refused, and they
	// must halve the pace once, not once each.
	gen uint64
}

func newPacer(perSec float64, burst int) *pacer {
	return &pacer{
		lim:  rate.NewLimiter(rate.Limit(perSec), burst),
		full: perSec,
		max:  perSec,
		cur:  perSec,
	}
}

// wait blocks until the endpoint may be called, and returns the generation to pass to
// slowDown if the call is refused.
func (p *pacer) wait(ctx context.Context) (uint64, error) {
	p.mu.Lock()
	gen := p.gen
	p.mu.Unlock()
	if err := p.lim.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		// rate.Limiter refuses at once a wait that would end past the deadline.
		return 0, fmt.Errorf("waiting for the rate limit would pass the deadline: %w", context.DeadlineExceeded)
	}
	return gen, nil
}

// succeeded lets the pace climb back towards its ceiling.
func (p *pacer) succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur < p.max {
		p.cur = min(p.max, p.cur+p.max/40)
		p.lim.SetLimit(rate.Limit(p.cur))
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
	p.cur = max(floor, p.cur/2)
	p.lim.SetLimit(rate.Limit(p.cur))
	return p.cur, true
}

// share sets the ceiling to the full pace divided by n. The current pace moves with it,
// staying as far below the ceiling as refusals had put it: a slow-down answered a crowded
// API, which a new share does not make less crowded.
func (p *pacer) share(n float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ceiling := p.full / n
	p.cur = min(ceiling, p.cur*ceiling/p.max)
	p.max = ceiling
	p.lim.SetLimit(rate.Limit(p.cur))
}

// pace is the current pace in calls/s.
func (p *pacer) pace() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}
