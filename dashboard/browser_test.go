package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"ordersync/dashboard"
	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/pipeline"
	"ordersync/store"
	"ordersync/store/storetest"
)

var update = flag.Bool("update", false, "write docs/dashboard.png from the demo's data")

// The browser tests drive Debian's headless Chromium with chromedp, against a database
// filled by backfills of simulated shops through the pipeline. Where Chromium is missing
// they skip with a message, except under CI=true, where they fail: .ci/run installs it.

// browser starts a headless Chromium for t, with a profile of its own, and returns the
// context of its tab and what the tab's console says.
func browser(t *testing.T) (context.Context, *console) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no chromium for the browser tests (CI=true requires it; .ci/run installs it): %v", err)
		}
		t.Skipf("no chromium for the browser tests (apt-get install chromium): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		// Root may not use Chromium's sandbox, and the machine has no GPU.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		// The machine's network is closed: no component downloads, no QUIC probes.
		// (The defaults already turn off background networking and sync.)
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancel)
	// The first action starts the browser and ties its life to ctx, which has no deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	c := &console{marks: make(chan string, 1)}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if strings.HasPrefix(m.Text, consoleMark) {
				c.marks <- m.Text
				continue
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				c.mu.Lock()
				c.errors = append(c.errors, m.String()+" ("+m.URL+")")
				c.mu.Unlock()
			}
		}
	}()
	return ctx, c
}

// console holds the errors and uncaught exceptions a tab's console showed: script errors,
// resources that did not load, Content-Security-Policy violations.
type console struct {
	mu     sync.Mutex
	errors []string
	n      int
	marks  chan string
}

const consoleMark = "ordersync test mark "

// Errors returns the errors the console showed since the last call. It writes a mark to
// the console and waits for it: the console keeps the order of its messages, so every
// error before the mark is in, and no wait is guessed.
func (c *console) Errors(t *testing.T, ctx context.Context) []string {
	t.Helper()
	c.n++
	mark := consoleMark + strconv.Itoa(c.n)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`console.info(`+strconv.Quote(mark)+`)`)); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case m := <-c.marks:
			if m != mark {
				continue
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			errs := c.errors
			c.errors = nil
			return errs
		case <-ctx.Done():
			t.Fatal("the console's mark never came")
		}
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// shop is a simulated shop whose orders were backfilled into st.
type shop struct {
	*fetchtest.Server
	syncer *pipeline.Syncer
}

