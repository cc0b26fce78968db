package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"ordersync/store/storetest"
)

// TestMigrateDown rolls a migrated database back while it holds orders: down lists what it
// drops, refuses to drop rows without --yes and leaves them, and goes ahead with it.
func TestMigrateDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.Migrated(t)
	env := map[string]string{"DATABASE_URL": url, "LOG_FORMAT": "text", "LOG_LEVEL": "warn"}
	pool := storetest.Pool(t, url)
	if _, err := pool.Exec(ctx, "INSERT INTO orders (order_id) VALUES ('o_1'), ('o_2')"); err != nil {
		t.Fatal(err)
	}
	ordersLeft := func() int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil {
			t.Fatalf("count orders: %v", err)
		}
		return n
	}
	mustShow := func(out string, patterns ...string) {
		t.Helper()
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(out) {
				t.Errorf("output lacks /%s/:\n%s", p, out)
			}
		}
	}

	code, stdout, stderr := runSyncer(t, ctx, env, "migrate", "down", "--to", "0")
	if code != 2 || !strings.Contains(stderr, "add --yes") {
		t.Errorf("down --to 0 with orders stored: exit %d, %q; want 2 and a hint to add --yes", code, stderr)
	}
	mustShow(stdout, `would roll back 1 00001_orders\.sql`, `drops table\s+orders\s+2 rows`,
		`drops table\s+order_payloads\s+0 rows`, `would roll back 3 00003_reports\.sql`, `drops view\s+report_orders`)
	if strings.Contains(stdout, "rolled back") {
		t.Errorf("a refused down says it rolled back:\n%s", stdout)
	}
	if n := ordersLeft(); n != 2 {
		t.Fatalf("%d orders left after a refused down, want 2", n)
	}
	if code, stdout, _ := runSyncer(t, ctx, env, "migrate", "status"); code != 0 || strings.Contains(stdout, "pending") {
		t.Errorf("status after a refused down: exit %d:\n%s\nwant every migration applied", code, stdout)
	}

	// One migration at a time, dropping nothing or empty tables: no --yes needed, down to
	// 00005. River's migration is written in Go and declares its tables.
	var all strings.Builder
	for range 20 {
		code, stdout, stderr = runSyncer(t, ctx, env, "migrate", "down")
		if code != 0 {
			t.Fatalf("down: exit %d: %s", code, stderr)
		}
		mustShow(stdout, `^rolled back \d+ `)
		all.WriteString(stdout)
		if strings.HasPrefix(stdout, "rolled back 5 ") {
			break
		}
	}
	mustShow(all.String(), `rolled back 7 `, `drops table\s+river_job\s+0 rows`, `rolled back 6 00006_comments\.sql\n`,
		`rolled back 5 00005_edges\.sql\n\s+drops table\s+api_budget\s+0 rows\n$`)

	code, stdout, stderr = runSyncer(t, ctx, env, "migrate", "down", "--to", "0", "--yes")
	if code != 0 {
		t.Fatalf("down --to 0 --yes: exit %d: %s", code, stderr)
	}
	mustShow(stdout, `rolled back 4 00004_api_tokens\.sql`, `rolled back 1 00001_orders\.sql`, `drops table\s+orders\s+2 rows`)
	var orders *string
	if err := pool.QueryRow(ctx, "SELECT to_regclass('orders')::text").Scan(&orders); err != nil || orders != nil {
		t.Errorf("orders after down --to 0 --yes: %v (%v), want no such table", orders, err)
	}
	if code, stdout, _ := runSyncer(t, ctx, env, "migrate", "down"); code != 0 || stdout != "nothing to roll back\n" {
		t.Errorf("down with nothing applied: exit %d, %q; want 0 and nothing to roll back", code, stdout)
	}
}

func TestMigrateUsageErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": storetest.Migrated(t)}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"down", "up"}, "one action"},
		{[]string{"sideways"}, `not "sideways"`},
		{[]string{"up", "--yes"}, "migrate down only"},
		{[]string{"--to", "1", "status"}, "migrate down only"},
		{[]string{"down", "--to", "-3"}, "--to -3"},
		{[]string{"down", "--to", "x"}, "invalid value"},
		{[]string{"down", "--to", "42"}, "version 42: no migration has this version"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runSyncer(t, context.Background(), env, append([]string{"migrate"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, %q; want 2 and a message with %q", code, stderr, tt.want)
			}
		})
	}
}
