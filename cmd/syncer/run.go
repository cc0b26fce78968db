package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"ordersync/fetch"
	"ordersync/order"
	"ordersync/pipeline"
	"ordersync/schedule"
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

// counter counts API calls for the run history.
type counter struct {
	calls atomic.Int64
	next  fetch.Observer
}

func (c *counter) Call(endpoint string, code int, d time.Duration) {
	c.calls.Add(1)
	if c.next != nil {
		c.next.Call(endpoint, code, d)
	}
}
func (c *counter) Retry(endpoint string, kind fetch.Kind) {
	if c.next != nil {
		c.next.Retry(endpoint, kind)
	}
}
func (c *counter) RateWait(endpoint string, d time.Duration) {
	if c.next != nil {
		c.next.RateWait(endpoint, d)
	}
}
func (c *counter) TokenRefresh() {
	if c.next != nil {
		c.next.TokenRefresh()
	}
}

// syncer wires the API client and the pipeline.
func (e *env) syncer(st *store.Store, obs fetch.Observer, progress func(pipeline.Progress)) (*pipeline.Syncer, error) {
	if err := e.cfg.needAPI(); err != nil {
		return nil, err
	}
	cnt := &counter{next: obs}
	client, err := fetch.New(fetch.Config{
		BaseURL: e.cfg.BaseURL, AppID: e.cfg.AppID, ClientID: e.cfg.ClientID, SecretKey: e.cfg.SecretKey,
		Rate: e.cfg.Rate, Logger: e.log, Observer: cnt, Tokens: st.Tokens(e.cfg.AppID),
	})
	if err != nil {
		return nil, &usageError{err.Error()}
	}
	return pipeline.New(client, st, pipeline.Config{
		AppID: e.cfg.AppID, Overlap: e.cfg.Overlap, Lookback: e.cfg.Lookback, Workers: e.cfg.Workers,
		APICalls: cnt.calls.Load, Progress: progress, Logger: e.log,
		// Every process working for the shop, whatever its command, splits its rate.
		Budget: func(ctx context.Context) (func(), error) {
			return st.JoinBudget(ctx, e.cfg.AppID, client.SetShare)
		},
	}), nil
}

// openSyncer opens the store, refusing a stale schema, and wires a syncer to it. The caller
// closes the store.
func (e *env) openSyncer(ctx context.Context, progress func(pipeline.Progress)) (*store.Store, *pipeline.Syncer, error) {
	if err := e.cfg.needAPI(); err != nil {
		return nil, nil, err
	}
	st, err := e.openStore(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	s, err := e.syncer(st, nil, progress)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, s, nil
}

// once runs fn under the advisory lock of job, so that among replicas one does it.
func (e *env) once(ctx context.Context, st *store.Store, job string, fn func(ctx context.Context) error) error {
	name := "ordersync:" + e.cfg.AppID + ":" + job
	ran, err := schedule.RunOnce(ctx, schedule.NewPGLocker(st.Pool()), name, fn)
	if err != nil {
		return err
	}
	if !ran {
		fmt.Fprintf(e.stdout, "another syncer is running %s for shop %s; nothing to do\n", job, e.cfg.AppID)
	}
	return nil
}

func cmdSync(ctx context.Context, e *env, args []string) error {
	if err := e.parse(args); err != nil {
		return err
	}
	if e.flags.NArg() > 0 {
		return usagef("sync takes no arguments")
	}
	p := newProgress(e, "sync")
	st, s, err := e.openSyncer(ctx, p.show)
	if err != nil {
		return err
	}
	defer st.Close()
	return e.once(ctx, st, "sync", func(ctx context.Context) error {
		res, err := s.Sync(ctx)
		p.done()
		printResult(e.stdout, res, err)
		return err
	})
}

// printResult prints a run's summary: on stdout when it stored everything or queued some
// failures (exit 0 or 3), and not at all when it failed (the error says why).
func printResult(w io.Writer, r pipeline.Result, err error) {
	if err != nil && !errors.Is(err, pipeline.ErrPartial) {
		return
	}
	done := ""
	if r.Skipped > 0 {
		done = fmt.Sprintf(" (%d done before)", r.Skipped)
	}
	fmt.Fprintf(w, "%s run %d: %d windows%s, %d listed, %d fetched, %d written, %d unchanged, %d failed, %d API calls in %s\n",
		r.Kind, r.RunID, r.Windows, done, r.Listed, r.Fetched, r.Written, r.Unchanged+r.Touched, r.Failed, r.APICalls,
		r.Duration.Round(time.Millisecond))
}

// parseDay parses a backfill bound: a day, or a day and time, in Asia/Shanghai. A bare --to
// day means the end of that day.
func parseDay(name, v string, end bool) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateTime, v, order.Shanghai); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, v, order.Shanghai)
	if err != nil {
		return time.Time{}, usagef("--%s %q: want YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS'", name, v)
	}
	if end {
		t = t.AddDate(0, 0, 1).Add(-time.Second)
	}
	return t, nil
}

