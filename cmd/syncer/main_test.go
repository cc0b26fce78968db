package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/store"
	"ordersync/store/storetest"
)

// shopEnv starts a simulated shop over real HTTP and returns the environment that points
// a syncer at it and at a fresh migrated database.
func shopEnv(t *testing.T, opts fetchtest.Options) (*fetchtest.Shop, map[string]string) {
	t.Helper()
	shop := fetchtest.New(opts)
	srv := httptest.NewServer(shop.Handler())
	t.Cleanup(srv.Close)
	o := shop.Options()
	return shop, map[string]string{
		"DATABASE_URL":  storetest.Migrated(t),
		"XE_BASE_URL":   srv.URL,
		"XE_APP_ID":     o.AppID,
		"XE_CLIENT_ID":  o.ClientID,
		"XE_SECRET_KEY": o.SecretKey,
		"XE_RATE":       "500",
		"LOG_FORMAT":    "text",
		"LOG_LEVEL":     "warn",
	}
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// runSyncer runs the command in-process and returns its exit status and output.
func runSyncer(t *testing.T, ctx context.Context, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, getenv(env), &stdout, &stderr)
	code := exitCode(err, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsageAndConfigurationErrors(t *testing.T) {
	t.Parallel()
	db := storetest.Migrated(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no command", nil, nil, "no command"},
		{"unknown command", nil, []string{"frobnicate"}, "unknown command"},
		{"missing credentials", map[string]string{"DATABASE_URL": db}, []string{"sync"}, "XE_APP_ID, XE_CLIENT_ID, XE_SECRET_KEY"},
		{"backfill without dates", map[string]string{"DATABASE_URL": db}, []string{"backfill"}, "--from DATE and --to DATE"},
		{"backfill with a bad date", map[string]string{"DATABASE_URL": db}, []string{"backfill", "--from", "2026-13-01", "--to", "2026-12-01"}, "--from"},
		{"backfill backwards", map[string]string{"DATABASE_URL": db}, []string{"backfill", "--from", "2026-02-01", "--to", "2026-01-01"}, "before"},
		{"bad rate", map[string]string{"DATABASE_URL": db, "XE_RATE": "fast"}, []string{"sync"}, "XE_RATE"},
		{"bad schedule", map[string]string{"DATABASE_URL": db, "XE_APP_ID": "a", "XE_CLIENT_ID": "c", "XE_SECRET_KEY": "s"}, []string{"daemon", "--schedule", "every tuesday"}, "SYNC_SCHEDULE"},
		{"order without ids", map[string]string{"DATABASE_URL": db}, []string{"order"}, "ORDER_ID"},
		{"malformed database url", map[string]string{"DATABASE_URL": "postgres://bob:hunter2@[bad"}, []string{"status"}, "DATABASE_URL"},
		{"credentials before the database", map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/x"}, []string{"sync"}, "XE_APP_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runSyncer(t, context.Background(), tt.env, tt.args...)
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("stderr shows the database password: %s", stderr)
			}
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and a message with %q", code, stderr, tt.want)
			}
		})
	}
}

func TestRefusesAStaleSchema(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": storetest.NewDatabase(t), "XE_APP_ID": "a", "XE_CLIENT_ID": "c", "XE_SECRET_KEY": "s"}
	for _, cmd := range []string{"sync", "status", "replay"} {
		code, _, stderr := runSyncer(t, context.Background(), env, cmd)
		if code != 2 || !strings.Contains(stderr, "syncer migrate") {
			t.Errorf("%s on an empty database: exit %d, %q; want 2 and 'run syncer migrate'", cmd, code, stderr)
		}
	}
	code, _, stderr := runSyncer(t, context.Background(), env, "migrate")
	if code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runSyncer(t, context.Background(), env, "status"); code != 0 {
		t.Errorf("status after migrate: exit %d: %s", code, stderr)
	}
}

