package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"ordersync/migrations"
)

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
		goose.WithSlog(s.log), goose.WithGoMigrations(s.riverMigration()))
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

// PreviousVersion is the target of MigrateDown that rolls back the most recent migration
// only.
const PreviousVersion int64 = -1

// ErrDropsRows is returned (wrapped) by MigrateDown when it refused to drop tables that
// hold rows.
var ErrDropsRows = errors.New("rolling back would drop tables that hold rows")

// ErrNoSuchVersion is returned (wrapped) by MigrateDown for a target that is no migration's
// version.
var ErrNoSuchVersion = errors.New("no migration has this version (see `syncer migrate status`)")

// Rollback is an applied migration that MigrateDown undoes.
type Rollback struct {
	Version int64
	File    string
	// Drops are the tables and views its Down drops that exist, in the file's order.
	Drops []Drop
}

// Drop is a table or view that rolling back a migration drops.
type Drop struct {
	Kind string // "table", "view" or "materialized view"
	Name string
	// Rows is how many rows the table held just before the rollback; 0 for a view.
	Rows int64
}

// MigrateDown rolls back, newest first, every applied migration above version to (0 rolls
// back all of them; PreviousVersion only the most recent one), and returns what it rolled
// back. When a table it would drop holds rows it rolls back nothing unless dropRows, and
// returns what it would have rolled back with an error wrapping ErrDropsRows.
//
// The rows are counted just before the rollback, outside its transactions: stop the
// syncers first, or a table found empty may be written to before it is dropped.
func (s *Store) MigrateDown(ctx context.Context, to int64, dropRows bool) ([]Rollback, error) {
	p, db, err := s.provider()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	plan, target, err := s.planDown(ctx, p, to)
	if err != nil || len(plan) == 0 {
		return nil, err
	}
	if !dropRows && holdsRows(plan) {
		return plan, fmt.Errorf("migrate down to version %d: %w", target, ErrDropsRows)
	}
	res, err := p.DownTo(ctx, target)
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		return rolledBack(plan, partial.Applied), fmt.Errorf("migrate down %d: %w", partial.Failed.Source.Version, partial.Err)
	}
	if err != nil {
		return nil, fmt.Errorf("migrate down to version %d: %w", target, err)
	}
	return rolledBack(plan, res), nil
}

// rolledBack returns the entries of plan that goose rolled back. A migration another
// replica applied after the plan was made has no entry: it is reported without drops.
func rolledBack(plan []Rollback, res []*goose.MigrationResult) []Rollback {
	out := make([]Rollback, len(res))
	for i, r := range res {
		out[i] = Rollback{Version: r.Source.Version, File: r.Source.Path}
		for _, p := range plan {
			if p.Version == r.Source.Version {
				out[i] = p
			}
		}
	}
	return out
}

// planDown lists the applied migrations that rolling back to version to undoes, newest
// first, with what each drops, and returns the version it goes back to.
func (s *Store) planDown(ctx context.Context, p *goose.Provider, to int64) ([]Rollback, int64, error) {
	sources := p.ListSources()
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("read the schema version: %w", err)
	}
	if newest := sources[len(sources)-1].Version; current > newest {
		return nil, 0, fmt.Errorf("the schema is at version %d, newer than this syncer's %d: roll it back with the syncer that migrated it", current, newest)
	}
	states, err := p.Status(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("migration status: %w", err)
	}
	var applied []*goose.Source // newest first
	for i := len(states) - 1; i >= 0; i-- {
		if states[i].State == goose.StateApplied {
			applied = append(applied, states[i].Source)
		}
	}
	target := to
	switch {
	case to == PreviousVersion:
		target = 0
		if len(applied) > 1 {
			target = applied[1].Version
		}
	case to != 0 && !hasVersion(sources, to):
		return nil, 0, fmt.Errorf("migrate down to version %d: %w", to, ErrNoSuchVersion)
	}
	var plan []Rollback
	for _, src := range applied {
		if src.Version <= target {
			break
		}
		named, err := downDrops(src)
		if err != nil {
			return nil, 0, err
		}
		drops, err := s.measure(ctx, named)
		if err != nil {
			return nil, 0, fmt.Errorf("migration %d: %w", src.Version, err)
		}
		plan = append(plan, Rollback{Version: src.Version, File: src.Path, Drops: drops})
	}
	return plan, target, nil
}

func hasVersion(sources []*goose.Source, v int64) bool {
	for _, src := range sources {
		if src.Version == v {
			return true
		}
	}
	return false
}

func holdsRows(plan []Rollback) bool {
	for _, r := range plan {
		for _, d := range r.Drops {
			if d.Rows > 0 {
				return true
			}
		}
	}
	return false
}

// dropped is a table or view named by a migration's Down.
type dropped struct {
	kind string
	name pgx.Identifier
}

// goDownDrops declares, by version, what the Down of each migration written in Go drops:
// unlike SQL, there is no text to read it from. A Go migration given to the provider
// (River's, run through rivermigrate, whose Down drops the river_* tables) needs its
// entry here, or migrate down refuses to roll it back.
var goDownDrops = map[int64][]dropped{riverVersion: riverDrops()}

// downDrops returns the tables and views that the Down of migration src drops.
//
// SQL files are read rather than dry-run in a rolled-back transaction: reading takes no
// lock on tables that a running sync writes, works for files marked NO TRANSACTION, and a
// test proves it against every file. What reading cannot see (CASCADE, DROP SCHEMA,
// dollar-quoted bodies that may build statements) is refused, so nothing is dropped
// unlisted.
func downDrops(src *goose.Source) ([]dropped, error) {
	if src.Type == goose.TypeGo {
		d, ok := goDownDrops[src.Version]
		if !ok {
			return nil, fmt.Errorf("migration %d is written in Go and does not declare what its Down drops (goDownDrops)", src.Version)
		}
		return d, nil
	}
	b, err := fs.ReadFile(migrations.FS, src.Path)
	if err != nil {
		return nil, fmt.Errorf("migration %d: %w", src.Version, err)
	}
	d, err := parseDownDrops(string(b))
	if err != nil {
		return nil, fmt.Errorf("migration %s: %w", src.Path, err)
	}
	return d, nil
}

