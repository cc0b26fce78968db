package store

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"ordersync/order"
)

// analyzeEvery is how many new orders are written between two ANALYZEs of the order
// tables. A backfill grows them from nothing to millions of rows; with statistics from
// when they were empty the planner scans where it should look up, and autovacuum, which
// would fix that, may be off or late.
const analyzeEvery = 50_000

// statistics keeps the planner's statistics of the order tables fresh as they grow.
type statistics struct {
	mu      sync.Mutex
	pending int  // new orders since the last ANALYZE
	running bool // an ANALYZE is under way
}

// wrote counts new orders, and starts an ANALYZE in the background once there are enough.
func (s *Store) wrote(newOrders int) {
	st := &s.stats
	st.mu.Lock()
	st.pending += newOrders
	start := st.pending >= analyzeEvery && !st.running
	if start {
		st.pending, st.running = 0, true
	}
	st.mu.Unlock()
	if !start {
		return
	}
	go func() {
		defer func() {
			st.mu.Lock()
			st.running = false
			st.mu.Unlock()
		}()
		s.analyzeOrders(s.bg)
	}()
}

// analyzeOrders runs ANALYZE on the order tables. It is an optimisation: a failure is
// logged, never returned.
func (s *Store) analyzeOrders(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	names := []string{pgx.Identifier{"order_payloads"}.Sanitize()}
	for _, t := range order.Tables {
		names = append(names, pgx.Identifier{t.Name}.Sanitize())
	}
	start := time.Now()
	if _, err := s.pool.Exec(ctx, "ANALYZE "+strings.Join(names, ", ")); err != nil {
		if ctx.Err() != nil {
			return // the store is closing
		}
		s.log.Warn("analyze the order tables", "error", err)
		return
	}
	s.log.Debug("analyzed the order tables", "duration_ms", time.Since(start).Milliseconds())
}