func cmdBackfill(ctx context.Context, e *env, args []string) error {
	var fromS, toS string
	e.flags.StringVar(&fromS, "from", "", "first day, YYYY-MM-DD (Asia/Shanghai)")
	e.flags.StringVar(&toS, "to", "", "last day, YYYY-MM-DD, included")
	if err := e.parse(args); err != nil {
		return err
	}
	if fromS == "" || toS == "" || e.flags.NArg() > 0 {
		return usagef("backfill needs --from DATE and --to DATE")
	}
	from, err := parseDay("from", fromS, false)
	if err != nil {
		return err
	}
	to, err := parseDay("to", toS, true)
	if err != nil {
		return err
	}
	if to.Before(from) {
		return usagef("--to %s is before --from %s", toS, fromS)
	}
	p := newProgress(e, "backfill")
	st, s, err := e.openSyncer(ctx, p.show)
	if err != nil {
		return err
	}
	defer st.Close()
	return e.once(ctx, st, "backfill", func(ctx context.Context) error {
		res, err := s.Backfill(ctx, from, to)
		p.done()
		printResult(e.stdout, res, err)
		return err
	})
}

func cmdOrder(ctx context.Context, e *env, args []string) error {
	if err := e.parse(args); err != nil {
		return err
	}
	ids := e.flags.Args()
	if len(ids) == 0 {
		return usagef("order needs at least one ORDER_ID")
	}
	st, s, err := e.openSyncer(ctx, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := s.Orders(ctx, ids)
	printResult(e.stdout, res, err)
	return err
}

func cmdReplay(ctx context.Context, e *env, args []string) error {
	if err := e.parse(args); err != nil {
		return err
	}
	st, err := e.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := st.Replay(ctx, e.flags.Args())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "replayed %d orders from their stored payloads", res.Orders)
	if res.Skipped > 0 {
		fmt.Fprintf(e.stdout, "; %d left alone: a sync stored a newer version meanwhile", res.Skipped)
	}
	if res.Repaired > 0 {
		fmt.Fprintf(e.stdout, "; %d repaired from the failure queue's replies", res.Repaired)
	}
	fmt.Fprintln(e.stdout)
	for _, f := range res.Failed {
		fmt.Fprintf(e.stdout, "  %s: %v\n", f.OrderID, f.Err)
	}
	switch {
	case len(res.Unknown) > 0:
		return usagef("no stored payload or queued reply for order %s", strings.Join(res.Unknown, ", "))
	case len(res.Failed) > 0:
		return fmt.Errorf("%d stored payloads or queued replies do not decode", len(res.Failed))
	}
	return nil
}

func cmdStatus(ctx context.Context, e *env, args []string) error {
	asJSON := e.flags.Bool("json", false, "print one JSON object with runs, windows and failures")
	runs := e.flags.Int("runs", 10, "how many runs to show")
	if err := e.parse(args); err != nil {
		return err
	}
	st, err := e.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	rs, err := st.Runs(ctx, *runs)
	if err != nil {
		return err
	}
	ws, err := st.Coverage(ctx)
	if err != nil {
		return err
	}
	fs, err := st.Failures(ctx, "")
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Runs     []store.Run     `json:"runs"`
			Windows  []store.Window  `json:"windows"`
			Failures []store.Failure `json:"failures"`
		}{nonNil(rs), nonNil(ws), nonNil(fs)})
	}
	return printStatus(e.stdout, time.Now(), rs, ws, fs)
}

// printStatus shows the runs, what the sync and the backfills have covered, and the
// failure queue with each failure's whole error. Times are Beijing time, and say so.
func printStatus(w io.Writer, now time.Time, rs []store.Run, ws []store.Window, fs []store.Failure) error {
	at := func(t time.Time) string { return t.In(order.Shanghai).Format("2006-01-02 15:04:05 MST") }
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSHOP\tKIND\tSTATUS\tSTARTED\tDURATION\tLISTED\tFETCHED\tWRITTEN\tFAILED\tAPI CALLS\tWORKER")
	for _, r := range rs {
		dur := "running"
		if r.FinishedAt != nil {
			dur = r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.RunID, r.AppID, r.Kind, r.Status,
			at(r.StartedAt), dur, r.OrdersListed, r.OrdersFetched, r.OrdersWritten, r.OrdersFailed, r.APICalls, r.Worker)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rs {
		if r.Error != nil {
			fmt.Fprintf(w, "run %d: %s\n", r.RunID, *r.Error)
		}
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COVERED\tSHOP\tFROM\tTO\tORDERS LISTED\tLAG")
	for _, c := range ws {
		what, lag := "backfill (created_time)", ""
		if c.Kind == order.UpdateTime {
			what = "sync (update_time)"
			lag = now.Sub(c.WindowEnd).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", what, c.AppID, at(c.WindowStart), at(c.WindowEnd), c.OrdersListed, lag)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nFAILURE QUEUE: %d orders\n", len(fs))
	for _, f := range fs {
		fmt.Fprintf(w, "%s  shop %s  attempts %d  last %s  next %s\n  %s\n", f.OrderID, f.AppID, f.Attempts,
			at(f.LastAttemptAt), at(f.NextAttemptAt), f.Error)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
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
