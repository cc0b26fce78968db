// Package store is ordersync's PostgreSQL side: the pool, the migrations, batch upserts of
// orders, run history, window checkpoints and the failure queue.
package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the database of one ordersync installation.
type Store struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	stats    statistics
	locks    *sessionLocks
	renewals renewals
	// bg is the context of the store's own background work, cancelled by Close.
	bg     context.Context
	stopBg context.CancelFunc
}

// New connects to the database at url (a postgres:// URL or libpq keyword/value string;
// empty uses the libpq environment) and checks that it answers. Errors never show the
// password.
func New(ctx context.Context, url string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx masks the password in its parse errors.
		return nil, fmt.Errorf("database url: %w", err)
	}
	params := cfg.ConnConfig.RuntimeParams
	setIfUnset(params, "application_name", "ordersync")
	// A lock wait or a forgotten transaction must not hang a sync forever.
	setIfUnset(params, "idle_in_transaction_session_timeout", "300000")
	setIfUnset(params, "lock_timeout", "120000")
	setIfUnset(params, "statement_timeout", "300000")
	// The batch statements are prepared once per connection; a generic plan made while
	// the tables were small (a scan) would be kept as they grow. Plan each execution.
	setIfUnset(params, "plan_cache_mode", "force_custom_plan")
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default, 4 on two cores, is too few: every shop's writer, the
		// budget's renewals and River want theirs.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s@%s/%s: %w",
			cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	bg, stopBg := context.WithCancel(context.Background())
	st := &Store{pool: pool, log: logger, bg: bg, stopBg: stopBg}
	st.locks = newSessionLocks(st.connect, logger)
	go st.locks.keep(bg)
	st.renewals.s = st
	return st, nil
}

// connect opens a connection outside the pool, configured as the pool's are.
func (s *Store) connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
}

// defaultMaxConns is the pool's size unless the database URL sets pool_max_conns.
const defaultMaxConns = 20

func setIfUnset(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// Pool returns the store's pool, for River and for queries of the commands' own.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close stops the store's background work, ends the session of its advisory locks and
// closes the pool.
func (s *Store) Close() {
	s.stopBg()
	s.locks.close()
	s.pool.Close()
}