func TestSyncStatusAndSecrets(t *testing.T) {
	t.Parallel()
	now := time.Now().In(order.Shanghai)
	shop, env := shopEnv(t, fetchtest.Options{Seed: 11, Orders: 120, From: now.AddDate(0, 0, -20), To: now, Rate: -1})
	ctx := context.Background()
	code, stdout, stderr := runSyncer(t, ctx, env, "sync")
	if code != 0 {
		t.Fatalf("sync: exit %d: %s %s", code, stdout, stderr)
	}
	code, stdout, stderr = runSyncer(t, ctx, env, "status", "--json")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, stderr)
	}
	var status map[string][]map[string]any
	if err := json.Unmarshal([]byte(stdout), &status); err != nil {
		t.Fatalf("status --json: %v\n%s", err, stdout)
	}
	for _, k := range []string{"runs", "windows", "failures"} {
		if _, ok := status[k]; !ok {
			t.Errorf("status --json has no %q array", k)
		}
	}
	if len(status["runs"]) != 1 || status["runs"][0]["status"] != "ok" || status["runs"][0]["orders_written"] != float64(120) {
		t.Errorf("runs: %v", status["runs"])
	}
	if len(status["windows"]) != 1 || status["windows"][0]["kind"] != "update_time" {
		t.Errorf("windows: %v", status["windows"])
	}

	code, stdout, stderr = runSyncer(t, ctx, env, "replay")
	if code != 0 || !strings.Contains(stdout, "replayed 120 orders") {
		t.Errorf("replay: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runSyncer(t, ctx, env, "report", "--days", "30")
	if code != 0 || !strings.Contains(stdout, "total") || !strings.Contains(stdout, "collected") {
		t.Errorf("report: exit %d\n%s%s", code, stdout, stderr)
	}

	// A corrupt payload: the run stores the rest and says it was partial (exit 3).
	broken := shop.Orders()[0].ID
	shop.SetBroken(broken)
	code, stdout, stderr = runSyncer(t, ctx, env, "order", broken, shop.Orders()[1].ID)
	if code != 3 {
		t.Errorf("order with a corrupt payload: exit %d, want 3\n%s%s", code, stdout, stderr)
	}
	fs, err := st(t, env).Failures(ctx, "")
	if err != nil || len(fs) != 1 || fs[0].OrderID != broken {
		t.Errorf("failure queue %+v, %v; want %s", fs, err, broken)
	}
	shop.SetBroken()

	// A wrong secret: a configuration error (exit 2), and no secret or token in any output.
	bad := map[string]string{}
	for k, v := range env {
		bad[k] = v
	}
	bad["XE_SECRET_KEY"] = "wrong-secret-9f8e7d"
	bad["LOG_LEVEL"] = "debug"
	code, stdout, stderr = runSyncer(t, ctx, bad, "sync")
	if code != 2 {
		t.Errorf("a wrong secret: exit %d, want 2: %s", code, stderr)
	}
	out := stdout + stderr
	for _, secret := range append([]string{"wrong-secret-9f8e7d", env["XE_SECRET_KEY"]}, shop.Tokens()...) {
		if secret != "" && strings.Contains(out, secret) {
			t.Errorf("output shows a secret or token %q:\n%s", secret, out)
		}
	}
}

// st opens a store on the test's database.
func st(t *testing.T, env map[string]string) *store.Store {
	t.Helper()
	s, err := store.New(context.Background(), env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// buildSyncer builds the real binary once per test binary.
var buildSyncer = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "syncer-test")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "syncer")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func TestBackfillKilledAndResumed(t *testing.T) {
	t.Parallel()
	bin, err := buildSyncer()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(order.Shanghai).Truncate(time.Second)
	from := now.AddDate(0, -8, 0)
	// Slow enough that the kill lands mid-run: about 8 windows of 31 days.
	shop, env := shopEnv(t, fetchtest.Options{Seed: 12, Orders: 400, From: from, To: now, Rate: -1, Latency: 15 * time.Millisecond})
	env["SYNC_WORKERS"] = "4"
	args := []string{"backfill", "--from", from.Format(time.DateOnly), "--to", now.Format(time.DateOnly)}
	st, err := store.New(context.Background(), env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	environ := os.Environ()
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}

	cmd := exec.Command(bin, args...)
	cmd.Env = environ
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once two windows are recorded (they merge into one span of 62 days): mid-run,
	// with a window in progress.
	var done []store.Window
	deadline := time.Now().Add(2 * time.Minute)
	for covered(done) < 62*24*time.Hour && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling another process's progress: no signal to wait on
		done, err = st.Windows(context.Background(), env["XE_APP_ID"], order.CreatedTime, from, now)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if covered(done) < 62*24*time.Hour {
		t.Fatalf("no progress before the kill:\n%s", out.String())
	}
	finished, err := st.Windows(context.Background(), env["XE_APP_ID"], order.CreatedTime, from, now)
	if err != nil {
		t.Fatal(err)
	}
	fetchedBefore := shop.Stats().DetailCalls
	t.Logf("killed with %d windows finished and %d orders fetched", len(finished), len(fetchedBefore))

	cmd = exec.Command(bin, args...)
	cmd.Env = environ
	out.Reset()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("resumed backfill: %v\n%s", err, out.String())
	}

	// No order of a window finished before the kill was fetched again.
	after := shop.Stats().DetailCalls
	all, err := st.Windows(context.Background(), env["XE_APP_ID"], order.CreatedTime, from, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resumed: %s covered, %d orders fetched in all", covered(all), len(after))
	if covered(all) <= covered(finished) {
		t.Errorf("the kill did not land mid-run: %s covered before, %s after", covered(finished), covered(all))
	}
	for _, o := range shop.Orders() {
		for _, w := range finished {
			if !o.Created.Before(w.WindowStart) && !o.Created.After(w.WindowEnd) && after[o.ID] != fetchedBefore[o.ID] {
				t.Errorf("order %s of finished window %s..%s fetched again", o.ID, w.WindowStart, w.WindowEnd)
			}
		}
	}
	assertStoreMatchesShop(t, st, shop)
}

// covered is how much time the windows cover.
func covered(ws []store.Window) time.Duration {
	var d time.Duration
	for _, w := range ws {
		d += w.WindowEnd.Sub(w.WindowStart) + time.Second
	}
	return d
}

// assertStoreMatchesShop checks that every order of the shop is stored with the content and
// update_time the shop serves, and nothing else is.
func assertStoreMatchesShop(t *testing.T, st *store.Store, shop *fetchtest.Shop) {
	t.Helper()
	truth := shop.Orders()
	stored := edgeStoredOrders(t, st)
	if len(stored) != len(truth) {
		t.Errorf("%d orders stored, the shop has %d", len(stored), len(truth))
	}
	for _, o := range truth {
		r, ok := stored[o.ID]
		h := order.Hash(o.Detail)
		if !ok || !r.updated.Equal(o.Updated) || !bytes.Equal(r.hash, h[:]) {
			t.Errorf("order %s: stored %v, want update_time %v and the shop's content", o.ID, ok, o.Updated)
		}
	}
}

func TestTwoDaemonsDoEachTickOnce(t *testing.T) {
	t.Parallel()
	now := time.Now().In(order.Shanghai)
	shop, env := shopEnv(t, fetchtest.Options{Seed: 13, Orders: 50, From: now.AddDate(0, 0, -5), To: now, Rate: -1})
	env["SYNC_SCHEDULE"] = "@every 1s"
	env["HTTP_ADDR"] = "off"
	st, err := store.New(context.Background(), env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = runSyncer(t, ctx, env, "daemon")
		}()
	}
	// Let the daemons share a few ticks, changing the shop between them.
	var runs int
	for deadline := time.Now().Add(time.Minute); runs < 5 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond) // polling the run history of two daemons
		shop.Mutate(2, time.Now())
		if err := st.Pool().QueryRow(context.Background(), "SELECT count(*) FROM sync_runs WHERE finished_at IS NOT NULL").Scan(&runs); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Errorf("daemon %d exited %d", i, c)
		}
	}
	rs, err := st.Runs(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) < 5 {
		t.Fatalf("only %d runs", len(rs))
	}
	t.Logf("%d runs between two daemons", len(rs))
	// Ticks come every whole second; two runs starting in the same second did one tick twice.
	seconds := map[int64]int64{}
	for _, r := range rs {
		sec := r.StartedAt.Unix()
		if other, dup := seconds[sec]; dup {
			t.Errorf("runs %d and %d both did the tick of %s", r.RunID, other, r.StartedAt.Truncate(time.Second))
		}
		seconds[sec] = r.RunID
	}
}

