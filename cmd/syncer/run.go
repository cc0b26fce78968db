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
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"

	"ordersync/fetch"
	"ordersync/pipeline"
	"ordersync/store"
)

// usage is what 'syncer help' shows: every command of the table, with its summary.
func usage() string {
	var b strings.Builder
	b.WriteString("syncer keeps a PostgreSQL copy of every order of a Xiaoe-tech shop.\n\nUsage:\n")
	for _, c := range commands {
		line := strings.TrimSpace("syncer " + c.name + " " + c.args)
		if len(line) > 34 {
			fmt.Fprintf(&b, "  %s\n  %-34s  %s\n", line, "", c.summary)
		} else {
			fmt.Fprintf(&b, "  %-34s  %s\n", line, c.summary)
		}
	}
	b.WriteString(`
'syncer help COMMAND' (or 'syncer COMMAND --help') shows a command's flags and the
environment variables that also set them; flags win. Exit status: 0 done (or another
replica holds the lock), 1 the run failed, 2 usage or configuration error (including a
schema that needs 'syncer migrate'), 3 finished but some orders wait in the failure queue,
4 verify found orders missing, extra or stale, 130 stopped by SIGINT or SIGTERM after
storing what it had fetched.
`)
	return b.String()
}

// command is one of syncer's commands.
type command struct {
	name    string
	args    string // the synopsis after the name
	summary string // one line, for 'syncer help'
	help    string // what it does, for 'syncer help COMMAND'
	// operands says that it takes arguments after its flags; parse refuses any for the others.
	operands bool
	run      func(ctx context.Context, e *env, args []string) error
}

var commands []command

// The table is filled in init because cmdHelp reads it: a declaration would be an
// initialization cycle.
func init() {
	commands = []command{
		{name: "migrate", args: "[up|down|status]", operands: true, run: cmdMigrate,
			summary: "apply, roll back, or list the schema migrations",
			help:    "Apply every pending migration (up, the default), roll back the last one (down), or list them (status)."},
		{name: "sync", run: cmdSync,
			summary: "one incremental run",
			help:    "One incremental run for each shop: update_time windows from its checkpoint less the overlap up to now, then its failure queue."},
		{name: "backfill", args: "--from DATE --to DATE", run: cmdBackfill,
			summary: "fetch every order created in these days (resumable)",
			help:    "Fetch every order created from --from to --to (YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS', Asia/Shanghai; both days included). Finished windows are recorded: a killed backfill resumes, a rerun does only what is missing."},
		{name: "daemon", args: "[--schedule SPEC]", run: cmdDaemon,
			summary: "scheduled syncs until SIGINT/SIGTERM",
			help:    "Run each shop's syncs on its cron schedule (Asia/Shanghai), with the failure queue's retries and the backfill windows queued by 'backfill --queue', as River jobs shared with the other replicas, until SIGINT or SIGTERM. Serves /healthz, /metrics and River UI (/riverui/) on --http."},
		{name: "order", args: "ORDER_ID...", operands: true, run: cmdOrder,
			summary: "fetch and store these orders now",
			help:    "Fetch and store these orders now, whatever is stored."},
		{name: "replay", args: "[ORDER_ID...]", operands: true, run: cmdReplay,
			summary: "rebuild the tables from the stored raw payloads",
			help:    "Rebuild the order tables from the stored raw payloads (all orders, or these), without calling the API."},
		{name: "status", args: "[--json]", run: cmdStatus,
			summary: "last runs, checkpoints and the failure queue",
			help:    "Show the last runs, the checkpoints and the failure queue."},
		{name: "report", args: "[--days N] [--by day|goods] [--format table|csv|json]", run: cmdReport,
			summary: "sales of the last N days, per day or per goods",
			help:    "Print the sales of the last N Shanghai days, today included, each shop apart: per day (report_daily_sales: orders placed and paid, gross + shipment - discounts = collected, refunds, net) or per goods (report_goods_sales). Tables and CSV are in yuan, JSON in fen as in the views."},
		{name: "verify", args: "[--from DATE --to DATE] [--json] [--repair] [--strict]", run: cmdVerify,
			summary: "compare the stored orders with the API's, day by day",
			help:    verifyHelp},
		{name: "dashboard", run: cmdDashboard,
			summary: "serve the dashboard alone",
			help:    "Serve the dashboard on --http until SIGINT or SIGTERM, for installations that run no daemon (the daemon serves it too): each shop's sync health, and its sales, goods, refunds and carriers over a range of days, from the views that report reads. On an address but loopback, or with DASHBOARD_TOKEN set, it asks for that token."},
		{name: "fakeshop", args: "[--addr A] [--shops N] [--orders N] …", run: cmdFakeshop,
			summary: "serve the simulated shop; prints the XE_* to use",
			help:    "Serve a simulated Xiaoe shop (or --shops N of them) until SIGINT or SIGTERM, to try the real workflow without credentials: it prints, on stdout, the environment that points syncer at it (with several shops, a shops file too). Its orders keep changing (--changes-per-min), and its admin endpoints under /admin/ change orders on demand, add new ones, break a reply and show statistics."},
		{name: "demo", run: cmdDemo,
			summary: "the whole job against a built-in simulated shop",
			help:    "Run the whole job against a built-in simulated shop: migrate, backfill, changes, sync, and a report read back from the tables. Uses its own schema, ordersync_demo, in DATABASE_URL's database."},
		{name: "healthcheck", run: cmdHealthcheck,
			summary: "exit 0 when the daemon at HTTP_ADDR is healthy",
			help:    "Ask a running daemon's /healthz (at HTTP_ADDR) and exit 0 when it is healthy: a health check for images without curl."},
		{name: "version", run: cmdVersion,
			summary: "the version, VCS revision and Go version (also --version)",
			help:    "Print syncer's version, the VCS revision it was built from and the Go version that built it."},
		{name: "help", args: "[COMMAND]", operands: true, run: cmdHelp,
			summary: "this text, or a command's flags (also COMMAND --help)",
			help:    "Show the commands, or a command's flags, as 'syncer COMMAND --help' does."},
	}
}

