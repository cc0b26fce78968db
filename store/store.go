// Package store is ordersync's PostgreSQL side: the pool, the migrations, batch upserts of
// orders, run history, window checkpoints and the failure queue.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"ordersync/migrations"
)

// Store is the database of one ordersync installation.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
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
	return &Store{pool: pool, log: logger}, nil
}

func setIfUnset(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// Pool returns the store's pool, for the advisory locks of the scheduler.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// ErrSchemaOutdated says that the database needs `syncer migrate` before this version of
// ordersync can use it.
var ErrSchemaOutdated = errors.New("the database schema is not current: run `syncer migrate`")

func (s *Store) provider() (*goose.Provider, *sql.DB, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, err
	}
	db := stdlib.OpenDBFromPool(s.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(s.log))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	return p, db, nil
}

// Migrate applies every pending migration. Replicas starting together take turns: goose
// holds an advisory lock while it migrates.
func (s *Store) Migrate(ctx context.Context) error {
	p, db, err := s.provider()
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := p.Up(ctx)
	for _, r := range res {
		s.log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration_ms", r.Duration.Milliseconds())
	}
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// MigrateDown rolls back the most recent migration.
func (s *Store) MigrateDown(ctx context.Context) error {
	p, db, err := s.provider()
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := p.Down(ctx); err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// MigrationState is one migration and whether it is applied.
type MigrationState struct {
	Version   int64
	File      string
	Applied   bool
	AppliedAt time.Time
}

// MigrationStatus lists every migration the binary knows and whether it is applied.
func (s *Store) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	p, db, err := s.provider()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationState, len(st))
	for i, m := range st {
		out[i] = MigrationState{Version: m.Source.Version, File: m.Source.Path,
			Applied: m.State == goose.StateApplied, AppliedAt: m.AppliedAt}
	}
	return out, nil
}

// CheckSchema returns ErrSchemaOutdated unless every migration is applied.
func (s *Store) CheckSchema(ctx context.Context) error {
	p, db, err := s.provider()
	if err != nil {
		return err
	}
	defer db.Close()
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if pending {
		current, _ := p.GetDBVersion(ctx)
		sources := p.ListSources()
		return fmt.Errorf("schema version %d, this syncer needs %d: %w",
			current, sources[len(sources)-1].Version, ErrSchemaOutdated)
	}
	return nil
}