func TestDemo(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": storetest.NewDatabase(t), "LOG_LEVEL": "warn", "LOG_FORMAT": "text"}
	code, stdout, stderr := runSyncer(t, context.Background(), env, "demo", "--orders", "300", "--days", "40")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"backfill", "matches the shop", "order_goods", "daily sales"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
}

// daemon runs `syncer daemon` in-process with env until the test ends, and returns the
// records it logs (JSON), as they come, and where it serves HTTP when it does.
type daemon struct {
	addr string
	logs chan map[string]any
	done chan int
}

func startDaemon(t *testing.T, ctx context.Context, env map[string]string) *daemon {
	t.Helper()
	env["LOG_FORMAT"], env["LOG_LEVEL"] = "json", "info"
	pr, pw := io.Pipe()
	d := &daemon{logs: make(chan map[string]any, 1024), done: make(chan int, 1)}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		var out bytes.Buffer
		err := run(ctx, []string{"daemon"}, getenv(env), &out, pw)
		code := exitCode(err, pw)
		pw.Close()
		d.done <- code
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				t.Logf("daemon: %s", sc.Text())
				continue
			}
			if a, ok := rec["addr"].(string); ok && strings.HasPrefix(rec["msg"].(string), "serving") {
				addr <- a
			}
			select {
			case d.logs <- rec:
			default: // nobody listens: drop
			}
		}
		close(d.logs)
		close(addr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-d.done; code != 0 {
			t.Errorf("daemon exited %d", code)
		}
	})
	if env["HTTP_ADDR"] != "off" {
		select {
		case d.addr = <-addr:
		case <-time.After(time.Minute):
			t.Fatal("the daemon did not say where it serves HTTP")
		}
	}
	return d
}

