package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
)

// TestVerifyCommand: the table and the JSON of syncer verify, and its exit statuses.
func TestVerifyCommand(t *testing.T) {
	t.Parallel()
	now := time.Now().In(order.Shanghai)
	today := now.Format(time.DateOnly)
	first := now.AddDate(0, 0, -30).Format(time.DateOnly)
	shop, env := shopEnv(t, fetchtest.Options{Seed: 15, Orders: 150, From: now.AddDate(0, 0, -30), To: now, Rate: -1})
	ctx := context.Background()
	if code, stdout, stderr := runSyncer(t, ctx, env, "backfill", "--from", first, "--to", today); code != 0 {
		t.Fatalf("backfill: exit %d\n%s%s", code, stdout, stderr)
	}

	shop.ResetStats()
	code, stdout, stderr := runSyncer(t, ctx, env, "verify")
	calls := shop.Stats().Calls
	if code != 0 || !strings.Contains(stdout, "no anomalies") || calls[fetchtest.EndpointList] != 31 ||
		!strings.Contains(stdout, fmt.Sprintf("; %d API calls\n", calls[fetchtest.EndpointList]+calls[fetchtest.EndpointToken])) {
		t.Errorf("verify of a shop stored whole: exit %d, want 0, 'no anomalies' and one list call per day (%v)\n%s%s", code, calls, stdout, stderr)
	}

	gone := shop.Orders()[0]
	db := st(t, env)
	if _, err := db.Pool().Exec(ctx, `DELETE FROM orders WHERE order_id = $1`, gone.ID); err != nil {
		t.Fatal(err)
	}
	goneDay := gone.Created.In(order.Shanghai).Format(time.DateOnly)

	code, stdout, stderr = runSyncer(t, ctx, env, "verify")
	if code != 4 || !strings.Contains(stderr, "found 1 missing, 0 extra, 0 stale") {
		t.Errorf("verify with a missing order: exit %d, want 4 and the counts on stderr\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"DAY", "STORED", goneDay, "differs", "1 anomalies: 1 missing", "missing  " + gone.ID + "  " + goneDay + "  listed by the API"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table lacks %q:\n%s", want, stdout)
		}
	}

	shop.ResetStats()
	code, stdout, stderr = runSyncer(t, ctx, env, "verify", "--json", "--from", first, "--to", today)
	calls = shop.Stats().Calls
	if code != 4 {
		t.Errorf("verify --json: exit %d, want 4\n%s", code, stderr)
	}
	var rep map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("verify --json is not one JSON object: %v\n%s", err, stdout)
	}
	if keys := sortedKeys(rep); !slices.Equal(keys, []string{"anomalies", "api_calls", "days", "range"}) {
		t.Errorf("verify --json has keys %v", keys)
	}
	var got struct {
		Range     map[string]string   `json:"range"`
		APICalls  int                 `json:"api_calls"`
		Days      []map[string]any    `json:"days"`
		Anomalies []map[string]string `json:"anomalies"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got.Range["from"] != first || got.Range["to"] != today || len(got.Range) != 2 || len(got.Days) != 31 ||
		calls[fetchtest.EndpointList] != 31 || got.APICalls != calls[fetchtest.EndpointList]+calls[fetchtest.EndpointToken] {
		t.Errorf("range %v, %d API calls, %d days; want %s..%s, the %v the shop answered, and 31 days", got.Range, got.APICalls, len(got.Days), first, today, calls)
	}
	for _, d := range got.Days {
		if len(d) != 3 || d["day"] == nil || d["api_total"] == nil || d["stored"] == nil {
			t.Errorf("day %v: want day, api_total and stored", d)
		}
	}
	if len(got.Anomalies) != 1 || len(got.Anomalies[0]) != 4 || got.Anomalies[0]["kind"] != "missing" ||
		got.Anomalies[0]["order_id"] != gone.ID || got.Anomalies[0]["day"] != goneDay || got.Anomalies[0]["detail"] == "" {
		t.Errorf("anomalies %v, want the missing order %s of %s with its detail", got.Anomalies, gone.ID, goneDay)
	}

	// A money anomaly is a warning, unless --strict.
	warned := shop.Orders()[1]
	if _, err := db.Pool().Exec(ctx, `UPDATE order_prices SET gross_total = gross_total + 1 WHERE order_id = $1`, warned.ID); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runSyncer(t, ctx, env, "verify", "--repair")
	if code != 0 || !strings.Contains(stdout, "repaired 2 anomalies") || !strings.Contains(stdout, "no anomalies") {
		t.Errorf("verify --repair: exit %d, want 0, 2 repaired and none left\n%s%s", code, stdout, stderr)
	}
	if _, err := db.Pool().Exec(ctx, `UPDATE order_prices SET gross_total = gross_total + 1 WHERE order_id = $1`, warned.ID); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runSyncer(t, ctx, env, "verify"); code != 0 || !strings.Contains(stdout, "0 missing, 0 extra, 0 stale, 1 money") {
		t.Errorf("verify with a money anomaly: exit %d, want 0 and the warning\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runSyncer(t, ctx, env, "verify", "--strict"); code != 4 || !strings.Contains(stderr, "1 money") {
		t.Errorf("verify --strict with a money anomaly: exit %d, want 4\n%s%s", code, stdout, stderr)
	}

	var verifies int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM sync_verifications WHERE app_id = $1 AND finished_at IS NOT NULL`,
		shop.Options().AppID).Scan(&verifies); err != nil || verifies != 6 {
		t.Errorf("%d verifies recorded, %v; want 6", verifies, err)
	}

	// The verify itself fails: exit 1.
	shop.FailWith(fetchtest.EndpointList, 40004)
	if code, _, stderr := runSyncer(t, ctx, env, "verify", "--json"); code != 1 || !strings.Contains(stderr, "40004") {
		t.Errorf("verify refused by the API: exit %d, want 1\n%s", code, stderr)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestVerifyUsage: every bad input is exit 2 with a message that names it, before any call.
func TestVerifyUsage(t *testing.T) {
	t.Parallel()
	_, env := shopEnv(t, fetchtest.Options{Seed: 16, Orders: 5, Rate: -1})
	tomorrow := time.Now().In(order.Shanghai).AddDate(0, 0, 1).Format(time.DateOnly)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "2026-13-01"}, `--from "2026-13-01": want a day, YYYY-MM-DD`},
		{[]string{"--to", "2026-03-01 10:00:00"}, "verify checks whole days"},
		{[]string{"--from", "2026-03-05", "--to", "2026-03-04"}, "before the first"},
		{[]string{"--to", tomorrow}, "after today"},
		{[]string{"2026-03-01"}, "verify takes no arguments"},
		{[]string{"--days", "3"}, "flag provided but not defined: -days"},
	} {
		code, _, stderr := runSyncer(t, context.Background(), env, append([]string{"verify"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("verify %v: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