// lookup returns the command called name, or nil.
func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
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
		fmt.Fprint(stderr, usage())
		return usagef("no command given")
	}
	name, args := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	case "-version", "--version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		return usagef("unknown command %q; see 'syncer help'", name)
	}
	// The flag set is named after its command, for parse. parse tells what is wrong in
	// one line, so the flag package prints nothing.
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr, cfg: loadConfig(c.name, fs, getenv), flags: fs}
	return c.run(ctx, e, args)
}

// parse parses the command's flags, checks the settings and builds the logger. It prints
// the command's help when asked for it, and returns errHelp.
func (e *env) parse(args []string) error {
	c := lookup(e.flags.Name())
	// The flag package calls Usage on every mistake, but a mistake gets one line.
	e.flags.Usage = func() {}
	if err := e.flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(e.stdout, c, e.flags)
			return errHelp
		}
		return usagef("%s: %v; see 'syncer %s --help'", c.name, err, c.name)
	}
	if !c.operands && e.flags.NArg() > 0 {
		return usagef("%s takes no arguments, not %q; see 'syncer %s --help'", c.name, e.flags.Arg(0), c.name)
	}
	if err := e.cfg.check(); err != nil {
		return err
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
	pc, err := pgxpool.ParseConfig(e.cfg.DatabaseURL)
	if err != nil {
		// pgx masks the password in its parse errors.
		return nil, usagef("DATABASE_URL: %v", err)
	}
	st, err := store.New(ctx, e.cfg.DatabaseURL, e.log)
	if err != nil {
		return nil, connectError(&pc.ConnConfig.Config, e.cfg.DatabaseURL == "", err)
	}
	if checkSchema {
		if err := st.CheckSchema(ctx); err != nil {
			st.Close()
			if e.cfg.DatabaseURL == "" {
				err = fmt.Errorf("%s: %w", databaseName(&pc.ConnConfig.Config, true), err)
			}
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
	fmt.Fprintf(stderr, "syncer: %s\n", oneLine(err))
	var ue *usageError
	switch {
	case errors.As(err, &ue), errors.Is(err, store.ErrSchemaOutdated), errors.Is(err, fetch.ErrConfig):
		return 2
	case errors.Is(err, pipeline.ErrPartial):
		return 3
	case errors.As(err, new(*differsError)):
		return 4
	}
	return 1
}
