package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/store"
)

// demoSchema is where demo works, so that it never touches a real installation's tables.
const demoSchema = "ordersync_demo"

func cmdDemo(ctx context.Context, e *env, args []string) error {
	orders := e.flags.Int("orders", 3000, "orders in the simulated shop")
	days := e.flags.Int("days", 90, "days of history in the simulated shop")
	serve := e.flags.Bool("serve", false, "then serve the dashboard of the demo's shop on --http, until Ctrl-C")
	if e.getenv("LOG_LEVEL") == "" {
		e.cfg.LogLevel = "warn" // the demo's report is the show; say only what goes wrong
	}
	if err := e.parse(args); err != nil {
		return err
	}
	if *orders <= 0 || *days <= 0 || e.flags.NArg() > 0 {
		return usagef("demo takes --orders N and --days N, both positive")
	}
	started := time.Now()
	out := e.stdout
	step := func(format string, a ...any) { fmt.Fprintf(out, "\n== "+format+"\n", a...) }

	dbURL, err := resetDemoSchema(ctx, e.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	st, err := store.New(ctx, dbURL, e.log)
	if err != nil {
		return err
	}
	defer st.Close()

	now := time.Now().In(order.Shanghai).Truncate(time.Second)
	from := now.AddDate(0, 0, -*days)
	fake := fetchtest.New(fetchtest.Options{
		Seed: 2026, Orders: *orders, From: from, To: now,
		// The real API allows 20 calls/s; the simulated one 400, so the demo takes seconds.
		Rate: 400,
		// Some weather: busy answers and HTML error pages, which the client rides out.
		BusyRate: 0.03, ServerErrorRate: 0.01,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: fake.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	e.cfg.BaseURL = "http://" + ln.Addr().String()
	o := fake.Options()
	e.cfg.AppID, e.cfg.ClientID, e.cfg.SecretKey = o.AppID, o.ClientID, fetch.Secret(o.SecretKey)
	e.cfg.Rate = 400
	e.cfg.Workers = 16
	fmt.Fprintf(out, "ordersync demo: a simulated shop with %d orders over %d days at %s, stored in schema %s\n",
		*orders, *days, e.cfg.BaseURL, demoSchema)

	step("migrate")
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "schema is current")

	s, err := e.syncer(st, shop{AppID: o.AppID, ClientID: o.ClientID, SecretKey: fetch.Secret(o.SecretKey),
		BaseURL: e.cfg.BaseURL, Rate: e.cfg.Rate}, nil, nil, false)
	if err != nil {
		return err
	}
	step("backfill %s to %s", from.Format(time.DateOnly), now.Format(time.DateOnly))
	calls := totalCalls(fake.Stats())
	res, err := s.Backfill(ctx, from, now)
	printResult(out, res, err)
	if err != nil {
		return err
	}

	step("a second backfill over the same range: nothing to do")
	res, err = s.Backfill(ctx, from, now)
	printResult(out, res, err)
	if err != nil {
		return err
	}

	step("the shop changes: orders paid, shipped, refunded, closed")
	changed := fake.Mutate(*orders/20, time.Now())
	fmt.Fprintf(out, "%d orders changed\n", len(changed))
	res, err = s.Sync(ctx)
	printResult(out, res, err)
	if err != nil {
		return err
	}
	step("sync again with nothing changed")
	res, err = s.Sync(ctx)
	printResult(out, res, err)
	if err != nil {
		return err
	}
	apiCalls := totalCalls(fake.Stats()) - calls

	step("does the copy match the shop?")
	if err := demoCompare(ctx, out, st, fake); err != nil {
		return err
	}

	step("rows per table")
	if err := demoTableCounts(ctx, e, st); err != nil {
		return err
	}
	step("daily sales, last 7 days (report_daily_sales)")
	rows, err := st.DailySales(ctx, now.AddDate(0, 0, -6), now)
	if err != nil {
		return err
	}
	if err := printDailySales(out, rows); err != nil {
		return err
	}
	step("top goods (report_goods_sales)")
	if err := demoTopGoods(ctx, e, st); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%d API calls for %d orders; the demo took %s. Query the tables: psql, then SET search_path = %s;\n",
		apiCalls, *orders, time.Since(started).Round(time.Millisecond), demoSchema)
	if !*serve {
		fmt.Fprintf(out, "See it on the dashboard: syncer demo --serve serves it at http://%s/\n", e.cfg.HTTPAddr)
		return nil
	}
	if e.cfg.HTTPAddr == "off" {
		return usagef("demo --serve needs an HTTP_ADDR to serve the dashboard on, not off")
	}
	dashLn, err := net.Listen("tcp", e.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen for the dashboard on %s: %w", e.cfg.HTTPAddr, err)
	}
	fmt.Fprintf(out, "dashboard: http://%s/ (Ctrl-C to stop)\n", dashLn.Addr())
	return e.serveDashboard(ctx, st, dashLn)
}

// resetDemoSchema drops and creates the demo's schema and returns a database URL whose
// connections use it.
func resetDemoSchema(ctx context.Context, url string) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", fmt.Errorf("connect to database (set DATABASE_URL): %w", err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{demoSchema}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+ident+" CASCADE; CREATE SCHEMA "+ident); err != nil {
		return "", fmt.Errorf("create schema %s: %w", demoSchema, err)
	}
	return withParam(url, "search_path", demoSchema), nil
}

