package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/store"
	"ordersync/store/storetest"
)

// multiEnv starts n simulated shops behind one API and returns them, with the environment
// and a shops file that point a syncer at them and at a fresh migrated database. The
// secret of the shop at index wrong is wrong in the environment.
func multiEnv(t *testing.T, n int, opts fetchtest.Options, wrong int) (*fetchtest.MultiServer, map[string]string) {
	t.Helper()
	all := make([]fetchtest.Options, n)
	for i := range all {
		all[i] = opts
	}
	srv := fetchtest.NewMultiServer(t, all)
	env := map[string]string{
		"DATABASE_URL": storetest.Migrated(t),
		"XE_BASE_URL":  srv.URL(),
		"XE_RATE":      "500",
		"LOG_FORMAT":   "json",
		"LOG_LEVEL":    "warn",
	}
	var file strings.Builder
	for i, s := range srv.Shops() {
		o := s.Options()
		name := fmt.Sprintf("SHOP_%d_SECRET", i+1)
		env[name] = o.SecretKey
		if i == wrong {
			env[name] = "not-the-secret"
		}
		fmt.Fprintf(&file, "[[shop]]\napp_id = %q\nclient_id = %q\nsecret_key_env = %q\n\n", o.AppID, o.ClientID, name)
	}
	path := filepath.Join(t.TempDir(), "shops.toml")
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env["SYNC_SHOPS_FILE"] = path
	return srv, env
}

// assertShopMatches checks that the orders stored for shop are exactly the shop's, each
// with its content and update_time.
func assertShopMatches(t *testing.T, st *store.Store, shop *fetchtest.Shop) {
	t.Helper()
	app := shop.Options().AppID
	rows, err := st.Pool().Query(context.Background(), `
		SELECT o.order_id, o.update_time, p.content_hash FROM orders o JOIN order_payloads p USING (order_id)
		WHERE o.app_id = $1`, app)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for rows.Next() {
		var (
			id   string
			at   time.Time
			hash []byte
		)
		if err := rows.Scan(&id, &at, &hash); err != nil {
			t.Fatal(err)
		}
		stored[id] = at.UTC().String() + fmt.Sprintf(" %x", hash)
	}
	truth := shop.Orders()
	if len(stored) != len(truth) {
		t.Errorf("shop %s: %d orders stored, the shop has %d", app, len(stored), len(truth))
	}
	for _, o := range truth {
		h := order.Hash(o.Detail)
		if want := o.Updated.UTC().String() + fmt.Sprintf(" %x", h); stored[o.ID] != want {
			t.Errorf("shop %s order %s: stored %q, want %q", app, o.ID, stored[o.ID], want)
		}
	}
}

