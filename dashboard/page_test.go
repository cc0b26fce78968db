package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"ordersync/store/storetest"
)

func fetchPage(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestEmptyDatabase(t *testing.T) {
	t.Parallel()
	base := serve(t, storetest.Store(t), "")
	code, body := fetchPage(t, base+"/")
	if code != http.StatusOK || !strings.Contains(body, "No shop has synced into this database yet") {
		t.Errorf("an empty database: %d\n%s", code, body)
	}
}

// TestHealthFromTheBookkeeping fills the bookkeeping tables by hand, as a sync that went
// wrong would, and reads them back off the page, escaped.
func TestHealthFromTheBookkeeping(t *testing.T) {
	t.Parallel()
	st := storetest.Store(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := st.Pool().Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO sync_runs (app_id, kind, status, api_calls, error, finished_at)
		VALUES ('appbroken0001', 'sync', 'failed', 42, '<script>alert(1)</script> burst of calls refused', now())`)
	exec(`INSERT INTO sync_runs (app_id, kind, status, api_calls, idle_runs, started_at, finished_at)
		VALUES ('appbroken0001', 'sync', 'ok', 13, 12, now() - interval '1 minute', now())`)
	exec(`INSERT INTO sync_failures (app_id, order_id, error, attempts) VALUES ('appbroken0001', 'E2026<b>1</b>', 'detail: not JSON', 3)`)
	exec(`INSERT INTO sync_verifications (app_id, range_from, range_to, status, missing, stale, finished_at)
		VALUES ('appbroken0001', '2026-11-01', '2026-11-30', 'differs', 2, 1, now())`)
	base := serve(t, st, "")

	code, body := fetchPage(t, base+"/")
	if code != http.StatusOK {
		t.Fatalf("%d\n%s", code, body)
	}
	for _, want := range []string{
		`<td data-figure="queue">1</td>`,
		`<td data-figure="day-calls">55</td>`,
		`1 runs, 1 orders`,
		`1m0s <small>with 12 idle ticks</small>`,
		`no sync yet`,
		`&lt;script&gt;alert(1)&lt;/script&gt; burst of calls refused`,
		`E2026&lt;b&gt;1&lt;/b&gt;`,
		`detail: not JSON`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<b>1</b>") {
		t.Errorf("the page carries a stored error's markup unescaped")
	}
	if !strings.Contains(body, `<strong data-figure="anomalies">3</strong> anomalies: 2 missing, 0 extra, 1 stale`) {
		t.Errorf("the page does not show the last verify's anomalies")
	}

	if code, body := fetchPage(t, base+"/?from=2026-03-05&to=2026-03-01"); code != http.StatusBadRequest || !strings.Contains(body, "from 2026-03-05 is after to 2026-03-01") {
		t.Errorf("a backwards range: %d\n%s", code, body)
	}
	if code, _ := fetchPage(t, base+"/?shop=appnosuchshop"); code != http.StatusNotFound {
		t.Errorf("an unknown shop: %d, want 404", code)
	}
}