var (
	// goose's annotation line; it matches it without regard to case.
	gooseDown = regexp.MustCompile(`(?im)^--\s*\+goose\s+down\s*$`)
	dropWord  = regexp.MustCompile(`(?i)\bdrop\s+(materialized\s+view|table|view|schema|owned)\b`)
	ident     = `(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)`
	qualified = ident + `(?:\s*\.\s*` + ident + `)?`
	dropStmt  = regexp.MustCompile(`(?i)^drop\s+(materialized\s+view|table|view)\s+(?:if\s+exists\s+)?(` +
		qualified + `(?:\s*,\s*` + qualified + `)*)(?:\s+restrict)?\s*(?:;|$)`)
	qualifiedName = regexp.MustCompile(`(?i)` + qualified)
	identName     = regexp.MustCompile(`(?i)` + ident)
	spaces        = regexp.MustCompile(`\s+`)
	dollarQuote   = regexp.MustCompile(`^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$`)
)

// parseDownDrops reads the DROP TABLE, DROP VIEW and DROP MATERIALIZED VIEW statements of
// the Down section of a goose SQL migration. Any other drop of tables (CASCADE, DROP SCHEMA,
// DROP OWNED) is an error: its victims are not named.
func parseDownDrops(migration string) ([]dropped, error) {
	loc := gooseDown.FindStringIndex(migration)
	if loc == nil {
		return nil, nil
	}
	code, err := blankCommentsAndStrings(migration[loc[1]:])
	if err != nil {
		return nil, err
	}
	var out []dropped
	for _, at := range dropWord.FindAllStringIndex(code, -1) {
		m := dropStmt.FindStringSubmatch(code[at[0]:])
		if m == nil {
			stmt, _, _ := strings.Cut(code[at[0]:], ";")
			return nil, fmt.Errorf("cannot tell what %q drops: name each table and view, without CASCADE",
				spaces.ReplaceAllString(strings.TrimSpace(stmt), " "))
		}
		kind := strings.ToLower(spaces.ReplaceAllString(m[1], " "))
		for _, q := range qualifiedName.FindAllString(m[2], -1) {
			var name pgx.Identifier
			for _, part := range identName.FindAllString(q, -1) {
				if strings.HasPrefix(part, `"`) {
					name = append(name, strings.ReplaceAll(part[1:len(part)-1], `""`, `"`))
				} else {
					name = append(name, strings.ToLower(part))
				}
			}
			out = append(out, dropped{kind: kind, name: name})
		}
	}
	return out, nil
}

// blankCommentsAndStrings returns sql with its comments and the contents of its string
// literals replaced by spaces, so that words in them are not taken for statements. A
// dollar-quoted body (a DO block, a function) is an error: it may drop what it does not
// name, with EXECUTE.
func blankCommentsAndStrings(sql string) (string, error) {
	b := []byte(sql)
	blank := func(from, to int) {
		for i := from; i < to; i++ {
			if b[i] != '\n' {
				b[i] = ' '
			}
		}
	}
	for i := 0; i < len(b); {
		switch {
		case bytes.HasPrefix(b[i:], []byte("--")):
			end := bytes.IndexByte(b[i:], '\n')
			if end < 0 {
				end = len(b) - i
			}
			blank(i, i+end)
			i += end
		case bytes.HasPrefix(b[i:], []byte("/*")):
			// PostgreSQL's block comments nest.
			depth, j := 1, i+2
			for ; depth > 0 && j < len(b); j++ {
				switch {
				case bytes.HasPrefix(b[j:], []byte("/*")):
					depth, j = depth+1, j+1
				case bytes.HasPrefix(b[j:], []byte("*/")):
					depth, j = depth-1, j+1
				}
			}
			if depth > 0 {
				return "", errors.New("unterminated /* comment")
			}
			blank(i, j)
			i = j
		case b[i] == '\'' || b[i] == '"':
			// A doubled quote inside is the quote itself, which the loop reads as the end of
			// one literal and the start of the next: the same text either way.
			end := bytes.IndexByte(b[i+1:], b[i])
			if end < 0 {
				return "", fmt.Errorf("unterminated %c quote", b[i])
			}
			if b[i] == '\'' {
				blank(i+1, i+1+end)
			}
			i += end + 2
		case dollarQuote.Match(b[i:]):
			return "", errors.New("a dollar-quoted body: cannot tell what it drops; write the Down as plain statements")
		default:
			i++
		}
	}
	return string(b), nil
}

// measure returns the drops that exist, with the rows of each table.
func (s *Store) measure(ctx context.Context, named []dropped) ([]Drop, error) {
	var out []Drop
	for _, d := range named {
		ref := d.name.Sanitize()
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, ref).Scan(&exists); err != nil {
			return nil, fmt.Errorf("look up %s: %w", ref, err)
		}
		if !exists {
			// DROP … IF EXISTS of what is absent drops nothing; a plain DROP of it fails
			// the rollback, and goose says so.
			continue
		}
		drop := Drop{Kind: d.kind, Name: strings.Join(d.name, ".")}
		if d.kind == "table" {
			if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+ref).Scan(&drop.Rows); err != nil {
				return nil, fmt.Errorf("count the rows of %s: %w", ref, err)
			}
		}
		out = append(out, drop)
	}
	return out, nil
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
