package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/store/storetest"
)

// The page itself is tested in a browser in package dashboard; these tests check where
// syncer serves it and behind what.

// get asks base+path, with the operator's token as a bearer token when one is given.
func get(t *testing.T, base, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serving runs syncer with args in-process until the test ends, and returns the address
// it says it serves on: the addr of its log line msg (JSON), or the URL after "dashboard: "
// on stdout when msg is "".
func serving(t *testing.T, env map[string]string, msg string, args ...string) string {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		var other bytes.Buffer
		stdout, stderr := io.Writer(&other), io.Writer(pw)
		if msg == "" {
			stdout, stderr = pw, &other
		}
		err := run(ctx, args, getenv(env), stdout, stderr)
		code := exitCode(err, stderr)
		pw.Close()
		if code != 0 {
			t.Logf("%s: %s", args[0], other.String())
		}
		done <- code
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			switch {
			case msg == "":
				if u, ok := strings.CutPrefix(sc.Text(), "dashboard: "); ok {
					addr <- strings.TrimSuffix(strings.Fields(u)[0], "/")
				}
			case json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == msg:
				addr <- "http://" + rec.Addr
			}
		}
		close(addr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("syncer %s exited %d, want 0 after a signal", args[0], code)
		}
	})
	a, ok := <-addr
	if !ok {
		t.Fatalf("syncer %s stopped without serving (exit %d)", args[0], <-done)
	}
	return a
}

// TestDashboardCommand: syncer dashboard serves the page, open on loopback without a
// token, and behind the token once it is set.
func TestDashboardCommand(t *testing.T) {
	t.Parallel()
	now := time.Now().In(order.Shanghai)
	shop, env := shopEnv(t, fetchtest.Options{Seed: 34, Orders: 40, From: now.AddDate(0, 0, -5), To: now, Rate: -1})
	if code, stdout, stderr := runSyncer(t, context.Background(), env, "sync"); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, stdout, stderr)
	}
	env["HTTP_ADDR"], env["LOG_FORMAT"], env["LOG_LEVEL"] = "127.0.0.1:0", "json", "info"

	// On loopback without a token, the page is open.
	open := serving(t, env, "serving the dashboard", "dashboard")
	if code, page := get(t, open, "/", ""); code != http.StatusOK || !strings.Contains(page, shop.Options().AppID) {
		t.Errorf("/ on loopback without a token: %d\n%s", code, firstLines(page, 20))
	}
	// With a token set, it is needed on loopback too.
	env["DASHBOARD_TOKEN"] = "command-token-19c2"
	closed := serving(t, env, "serving the dashboard", "dashboard")
	if code, _ := get(t, closed, "/", ""); code != http.StatusUnauthorized {
		t.Errorf("/ without the token set: %d, want 401", code)
	}
	if code, _ := get(t, closed, "/", env["DASHBOARD_TOKEN"]); code != http.StatusOK {
		t.Errorf("/ with the token: %d, want 200", code)
	}
}

// TestDaemonServesTheDashboard checks the daemon's listener: the dashboard at / and River
// UI behind the token, /healthz and /metrics open and without money.
func TestDaemonServesTheDashboard(t *testing.T) {
	t.Parallel()
	now := time.Now().In(order.Shanghai)
	shop, env := shopEnv(t, fetchtest.Options{Seed: 33, Orders: 60, From: now.AddDate(0, 0, -10), To: now, Rate: -1})
	env["HTTP_ADDR"] = "127.0.0.1:0"
	env["DASHBOARD_TOKEN"] = "daemon-token-77a0"
	d := startDaemon(t, context.Background(), env)
	d.waitLog(t, "run finished", map[string]any{"kind": "sync", "app_id": shop.Options().AppID})
	base, token := "http://"+d.addr, env["DASHBOARD_TOKEN"]

	for _, path := range []string{"/", "/riverui/"} {
		if code, _ := get(t, base, path, ""); code != http.StatusUnauthorized {
			t.Errorf("%s without the token: %d, want 401", path, code)
		}
		if code, _ := get(t, base, path, "not-the-token"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d, want 401", path, code)
		}
		if code, _ := get(t, base, path, token); code != http.StatusOK {
			t.Errorf("%s with the token: %d, want 200", path, code)
		}
	}
	if _, page := get(t, base, "/", token); !strings.Contains(page, shop.Options().AppID) || !strings.Contains(page, `data-figure="net"`) {
		t.Errorf("/ does not show the shop's sales:\n%s", firstLines(page, 20))
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		code, body := get(t, base, path, "")
		if code != http.StatusOK {
			t.Errorf("%s without the token: %d, want 200", path, code)
		}
		// The series and fields themselves, not the help texts of Go's runtime series.
		for _, line := range strings.Split(strings.ToLower(body), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			for _, money := range []string{"collect", "refund", "revenue", "amount", "yuan", "price", "sales"} {
				if strings.Contains(line, money) {
					t.Errorf("%s speaks of money (%q): %s", path, money, line)
				}
			}
		}
	}
}

// TestDemoServesTheDashboard: demo --serve ends its report with the dashboard's address
// and serves the demo's shop there until it is stopped.
func TestDemoServesTheDashboard(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": storetest.NewDatabase(t), "HTTP_ADDR": "127.0.0.1:0", "LOG_LEVEL": "warn", "LOG_FORMAT": "text"}
	base := serving(t, env, "", "demo", "--serve", "--orders", "200", "--days", "20")
	code, page := get(t, base, "/", "")
	if code != http.StatusOK || !strings.Contains(page, fetchtest.DefaultAppID) || !strings.Contains(page, `data-chart=`) {
		t.Errorf("the demo's dashboard: %d\n%s", code, firstLines(page, 20))
	}
}
