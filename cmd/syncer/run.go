package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"

	"ordersync/fetch"
	"ordersync/pipeline"
	"ordersync/store"
)

const usage = `syncer keeps a PostgreSQL copy of every order of a Xiaoe-tech shop.

Usage:
  syncer migrate [up|down|status]     apply, roll back one, or list the schema migrations
  syncer sync                         one incremental run
  syncer backfill --from DATE --to DATE
                                      fetch every order created in these days (resumable)
  syncer daemon [--schedule SPEC]     cron-driven sync until SIGINT/SIGTERM
  syncer order ORDER_ID...            fetch and store these orders now
  syncer replay [ORDER_ID...]         rebuild the tables from the stored raw payloads
  syncer status [--json]              last runs, checkpoints and the failure queue
  syncer report [--days N]            daily sales of the last N days
  syncer demo                         the whole job against a built-in simulated shop

Run 'syncer COMMAND --help' for a command's flags. Every flag has an environment variable;
flags win. Exit status: 0 done (or another replica holds the lock), 1 the run failed,
2 usage or configuration error (including a schema that needs 'syncer migrate'),
3 finished but some orders wait in the failure queue.
`

type command struct {
	name, args, help string
	run              func(ctx context.Context, e *env, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"migrate", "[up|down|status]", "Apply every pending migration (up, the default), roll back the last one (down), or list them (status).", cmdMigrate},
		{"sync", "", "One incremental run: update_time windows from the checkpoint less the overlap up to now, then the failure queue.", cmdSync},
		{"backfill", "--from DATE --to DATE", "Fetch every order created from --from to --to (YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS', Asia/Shanghai; both days included). Finished windows are recorded: a killed backfill resumes, a rerun does only what is missing.", cmdBackfill},
		{"daemon", "[--schedule SPEC]", "Run the sync on a cron schedule (Asia/Shanghai) until SIGINT or SIGTERM. Serves /healthz and /metrics on --http.", cmdDaemon},
		{"order", "ORDER_ID...", "Fetch and store these orders now, whatever is stored.", cmdOrder},
		{"replay", "[ORDER_ID...]", "Rebuild the order tables from the stored raw payloads (all orders, or these), without calling the API.", cmdReplay},
		{"status", "[--json]", "Show the last runs, the checkpoints and the failure queue.", cmdStatus},
		{"report", "[--days N]", "Print the daily sales of the last N days (default 14).", cmdReport},
		{"healthcheck", "", "Ask a running daemon's /healthz (at HTTP_ADDR) and exit 0 when it is healthy: a health check for images without curl.", cmdHealthcheck},
		{"demo", "", "Run the whole job against a built-in simulated shop: migrate, backfill, changes, sync, and a report read back from the tables. Uses its own schema, ordersync_demo, in DATABASE_URL's database.", cmdDemo},
	}
}

// env is what a command works with.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	cfg            *config
	log            *slog.Logger
	flags          *flag.FlagSet
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	name, args := args[0], args[1:]
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		fs := flag.NewFlagSet("syncer "+c.name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		cfg, err := loadConfig(fs, getenv)
		if err != nil {
			return err
		}
		e := &env{getenv: getenv, stdout: stdout, stderr: stderr, cfg: cfg, flags: fs}
		fs.Usage = func() {
			fmt.Fprintf(stderr, "Usage: syncer %s %s\n\n%s\n\nFlags:\n", c.name, c.args, c.help)
			fs.PrintDefaults()
		}
		return c.run(ctx, e, args)
	}
	fmt.Fprint(stderr, usage)
	return usagef("unknown command %q", name)
}

// parse parses the command's flags and builds the logger.
func (e *env) parse(args []string) error {
	if err := e.flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &usageError{err.Error()}
	}
	log, err := e.cfg.logger(e.stderr)
	if err != nil {
		return err
	}
	e.log = log
	return nil
}

// openStore connects to the database; unless migrating, it refuses a schema that is not
// current.
func (e *env) openStore(ctx context.Context, checkSchema bool) (*store.Store, error) {
	if _, err := pgxpool.ParseConfig(e.cfg.DatabaseURL); err != nil {
		// pgx masks the password in its parse errors.
		return nil, usagef("DATABASE_URL: %v", err)
	}
	st, err := store.New(ctx, e.cfg.DatabaseURL, e.log)
	if err != nil {
		return nil, err
	}
	if checkSchema {
		if err := st.CheckSchema(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

// exitCode maps a command's error to the exit status of the contract and prints it.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, errHelp) {
		return 0
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "syncer: interrupted; what had been fetched is stored")
		return 130
	}
	fmt.Fprintf(stderr, "syncer: %v\n", err)
	var ue *usageError
	switch {
	case errors.As(err, &ue), errors.Is(err, store.ErrSchemaOutdated), errors.Is(err, fetch.ErrConfig):
		return 2
	case errors.Is(err, pipeline.ErrPartial):
		return 3
	}
	return 1
}
