package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ordersync/store/storetest"
)

// startFakeshop runs `syncer fakeshop args...` in-process until the test ends, and returns
// the environment it printed.
func startFakeshop(t *testing.T, args ...string) map[string]string {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		err := run(ctx, append([]string{"fakeshop", "--addr", "127.0.0.1:0"}, args...),
			getenv(map[string]string{"LOG_LEVEL": "warn"}), pw, io.Discard)
		pw.Close()
		done <- exitCode(err, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("fakeshop exited %d", code)
		}
	})
	env := map[string]string{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("fakeshop stopped; printed %v", env)
			}
			k, v, found := strings.Cut(strings.TrimPrefix(line, "export "), "=")
			if !strings.HasPrefix(line, "export ") || !found {
				continue
			}
			env[k] = v
			if k == "XE_SECRET_KEY" || k == "SYNC_SHOPS_FILE" {
				go func() { // nothing more to read, but the pipe must not block the server
					for range lines {
					}
				}()
				return env
			}
		case <-timeout:
			t.Fatalf("fakeshop printed no environment; so far %v", env)
		}
	}
}

// TestFakeshopServesTheRealWorkflow: a user serves the simulated shop in one terminal and
// runs backfill, sync and status in another, changing orders through the admin endpoints.
func TestFakeshopServesTheRealWorkflow(t *testing.T) {
	t.Parallel()
	env := startFakeshop(t, "--orders", "80", "--days", "20", "--rate", "0", "--changes-per-min", "0")
	for _, k := range []string{"XE_BASE_URL", "XE_APP_ID", "XE_CLIENT_ID", "XE_SECRET_KEY"} {
		if env[k] == "" {
			t.Fatalf("fakeshop did not print %s: %v", k, env)
		}
	}
	env["DATABASE_URL"] = storetest.Migrated(t)
	env["LOG_LEVEL"] = "warn"
	today := time.Now().Format(time.DateOnly)
	from := time.Now().AddDate(0, 0, -21).Format(time.DateOnly)
	code, stdout, stderr := runSyncer(t, context.Background(), env, "backfill", "--from", from, "--to", today)
	if code != 0 || !strings.Contains(stdout, "80 written") {
		t.Fatalf("backfill: exit %d\n%s%s", code, stdout, stderr)
	}
	resp, err := http.Post(env["XE_BASE_URL"]+"/admin/change?n=3", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("admin change: %v %v", resp, err)
	}
	var changed map[string][]string
	if err := json.NewDecoder(resp.Body).Decode(&changed); err != nil || len(changed[env["XE_APP_ID"]]) != 3 {
		t.Fatalf("admin change answered %v, %v", changed, err)
	}
	resp.Body.Close()
	code, stdout, stderr = runSyncer(t, context.Background(), env, "sync")
	if code != 0 || !strings.Contains(stdout, "3 fetched") {
		t.Errorf("sync after 3 changes: exit %d\n%s%s", code, stdout, stderr)
	}
	resp, err = http.Get(env["XE_BASE_URL"] + "/admin/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats map[string]struct {
		Orders int            `json:"orders"`
		Calls  map[string]int `json:"Calls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s := stats[env["XE_APP_ID"]]; s.Orders != 80 || s.Calls["xe.ecommerce.order.detail/1.0.0"] != 83 {
		t.Errorf("admin stats: %+v, want 80 orders and 83 detail calls", s)
	}
	for _, bad := range []string{"/admin/change?n=0", "/admin/fault?kind=melted&order_id=x"} {
		if resp, err := http.Post(env["XE_BASE_URL"]+bad, "", nil); err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s: %v %v, want 400", bad, resp.Status, err)
		}
	}
}

// TestFakeshopManyShops: --shops 3 writes a shops file and prints the secrets it names;
// one sync with them syncs the three shops.
func TestFakeshopManyShops(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "shops.toml")
	env := startFakeshop(t, "--shops", "3", "--shops-file", file, "--orders", "20", "--days", "10", "--rate", "0")
	if env["SYNC_SHOPS_FILE"] != file || env["FAKESHOP_SECRET_3"] == "" {
		t.Fatalf("fakeshop printed %v", env)
	}
	env["DATABASE_URL"] = storetest.Migrated(t)
	code, stdout, stderr := runSyncer(t, context.Background(), env, "sync")
	if code != 0 || strings.Count(stdout, "20 written") != 3 {
		t.Errorf("sync of three shops: exit %d\n%s%s", code, stdout, stderr)
	}
}