// backfill starts a simulated shop with opts and backfills its whole history into st
// through the pipeline, as `syncer backfill` does.
func backfill(t *testing.T, st *store.Store, opts fetchtest.Options) shop {
	t.Helper()
	if opts.Rate == 0 {
		opts.Rate = -1 // the tests need the data, not the pace
	}
	srv := fetchtest.NewServer(t, opts)
	o := srv.Options()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	calls := &calls{}
	client, err := fetch.New(fetch.Config{
		BaseURL: srv.URL(), AppID: o.AppID, ClientID: o.ClientID, SecretKey: fetch.Secret(o.SecretKey),
		Rate: 1000, Logger: log, BackoffMin: time.Millisecond, BackoffMax: 20 * time.Millisecond, Observer: calls,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := pipeline.New(client, st, pipeline.Config{AppID: o.AppID, Workers: 16, Logger: log, APICalls: calls.n.Load})
	if _, err := s.Backfill(context.Background(), o.From, o.To); err != nil {
		t.Fatalf("backfill %s: %v", o.AppID, err)
	}
	return shop{srv, s}
}

// calls counts the API calls of a client, for sync_runs.api_calls, as syncer does.
type calls struct{ n atomic.Int64 }

func (c *calls) Call(string, int, time.Duration) { c.n.Add(1) }
func (c *calls) Retry(string, fetch.Kind)        {}
func (c *calls) RateWait(string, time.Duration)  {}
func (c *calls) TokenRefresh()                   {}

// serve serves the dashboard over st on a loopback port until the test ends.
func serve(t *testing.T, st *store.Store, token string) string {
	t.Helper()
	srv := httptest.NewServer(dashboard.New(dashboard.Options{Store: st, Token: token, Loopback: true,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// page is what a user reads off the page: its range, its totals and its charts.
type page struct {
	From, To                 string
	Collected, Refunded, Net int64 // fen
	Placed, Paid             int64
	Charts, Drawn            int
	Ink                      []int // colored pixels in each chart's canvas
	Days                     int   // points of the daily chart
}

// readPage waits until every chart of the page has drawn, then reads it.
func readPage(t *testing.T, ctx context.Context) page {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("figure.chart[data-chart]") !== null &&
		document.querySelectorAll("figure.chart[data-chart]:not([data-drawn])").length === 0`)); err != nil {
		t.Fatalf("the charts did not draw: %v", err)
	}
	// Series are drawn in color; axes, grid and labels in grays. A chart that drew its
	// data has colored pixels.
	res, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](`(() => {
		const text = f => document.querySelector('[data-figure="' + f + '"]').textContent;
		const figs = [...document.querySelectorAll("figure.chart[data-chart]")];
		return {
			from: document.querySelector("input[name=from]").value,
			to: document.querySelector("input[name=to]").value,
			collected: text("collected"), refunded: text("refunded"), net: text("net"),
			placed: text("placed"), paid: text("paid"),
			charts: figs.length,
			drawn: figs.filter(f => f.dataset.drawn === "true").length,
			days: JSON.parse(figs[0].dataset.chart).labels.length,
			ink: figs.map(f => {
				const c = f.querySelector("canvas");
				const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
				let n = 0;
				for (let i = 0; i < d.length; i += 4) {
					const hi = Math.max(d[i], d[i+1], d[i+2]), lo = Math.min(d[i], d[i+1], d[i+2]);
					if (d[i+3] > 128 && hi - lo > 60) n++;
				}
				return n;
			}),
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		From, To, Collected, Refunded, Net, Placed, Paid string
		Charts, Drawn, Days                              int
		Ink                                              []int
	}
	if err := json.Unmarshal(res, &raw); err != nil {
		t.Fatalf("%v: %s", err, res)
	}
	return page{
		From: raw.From, To: raw.To,
		Collected: fen(t, raw.Collected), Refunded: fen(t, raw.Refunded), Net: fen(t, raw.Net),
		Placed: whole(t, raw.Placed), Paid: whole(t, raw.Paid),
		Charts: raw.Charts, Drawn: raw.Drawn, Ink: raw.Ink, Days: raw.Days,
	}
}

// fen reads an amount as the page shows it, "-1,234.05" yuan, back into fen.
func fen(t *testing.T, s string) int64 {
	t.Helper()
	yuan, cents, ok := strings.Cut(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), ".")
	neg := strings.HasPrefix(yuan, "-")
	y, err1 := strconv.ParseInt(strings.TrimPrefix(yuan, "-"), 10, 64)
	c, err2 := strconv.ParseInt(cents, 10, 64)
	if !ok || len(cents) != 2 || err1 != nil || err2 != nil {
		t.Fatalf("%q is not an amount in yuan with two decimals", s)
	}
	if neg {
		return -(y*100 + c)
	}
	return y*100 + c
}

func whole(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("%q is not a whole number", s)
	}
	return n
}

// fromSQL reads the same totals of the shop from report_daily_sales, the view `syncer
// report` prints.
func fromSQL(t *testing.T, st *store.Store, appID, from, to string) page {
	t.Helper()
	p := page{From: from, To: to}
	err := st.Pool().QueryRow(context.Background(), `
		SELECT coalesce(sum(collected), 0)::bigint, coalesce(sum(refunded), 0)::bigint, coalesce(sum(net), 0)::bigint,
			coalesce(sum(orders_placed), 0)::bigint, coalesce(sum(orders_paid), 0)::bigint
		FROM report_daily_sales WHERE app_id = $3 AND day BETWEEN $1::date AND $2::date`, from, to, appID).Scan(&p.Collected, &p.Refunded, &p.Net, &p.Placed, &p.Paid)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checkTotals(t *testing.T, got, want page) {
	t.Helper()
	if got.Collected != want.Collected || got.Refunded != want.Refunded || got.Net != want.Net ||
		got.Placed != want.Placed || got.Paid != want.Paid {
		t.Errorf("%s to %s: the page shows collected %d, refunded %d, net %d fen, %d placed, %d paid; report_daily_sales says %d, %d, %d, %d, %d",
			got.From, got.To, got.Collected, got.Refunded, got.Net, got.Placed, got.Paid,
			want.Collected, want.Refunded, want.Net, want.Placed, want.Paid)
	}
}

func checkCharts(t *testing.T, p page) {
	t.Helper()
	if p.Charts != 5 || p.Drawn != p.Charts {
		t.Errorf("%d charts drawn of %d, want 5 of 5", p.Drawn, p.Charts)
	}
	for i, n := range p.Ink {
		if n < 50 {
			t.Errorf("chart %d has %d colored pixels: it drew no data", i+1, n)
		}
	}
}

func shanghaiDay(daysAgo int) string {
	return time.Now().In(time.FixedZone("Asia/Shanghai", 8*3600)).AddDate(0, 0, -daysAgo).Format(time.DateOnly)
}

// TestPageInBrowser logs in with the operator's token, checks that the page's figures are
// report_daily_sales' and that its charts draw, changes the range and the shop, and finds
// no console error and no buyer's phone number or address.
func TestPageInBrowser(t *testing.T) {
	t.Parallel()
	st := storetest.Store(t)
	now := time.Now()
	first := backfill(t, st, fetchtest.Options{Seed: 31, Orders: 400, From: now.AddDate(0, 0, -60), To: now})
	second := backfill(t, st, fetchtest.Options{Seed: 32, Orders: 150, From: now.AddDate(0, 0, -30), To: now,
		AppID: "appsecondshop02"})
	const token = "operator-token-5d1e"
	base := serve(t, st, token)
	ctx, cons := browser(t)
	appID, otherID := first.Options().AppID, second.Options().AppID

	// Without the token: 401 and the login form; the form sets the cookie and goes on.
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusUnauthorized {
		t.Errorf("/ without the token: %d, want 401", resp.Status)
	}
	if errs := cons.Errors(t, ctx); len(errs) != 1 || !strings.Contains(errs[0], "401") {
		t.Errorf("the console after the 401: %q, want the 401 alone", errs)
	}
	resp, err = chromedp.RunResponse(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), token),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("after logging in: %d, want 200", resp.Status)
	}
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cookies.Cookies {
		if c.Name == dashboard.TokenCookie {
			found = true
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				t.Errorf("cookie %s: HttpOnly %v, SameSite %q; want HttpOnly and Strict", c.Name, c.HTTPOnly, c.SameSite)
			}
		}
	}
	if !found {
		t.Errorf("the login set no %s cookie", dashboard.TokenCookie)
	}

	// The first shop over the default range: the last 14 days, today included.
	def := readPage(t, ctx)
	if def.To != shanghaiDay(0) || def.Days != 14 {
		t.Errorf("default range %s to %s, %d days; want the 14 days to %s", def.From, def.To, def.Days, shanghaiDay(0))
	}
	checkTotals(t, def, fromSQL(t, st, appID, def.From, def.To))
	checkCharts(t, def)

	// The range filter: 60 days of history up to a week ago.
	from, to := shanghaiDay(60), shanghaiDay(7)
	if _, err := chromedp.RunResponse(ctx,
		chromedp.SetValue(chromedp.CSS(`input[name=from]`), from),
		chromedp.SetValue(chromedp.CSS(`input[name=to]`), to),
		chromedp.Click(chromedp.CSS(`form.range button`))); err != nil {
		t.Fatal(err)
	}
	wide := readPage(t, ctx)
	if wide.From != from || wide.To != to || wide.Days != 54 {
		t.Errorf("range %s to %s, %d days; want %s to %s, 54 days", wide.From, wide.To, wide.Days, from, to)
	}
	if wide.Net == def.Net || wide.Placed == def.Placed {
		t.Errorf("the range changed nothing: net %d fen and %d orders placed both times", wide.Net, wide.Placed)
	}
	checkTotals(t, wide, fromSQL(t, st, appID, from, to))
	checkCharts(t, wide)

	// The second shop, chosen in the selector, over the same range.
	if _, err := chromedp.RunResponse(ctx,
		chromedp.SetValue(chromedp.CSS(`select[name=shop]`), otherID),
		chromedp.Click(chromedp.CSS(`form.range button`))); err != nil {
		t.Fatal(err)
	}
	other := readPage(t, ctx)
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, "<h2>"+otherID+", "+from+" to "+to) {
		t.Errorf("the page does not show shop %s over %s to %s", otherID, from, to)
	}
	checkTotals(t, other, fromSQL(t, st, otherID, from, to))
	if other.Placed == wide.Placed {
		t.Errorf("shop %s shows as many orders placed as %s: %d", otherID, appID, other.Placed)
	}

	// What the page must never show.
	rows, err := st.Pool().Query(context.Background(), `
		SELECT phone_number FROM order_buyers WHERE phone_number <> ''
		UNION ALL SELECT info_collect_phone_number FROM order_buyers WHERE info_collect_phone_number <> ''
		UNION ALL SELECT contact FROM order_consignees WHERE contact <> ''
		UNION ALL SELECT address_detail FROM order_consignees WHERE address_detail <> ''`)
	if err != nil {
		t.Fatal(err)
	}
	private := 0
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		private++
		if strings.Contains(html, s) {
			t.Errorf("the page shows a buyer's phone number or address: %q", s)
		}
	}
	if rows.Err() != nil || private == 0 {
		t.Fatalf("no phone number or address to look for (%v): the check proves nothing", rows.Err())
	}
	if errs := cons.Errors(t, ctx); len(errs) > 0 {
		t.Errorf("the console shows errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestScreenshot draws the page over the demo's data: the demo's simulated shop (seed,
// orders, days, weather), backfilled, changed and synced as `syncer demo` does. Under
// -update it writes docs/dashboard.png; that needs a font with Chinese glyphs (Debian's
// fonts-wqy-microhei or fonts-noto-cjk), or the goods' names are boxes.
func TestScreenshot(t *testing.T) {
	t.Parallel()
	orders, days := 600, 40
	if *update {
		if out, err := exec.Command("fc-list", ":lang=zh", "family").Output(); err != nil || len(bytes.TrimSpace(out)) == 0 {
			t.Fatalf("no font with Chinese glyphs for the screenshot (apt-get install fonts-wqy-microhei): %v", err)
		}
		orders, days = 3000, 90 // the demo's own
	}
	st := storetest.Store(t)
	now := time.Now().Truncate(time.Second)
	s := backfill(t, st, fetchtest.Options{Seed: 2026, Orders: orders, From: now.AddDate(0, 0, -days), To: now,
		BusyRate: 0.03, ServerErrorRate: 0.01})
	s.Mutate(orders/20, time.Now())
	if _, err := s.syncer.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := serve(t, st, "")
	ctx, cons := browser(t)
	if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	checkCharts(t, readPage(t, ctx))
	if errs := cons.Errors(t, ctx); len(errs) > 0 {
		t.Errorf("the console shows errors:\n%s", strings.Join(errs, "\n"))
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(shot)); err != nil {
		t.Fatalf("the screenshot is no PNG: %v", err)
	}
	if *update {
		path := filepath.Join("..", "docs", "dashboard.png")
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s, %d bytes", path, len(shot))
	}
}
