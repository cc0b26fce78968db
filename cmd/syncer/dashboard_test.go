package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
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