// logWant is a log record to wait for: its msg, and attributes it must have.
type logWant struct {
	msg   string
	attrs map[string]any
}

func (w logWant) matches(rec map[string]any) bool {
	if rec["msg"] != w.msg {
		return false
	}
	for k, v := range w.attrs {
		if rec[k] != v {
			return false
		}
	}
	return true
}

// waitLog waits for a log record whose msg is msg and whose attributes include attrs.
func (d *daemon) waitLog(t *testing.T, msg string, attrs map[string]any) {
	t.Helper()
	d.waitLogs(t, logWant{msg, attrs})
}

// waitLogs waits until each of wants has been logged, in any order.
func (d *daemon) waitLogs(t *testing.T, wants ...logWant) {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for left := slices.Clone(wants); len(left) > 0; {
		select {
		case rec, ok := <-d.logs:
			if !ok {
				t.Fatalf("the daemon stopped before logging %v", left)
			}
			left = slices.DeleteFunc(left, func(w logWant) bool { return w.matches(rec) })
		case <-timeout:
			t.Fatalf("the daemon did not log %v", left)
		}
	}
}

func TestDaemonServesHealthAndMetrics(t *testing.T) {
	t.Parallel()
	now := time.Now().In(order.Shanghai)
	shop, env := shopEnv(t, fetchtest.Options{Seed: 14, Orders: 30, From: now.AddDate(0, 0, -3), To: now, Rate: -1})
	env["HTTP_ADDR"] = "127.0.0.1:0"
	env["SYNC_SCHEDULE"] = "@every 1s"
	env["VERIFY_SCHEDULE"] = "@every 2s"
	d := startDaemon(t, context.Background(), env)
	// The daemon syncs at start, then every second. The metrics of a run are recorded just
	// after its summary line: once the second run is logged, the first one's are in.
	for range 2 {
		d.waitLog(t, "run finished", map[string]any{"kind": "sync", "app_id": shop.Options().AppID})
	}
	// A shop's verify jobs never overlap: once the second has logged, the first's
	// anomaly counts are in /metrics.
	for range 2 {
		d.waitLog(t, "verify finished", map[string]any{"app_id": shop.Options().AppID})
	}

	resp, err := http.Get("http://" + d.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	app := shop.Options().AppID
	for _, want := range []string{
		`ordersync_runs_total{app_id="` + app + `",kind="sync",result="ok"}`,
		`ordersync_api_calls_total{app_id="` + app + `",code="0",endpoint="xe.ecommerce.order.detail/1.0.0"}`,
		`ordersync_token_refreshes_total{app_id="` + app + `"} 1`,
		`ordersync_orders_total{app_id="` + app + `",kind="sync",outcome="written"}`,
		`ordersync_verify_anomalies{app_id="` + app + `",kind="missing"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, firstLines(body, 40))
		}
	}
	resp, err = http.Get("http://" + d.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s", resp.Status)
	}
	env["HTTP_ADDR"] = d.addr
	code, stdout, stderr := runSyncer(t, context.Background(), env, "healthcheck")
	if code != 0 || !strings.Contains(stdout, `"healthy":true`) {
		t.Errorf("healthcheck: exit %d: %s%s", code, stdout, stderr)
	}
	// River UI is the operator's: open on loopback without a token, closed on loopback
	// with one unless it is given.
	if resp, err := http.Get("http://" + d.addr + "/riverui/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/riverui/ on loopback without a token: %v %v, want 200", resp.Status, err)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
