package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// riverVersion is the version, among ordersync's migrations, of the one that creates
// River's tables: the job queue that spreads the shops' syncs over the replicas.
const riverVersion = 7

// riverTables are the tables River's migrations create, and its Down drops, but for
// river_migration: like goose's version table, it holds no data of the user's.
// Those a version of River does not have are left out when the rollback is planned.
var riverTables = []string{"river_client_queue", "river_client", "river_notification", "river_queue", "river_leader", "river_job"}

// riverMigration runs River's own migrations through rivermigrate, outside a transaction:
// one of them adds an enum value and then uses it, which PostgreSQL refuses within one
// transaction. River's migrations are idempotent per version and recorded in its own
// river_migration table, so a migration cut short is resumed by the next `syncer migrate`.
func (s *Store) riverMigration() *goose.Migration {
	run := func(direction rivermigrate.Direction, opts *rivermigrate.MigrateOpts) func(context.Context, *sql.DB) error {
		return func(ctx context.Context, _ *sql.DB) error {
			m, err := rivermigrate.New(riverpgxv5.New(s.pool), &rivermigrate.Config{Logger: s.log})
			if err != nil {
				return fmt.Errorf("river migrations: %w", err)
			}
			res, err := m.Migrate(ctx, direction, opts)
			if err != nil {
				return fmt.Errorf("river migrations %s: %w", direction, err)
			}
			for _, v := range res.Versions {
				s.log.Info("river migration applied", "direction", string(direction), "river_version", v.Version, "name", v.Name)
			}
			return nil
		}
	}
	return goose.NewGoMigration(riverVersion,
		&goose.GoFunc{RunDB: run(rivermigrate.DirectionUp, nil)},
		&goose.GoFunc{RunDB: run(rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1})})
}

// riverDrops is what rolling River's migration back drops.
func riverDrops() []dropped {
	out := make([]dropped, len(riverTables))
	for i, t := range riverTables {
		out[i] = dropped{kind: "table", name: pgx.Identifier{t}}
	}
	return out
}
