package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"ordersync/order"
	"ordersync/pipeline"
	"ordersync/schedule"
	"ordersync/store"
)

func cmdSync(ctx context.Context, e *env, args []string) error {
	if err := e.parse(args); err != nil {
		return err
	}
	if e.flags.NArg() > 0 {
		return usagef("sync takes no arguments")
	}
	shops, err := e.shops()
	if err != nil {
		return err
	}
	st, err := e.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	// Shop after shop: each has a budget of its own, but one process's output stays
	// readable. A shop that fails does not keep the others from their sync.
	var errs []error
	for _, sh := range shops {
		p := newProgress(e, "sync "+sh.AppID)
		s, err := e.syncer(st, sh, nil, p.show, false)
		if err == nil {
			err = e.once(ctx, st, sh.AppID, "sync", func(ctx context.Context) error {
				res, err := s.Sync(ctx)
				p.done()
				printResult(e.stdout, res, err)
				return err
			})
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, fmt.Errorf("shop %s: %w", sh.AppID, err))
		}
	}
	return errors.Join(errs...)
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
	queue := e.flags.Bool("queue", false, "queue the backfill's windows as jobs for the daemons instead of running it here")
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
	st, s, sh, err := e.openSyncer(ctx, p.show)
	if err != nil {
		return err
	}
	defer st.Close()
	if *queue {
		n, err := schedule.EnqueueBackfill(ctx, st, sh.AppID, from, to)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "queued %d backfill windows of shop %s for the daemons\n", n, sh.AppID)
		return nil
	}
	return e.once(ctx, st, sh.AppID, "backfill", func(ctx context.Context) error {
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
	st, s, _, err := e.openSyncer(ctx, nil)
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
	ids := e.flags.Args()
	if e.cfg.Shop == "" && len(ids) == 0 {
		if n, err := shopCount(e.cfg.ShopsFile); err != nil || n > 1 {
			return errors.Join(err, usagef("%s lists %d shops: say which to replay with --shop APP_ID, or name the orders", e.cfg.ShopsFile, n))
		}
	}
	st, err := e.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	var res store.ReplayResult
	if e.cfg.Shop != "" && len(ids) == 0 {
		res, err = st.ReplayShop(ctx, e.cfg.Shop)
	} else {
		res, err = st.Replay(ctx, ids)
	}
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
	rs, err := st.ShopRuns(ctx, e.cfg.Shop, *runs)
	if err != nil {
		return err
	}
	ws, err := st.Coverage(ctx, e.cfg.Shop)
	if err != nil {
		return err
	}
	fs, err := st.Failures(ctx, e.cfg.Shop)
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