// TestOneDaemonManyShops: three shops and one with wrong credentials in one file, one
// daemon. The three sync and match their shops; the fourth fails alone, and says so in
// status and /healthz.
func TestOneDaemonManyShops(t *testing.T) {
	t.Parallel()
	now := time.Now().In(order.Shanghai)
	srv, env := multiEnv(t, 4, fetchtest.Options{Orders: 40, From: now.AddDate(0, 0, -10), To: now, Rate: 500}, 3)
	env["SYNC_SCHEDULE"] = "@every 1s"
	env["HTTP_ADDR"] = "127.0.0.1:0"
	d := startDaemon(t, context.Background(), env)
	shops := srv.Shops()
	bad := shops[3].Options().AppID
	wants := []logWant{{"shop refused by the API; trying again later", map[string]any{"app_id": bad}}}
	for _, s := range shops[:3] {
		wants = append(wants, logWant{"run finished", map[string]any{"kind": "sync", "app_id": s.Options().AppID}})
	}
	d.waitLogs(t, wants...)

	st, err := store.New(context.Background(), env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, s := range shops[:3] {
		assertShopMatches(t, st, s)
	}
	assertShopMatches(t, st, &fetchtest.Shop{}) // nothing stored under no shop

	resp, err := http.Get("http://" + d.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var h struct {
		Healthy bool `json:"healthy"`
		Shops   map[string]struct {
			Healthy bool   `json:"healthy"`
			Reason  string `json:"reason"`
		} `json:"shops"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatalf("/healthz: %v: %s", err, body)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || h.Healthy || h.Shops[bad].Healthy || !strings.Contains(h.Shops[bad].Reason, "2004") {
		t.Errorf("/healthz: %s %s; want 503 naming shop %s's refused secret", resp.Status, body, bad)
	}
	for _, s := range shops[:3] {
		if !h.Shops[s.Options().AppID].Healthy {
			t.Errorf("/healthz: shop %s unhealthy: %s", s.Options().AppID, body)
		}
	}
	code, stdout, stderr := runSyncer(t, context.Background(), env, "status")
	if code != 0 || !strings.Contains(stdout, bad) || !strings.Contains(stdout, "2004") {
		t.Errorf("status: exit %d, want shop %s's error in it:\n%s%s", code, bad, stdout, stderr)
	}
	if strings.Contains(stdout+stderr+string(body), "not-the-secret") {
		t.Error("the wrong secret shows")
	}
}

// TestReplicasShareTheShops: three daemon processes serve twelve shops that change
// between ticks. Every shop is synced once a tick, never twice at once, no replica does
// more than half of the runs, and after one replica is killed the others sync every shop
// again once River rescues its jobs. The data ends exact.
func TestReplicasShareTheShops(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three daemons for about a minute")
	}
	t.Parallel()
	bin, err := buildSyncer()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(order.Shanghai)
	// Some latency, so that a sync lasts long enough to be killed in the middle.
	srv, env := multiEnv(t, 12, fetchtest.Options{Orders: 30, From: now.AddDate(0, 0, -10), To: now, Rate: 500, Latency: 30 * time.Millisecond}, -1)
	const tick = 2 * time.Second
	env["SYNC_SCHEDULE"] = "@every 2s"
	env["HTTP_ADDR"] = "off"
	env["SYNC_MAX_WORKERS"] = "4"
	env["SYNC_TIMEOUT"], env["BACKFILL_TIMEOUT"] = "4s", "4s"
	environ := os.Environ()
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	st, err := store.New(context.Background(), env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	procs := make([]*exec.Cmd, 3)
	outs := make([]*bytes.Buffer, 3)
	for i := range procs {
		procs[i] = exec.Command(bin, "daemon")
		procs[i].Env = environ
		outs[i] = &bytes.Buffer{}
		procs[i].Stdout, procs[i].Stderr = outs[i], outs[i]
		if err := procs[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for i, p := range procs {
			if p.ProcessState == nil {
				p.Process.Signal(syscall.SIGTERM)
				if err := p.Wait(); err != nil {
					t.Errorf("replica %d: %v\n%s", i, err, outs[i])
				}
			}
		}
	}()

	// The shops change while the replicas work; every second a few orders of each.
	stopChanges := make(chan struct{})
	changed := make(chan struct{})
	go func() {
		defer close(changed)
		for {
			select {
			case <-stopChanges:
				return
			case <-time.After(time.Second):
			}
			for _, s := range srv.Shops() {
				s.Mutate(1, time.Now())
			}
		}
	}()

	// Let every replica start, then watch a span of ticks.
	waitRuns(t, st, 12, time.Time{})
	from := time.Now()
	time.Sleep(6 * tick) // the span of ticks observed: the runs are counted after it
	to := time.Now()
	runs, err := st.Runs(context.Background(), 100000)
	if err != nil {
		t.Fatal(err)
	}
	perShop := map[string][]store.Run{}
	perWorker := map[string]int{}
	inSpan := 0
	for _, r := range runs {
		if r.Kind != "sync" {
			continue
		}
		perShop[r.AppID] = append(perShop[r.AppID], r)
		if r.StartedAt.After(from) && r.StartedAt.Before(to) {
			inSpan++
			perWorker[r.Worker]++
		}
	}
	ticks := int(to.Sub(from) / tick)
	for _, s := range srv.Shops() {
		app := s.Options().AppID
		n := 0
		for _, r := range perShop[app] {
			if r.StartedAt.After(from) && r.StartedAt.Before(to) {
				n++
			}
		}
		if n < ticks-1 || n > ticks+1 {
			t.Errorf("shop %s: %d syncs in %d ticks", app, n, ticks)
		}
	}
	for w, n := range perWorker {
		if 2*n > inSpan {
			t.Errorf("replica %s did %d of %d runs, more than half", w, n, inSpan)
		}
	}
	t.Logf("%d syncs in %d ticks, by replica: %v", inSpan, ticks, perWorker)

	// Kill one replica mid-run: its running job is rescued, every shop syncs again.
	host, _ := os.Hostname()
	victim := fmt.Sprintf("%s:%d", host, procs[0].Process.Pid)
	var running string
	for deadline := time.Now().Add(time.Minute); running == "" && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // polling another process's run history
		err := st.Pool().QueryRow(context.Background(), `
			SELECT coalesce(min(app_id), '') FROM sync_runs WHERE worker = $1 AND status = 'running'`, victim).Scan(&running)
		if err != nil {
			t.Fatal(err)
		}
	}
	if running == "" {
		t.Fatalf("replica %s never ran a sync", victim)
	}
	if err := procs[0].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = procs[0].Wait()
	killed := time.Now()
	// RescueStuckJobsAfter is the 4s timeout plus 5s; River's rescuer looks every 30s.
	deadline := killed.Add(9*time.Second + 30*time.Second + 2*tick)
	waitRuns(t, st, 12, killed)
	if time.Now().After(deadline) {
		t.Errorf("every shop synced again %s after the kill, later than the rescue allows", time.Since(killed).Round(time.Second))
	}
	t.Logf("killed %s while it synced shop %s; every shop synced again %s after the kill", victim, running, time.Since(killed).Round(time.Second))

	// The run it left running was recorded as failed by the next holder of the shop's lock.
	var left int
	var abandoned string
	err = st.Pool().QueryRow(context.Background(), `
		SELECT count(*) FILTER (WHERE status = 'running'), coalesce(max(error) FILTER (WHERE status = 'failed'), '')
		FROM sync_runs WHERE worker = $1 AND app_id = $2`, victim, running).Scan(&left, &abandoned)
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 || !strings.Contains(abandoned, "stopped before the run ended") {
		t.Errorf("the killed replica's runs of shop %s: %d still running, error %q; want none running and the run failed as abandoned", running, left, abandoned)
	}

	// No two runs of one shop at once, ever.
	runs, err = st.Runs(context.Background(), 100000)
	if err != nil {
		t.Fatal(err)
	}
	perShop = map[string][]store.Run{}
	for _, r := range runs {
		if r.FinishedAt != nil {
			perShop[r.AppID] = append(perShop[r.AppID], r)
		}
	}
	for app, rs := range perShop {
		sort.Slice(rs, func(i, j int) bool { return rs[i].StartedAt.Before(rs[j].StartedAt) })
		for i := 1; i < len(rs); i++ {
			if rs[i].StartedAt.Before(*rs[i-1].FinishedAt) {
				t.Errorf("shop %s: runs %d and %d overlap", app, rs[i-1].RunID, rs[i].RunID)
			}
		}
	}

	// The data ends exact: no more changes, one more tick for everyone.
	close(stopChanges)
	<-changed
	waitRuns(t, st, 12, time.Now().Add(time.Second))
	for _, s := range srv.Shops() {
		assertShopMatches(t, st, s)
	}
}

// waitRuns waits until n shops each have a sync run that ended ok after since (an idle
// run is folded into the row before it, which then ends later): the daemons are other
// processes, so their run history is polled.
func waitRuns(t *testing.T, st *store.Store, n int, since time.Time) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); {
		var shops int
		err := st.Pool().QueryRow(context.Background(), `
			SELECT count(DISTINCT app_id) FROM sync_runs
			WHERE kind = 'sync' AND status = 'ok' AND finished_at > $1`, since).Scan(&shops)
		if err != nil {
			t.Fatal(err)
		}
		if shops >= n {
			return
		}
		time.Sleep(100 * time.Millisecond) // polling other processes' run history
	}
	t.Fatalf("fewer than %d shops synced after %s", n, since)
}