// withParam adds a connection parameter to a URL or keyword/value connection string.
func withParam(url, k, v string) string {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		return url + sep + k + "=" + v
	}
	return strings.TrimSpace(url + " " + k + "=" + v)
}

// demoCompare checks that every order the shop has is stored with the content the shop
// serves now.
func demoCompare(ctx context.Context, out io.Writer, st *store.Store, shop *fetchtest.Shop) error {
	truth := shop.Orders()
	ids := make([]string, len(truth))
	for i, o := range truth {
		ids[i] = o.ID
	}
	stored, err := st.StoredUpdateTimes(ctx, ids)
	if err != nil {
		return err
	}
	var missing, stale int
	for _, o := range truth {
		t, ok := stored[o.ID]
		switch {
		case !ok:
			missing++
		case !t.Equal(o.Updated):
			stale++
		}
	}
	var n int
	if err := st.Pool().QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil {
		return err
	}
	if missing > 0 || stale > 0 || n != len(truth) {
		return fmt.Errorf("the copy does not match the shop: %d orders missing, %d stale, %d stored of %d", missing, stale, n, len(truth))
	}
	fmt.Fprintf(out, "yes: the copy matches the shop: all %d orders stored, each at its latest update_time\n", n)
	return nil
}

func demoTableCounts(ctx context.Context, e *env, st *store.Store) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, t := range order.Tables {
		var n int
		if err := st.Pool().QueryRow(ctx, "SELECT count(*) FROM "+t.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(tw, "%s\t%d\n", t.Name, n)
		}
	}
	return tw.Flush()
}

func demoTopGoods(ctx context.Context, e *env, st *store.Store) error {
	rows, err := st.Pool().Query(ctx, `
		SELECT goods_name, sum(quantity), sum(revenue), sum(refunded)
		FROM report_goods_sales GROUP BY goods_name ORDER BY sum(revenue) DESC NULLS LAST LIMIT 5`)
	if err != nil {
		return err
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "goods\tquantity\trevenue\trefunded")
	for rows.Next() {
		var (
			name               *string
			qty, rev, refunded *int64
		)
		if err := rows.Scan(&name, &qty, &rev, &refunded); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", deref(name), val(qty), yuan(val(rev)), yuan(val(refunded)))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tw.Flush()
}

func totalCalls(st fetchtest.Stats) int {
	n := 0
	for _, c := range st.Calls {
		n += c
	}
	return n
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func val(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}
