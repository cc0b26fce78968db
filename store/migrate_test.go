package store

import (
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"ordersync/migrations"
	"ordersync/order"
)

func describe(ds []dropped) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.kind+" "+strings.Join(d.name, "."))
	}
	return out
}

// TestDownDropsOfEveryMigration reads the Down section of every migration file: migrate
// down lists exactly these before it drops anything. A new file needs its row here.
func TestDownDropsOfEveryMigration(t *testing.T) {
	// 00001 creates the table map's tables and the payloads, and its Down drops them all.
	orderTables := []string{"table order_payloads"}
	for _, tb := range order.Tables {
		orderTables = append(orderTables, "table "+tb.Name)
	}
	want := map[string][]string{
		"00001_orders.sql":      orderTables,
		"00002_bookkeeping.sql": {"table sync_failures", "table sync_windows", "table sync_runs"},
		"00003_reports.sql": {"view order_lines", "view report_carriers", "view report_packages",
			"view report_refund_goods", "view report_refunds", "view report_goods_sales",
			"view report_daily_sales", "view report_orders"},
		"00004_api_tokens.sql": {"table api_tokens"},
		"00005_edges.sql":      {"table api_budget"},
		"00006_comments.sql":   nil,
		"00008_reports_by_shop.sql": {"view order_lines", "view report_carriers", "view report_packages",
			"view report_refund_goods", "view report_refunds", "view report_goods_sales",
			"view report_daily_sales", "view report_orders"},
		"00009_verifications.sql":  {"table sync_verifications"},
		"00010_run_history.sql":    nil,
		"00011_abandoned_runs.sql": nil,
	}
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			w, ok := want[file]
			if !ok {
				t.Fatalf("no expected drops for %s: add its row", file)
			}
			b, err := fs.ReadFile(migrations.FS, file)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := parseDownDrops(string(b))
			if err != nil {
				t.Fatal(err)
			}
			got := describe(ds)
			slices.Sort(got)
			w = slices.Sorted(slices.Values(w))
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("drops (-want +got):\n%s", diff)
			}
		})
	}
	for file := range want {
		if !slices.Contains(files, file) {
			t.Errorf("%s is expected but is not a migration file", file)
		}
	}
}

func TestParseDownDrops(t *testing.T) {
	tests := []struct {
		name, sql string
		want      []string
		err       string // a part of the error, when one is expected
	}{
		{name: "no down section", sql: "-- +goose Up\nCREATE TABLE a (x int);\n"},
		{
			name: "comma lists and IF EXISTS; drops in Up are not rolled back",
			sql:  "-- +goose Up\nDROP TABLE old;\nCREATE TABLE a (x int);\n-- +goose Down\nDROP TABLE IF EXISTS a, b ,c;\ndrop table D\n",
			want: []string{"table a", "table b", "table c", "table d"},
		},
		{
			name: "views, quoted and qualified names",
			sql: "--  +goose DOWN\nDROP VIEW \"Daily Sales\";\nDROP MATERIALIZED VIEW IF EXISTS reports.totals RESTRICT;\n" +
				"DROP TABLE Public.\"X\"\"y\";\nDROP INDEX a_idx;\nALTER TABLE t DROP COLUMN c;\n",
			want: []string{"view Daily Sales", "materialized view reports.totals", `table public.X"y`},
		},
		{
			name: "comments and strings are not statements",
			sql: "-- +goose Down\n-- DROP TABLE orders; is 00001's\n/* DROP TABLE x /* nested */ DROP TABLE y */\n" +
				"UPDATE t SET note = 'it''s drop table z';\nDROP TABLE \"--w\";\n",
			want: []string{"table --w"},
		},
		{name: "cascade", sql: "-- +goose Down\nDROP TABLE orders CASCADE;\n", err: `"DROP TABLE orders CASCADE"`},
		{name: "schema", sql: "-- +goose Down\nDROP SCHEMA reports;\n", err: "DROP SCHEMA reports"},
		{name: "owned", sql: "-- +goose Down\nDROP OWNED BY bob;\n", err: "DROP OWNED BY bob"},
		{name: "do block", sql: "-- +goose Down\nDO $$ BEGIN EXECUTE 'DROP TABLE ' || 'x'; END $$;\n", err: "dollar-quoted"},
		{name: "unterminated string", sql: "-- +goose Down\nDROP TABLE a;\nSELECT 'oops;\n", err: "unterminated ' quote"},
		{name: "unterminated comment", sql: "-- +goose Down\n/* DROP TABLE a;\n", err: "unterminated /* comment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := parseDownDrops(tt.sql)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, describe(ds)); diff != "" {
				t.Errorf("drops (-want +got):\n%s", diff)
			}
		})
	}
}
