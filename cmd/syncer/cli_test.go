package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"ordersync/fetch"
	"ordersync/order"
	"ordersync/store"
	"ordersync/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with the file testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// oneLine checks that stderr is a single line holding every one of want.
func checkOneLine(t *testing.T, stderr string, want ...string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one line:\n%s", stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr %q lacks %q", stderr, w)
		}
	}
}

// TestHelp checks each command's help against its golden file, and that it lists exactly
// the settings the command takes, each with its variable.
func TestHelp(t *testing.T) {
	t.Parallel()
	// The environment must not show through: help gives defaults, never current values.
	env := map[string]string{"XE_RATE": "fast", "DATABASE_URL": "postgres://bob:hunter2@db.example/x"}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runSyncer(t, context.Background(), env, c.name, "--help")
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			golden(t, "help/"+c.name+".txt", stdout)
			if strings.Contains(stdout, "hunter2") || strings.Contains(stdout, "fast") {
				t.Errorf("the help shows the environment's values:\n%s", stdout)
			}
			for _, o := range options {
				shown := strings.Contains(stdout, "\n  "+o.env+"\n") // a variable with no flag
				if o.flag != "" {
					shown = strings.Contains(stdout, "\n  --"+o.flag+" "+o.arg+" ") && strings.Contains(stdout, "env "+o.env)
				}
				if takes := slices.Contains(o.cmds, c.name); shown != takes {
					t.Errorf("%s shown %v, want %v", o.env, shown, takes)
				}
			}

			code, viaHelp, stderr := runSyncer(t, context.Background(), env, "help", c.name)
			if code != 0 || viaHelp != stdout {
				t.Errorf("help %s: exit %d, stderr %q, and its text differs from --help:\n%s", c.name, code, stderr, viaHelp)
			}
		})
	}
}

// TestEveryOptionNamesRealCommands keeps the option table and the command table in step.
func TestEveryOptionNamesRealCommands(t *testing.T) {
	t.Parallel()
	for _, o := range options {
		if len(o.cmds) == 0 {
			t.Errorf("%s applies to no command", o.env)
		}
		for _, name := range o.cmds {
			if lookup(name) == nil {
				t.Errorf("%s names command %q, which does not exist", o.env, name)
			}
		}
	}
}

func TestUsageNamesEveryCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, stdout, stderr := runSyncer(t, context.Background(), nil, args...)
		if code != 0 || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
		for _, c := range commands {
			if !strings.Contains(stdout, "\n  syncer "+c.name) {
				t.Errorf("%v does not list %s:\n%s", args, c.name, stdout)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	_, version, _ := runSyncer(t, context.Background(), nil, "version")
	code, dashed, stderr := runSyncer(t, context.Background(), nil, "--version")
	if code != 0 || stderr != "" || dashed != version {
		t.Errorf("--version: exit %d, %q%q; want what version says, %q", code, dashed, stderr, version)
	}
	// A test binary has no module version and, here, no VCS stamp.
	if !strings.HasPrefix(version, "syncer ") || !strings.Contains(version, "revision ") ||
		!strings.HasSuffix(version, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n") {
		t.Errorf("version says %q", version)
	}

	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "syncer (devel), revision unknown, " + runtime.Version()},
		{"go run", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"syncer (devel), revision unknown, go1.26.8"},
		{"go build in a checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"},
			Settings: []debug.BuildSetting{
				{Key: "vcs", Value: "git"},
				{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
				{Key: "vcs.time", Value: "2026-11-30T08:00:00Z"},
				{Key: "vcs.modified", Value: "true"},
			}},
			"syncer v1.4.0, revision 0123456789abcdef0123456789abcdef01234567 of 2026-11-30T08:00:00Z with local changes, go1.26.8"},
		{"a clean checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}},
			"syncer v1.4.0, revision abc, go1.26.8"},
	}
	for _, tt := range tests {
		want := tt.want + " " + runtime.GOOS + "/" + runtime.GOARCH
		if got := versionLine(tt.info); got != want {
			t.Errorf("%s: %q, want %q", tt.name, got, want)
		}
	}
}

// TestMistakesTakeOneLine checks that each mistake in a command line or a variable is told
// in one line that names it, with exit status 2, before anything touches a database.
func TestMistakesTakeOneLine(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	api := map[string]string{"XE_APP_ID": "a", "XE_CLIENT_ID": "c", "XE_SECRET_KEY": "s"}
	with := func(extra ...string) map[string]string {
		m := map[string]string{}
		for k, v := range api {
			m[k] = v
		}
		for i := 0; i < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"an unknown command", nil, []string{"frobnicate"}, []string{`unknown command "frobnicate"`, "see 'syncer help'"}},
		{"help on an unknown command", nil, []string{"help", "frobnicate"}, []string{`unknown command "frobnicate"`}},
		{"help on two commands", nil, []string{"help", "sync", "status"}, []string{"help takes one command"}},
		{"an unknown flag", nil, []string{"sync", "--frob"}, []string{"-frob", "see 'syncer sync --help'"}},
		{"a flag of another command", nil, []string{"status", "--schedule", "@hourly"}, []string{"-schedule", "see 'syncer status --help'"}},
		{"a bad flag value", nil, []string{"sync", "--rate", "fast"}, []string{`"fast"`, "-rate", "want a positive number"}},
		{"backfill with an extra argument", nil, []string{"backfill", "--from", "2026-01-01", "--to", "2026-01-31", "extra"},
			[]string{`backfill takes no arguments, not "extra"`, "see 'syncer backfill --help'"}},
		{"sync with an argument", nil, []string{"sync", "now"}, []string{`sync takes no arguments, not "now"`}},
		{"daemon with an argument", nil, []string{"daemon", "start"}, []string{`daemon takes no arguments, not "start"`}},
		{"status with an argument", nil, []string{"status", "all"}, []string{`status takes no arguments, not "all"`}},
		{"report with an argument", nil, []string{"report", "7"}, []string{`report takes no arguments, not "7"`}},
		{"version with an argument", nil, []string{"version", "full"}, []string{`version takes no arguments, not "full"`}},
		{"an empty listener", nil, []string{"daemon", "--http", ""}, []string{`""`, "want HOST:PORT", "off for none"}},
		{"a listener without a port", map[string]string{"HTTP_ADDR": "9090"}, []string{"healthcheck"},
			[]string{`HTTP_ADDR "9090": want HOST:PORT`}},
		{"a report format", nil, []string{"report", "--format", "xml"}, []string{`"xml"`, "want table, csv or json"}},
		{"a report grouping", nil, []string{"report", "--by", "week"}, []string{`"week"`, "want day or goods"}},
		{"report days", nil, []string{"report", "--days", "0"}, []string{"--days 0: want a positive number of days"}},
		{"a bad variable", with("XE_RATE", "fast"), []string{"sync"}, []string{`XE_RATE "fast": want a positive number`}},
		{"a negative overlap", with("SYNC_OVERLAP", "-5m"), []string{"sync"}, []string{`SYNC_OVERLAP "-5m"`}},
		{"a bad log level", with("LOG_LEVEL", "loud"), []string{"status"}, []string{`LOG_LEVEL "loud": want debug, info, warn or error`}},
		{"a secret twice", with("XE_SECRET_KEY_FILE", secret), []string{"sync"}, []string{"set XE_SECRET_KEY or XE_SECRET_KEY_FILE, not both"}},
		{"a missing secret file", map[string]string{"XE_SECRET_KEY_FILE": secret + ".gone"}, []string{"sync"}, []string{"XE_SECRET_KEY_FILE: open "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runSyncer(t, context.Background(), tt.env, tt.args...)
			if code != 2 || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", code, stdout)
			}
			checkOneLine(t, stderr, tt.want...)
		})
	}
}

// TestVariablesOnlyCountForTheirCommands: a variable that a command does not take cannot
// stop it, and a flag replaces a bad variable.
func TestVariablesOnlyCountForTheirCommands(t *testing.T) {
	t.Parallel()
	env := map[string]string{"XE_RATE": "fast"}
	if code, _, stderr := runSyncer(t, context.Background(), env, "version"); code != 0 {
		t.Errorf("version with XE_RATE=fast: exit %d: %s", code, stderr)
	}
	// --help before the check: it shows even while a variable is wrong.
	if code, _, stderr := runSyncer(t, context.Background(), env, "sync", "--help"); code != 0 {
		t.Errorf("sync --help with XE_RATE=fast: exit %d: %s", code, stderr)
	}
	// The flag wins, so the run gets as far as the credentials it lacks.
	code, _, stderr := runSyncer(t, context.Background(), env, "sync", "--rate", "5")
	if code != 2 || !strings.Contains(stderr, "XE_APP_ID") {
		t.Errorf("sync --rate 5 with XE_RATE=fast: exit %d: %s; want the missing credentials", code, stderr)
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	env := map[string]string{"DATABASE_URL": "postgres://ordersync:hunter2@" + addr + "/ordersync_nowhere?sslmode=disable"}
	for _, cmd := range []string{"migrate", "status", "report", "replay"} {
		code, _, stderr := runSyncer(t, context.Background(), env, cmd)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", cmd, code)
		}
		checkOneLine(t, stderr, "syncer: cannot connect to database ordersync_nowhere on "+addr+" as ordersync: connection refused",
			"check that PostgreSQL runs there and that DATABASE_URL names it")
		if strings.Contains(stderr, "hunter2") {
			t.Errorf("%s shows the password: %s", cmd, stderr)
		}
	}
}

// TestUnreachableDatabaseOfTheLibpqDefaults sets the libpq environment, which pgx reads
// from the process: it cannot run in parallel.
func TestUnreachableDatabaseOfTheLibpqDefaults(t *testing.T) {
	host, port, _ := net.SplitHostPort(closedPort(t))
	t.Setenv("PGHOST", host)
	t.Setenv("PGPORT", port)
	t.Setenv("PGUSER", "ordersync_reader")
	t.Setenv("PGDATABASE", "")
	code, _, stderr := runSyncer(t, context.Background(), nil, "status")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	// Without a database named, the server would pick the user's name.
	checkOneLine(t, stderr, "cannot connect to database ordersync_reader on "+net.JoinHostPort(host, port)+" as ordersync_reader",
		"DATABASE_URL is not set", "connection refused", "start PostgreSQL there, or set DATABASE_URL")
}

// TestStaleSchemaOfTheLibpqDefaults: connected through the libpq environment, the error
// names the database it chose.
func TestStaleSchemaOfTheLibpqDefaults(t *testing.T) {
	c, err := pgconn.ParseConfig(storetest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGHOST", c.Host)
	t.Setenv("PGPORT", strconv.Itoa(int(c.Port)))
	t.Setenv("PGUSER", c.User)
	t.Setenv("PGPASSWORD", c.Password)
	t.Setenv("PGDATABASE", c.Database)
	code, _, stderr := runSyncer(t, context.Background(), nil, "status")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	checkOneLine(t, stderr, "database "+c.Database+" on ", " as "+c.User+" (chosen by the libpq environment",
		"run `syncer migrate`")
}

// TestUnreachableAPI checks the line a run ends with when the API cannot be reached at all,
// from the error the real client returns.
func TestUnreachableAPI(t *testing.T) {
	t.Parallel()
	base := "http://" + closedPort(t)
	c, err := fetch.New(fetch.Config{BaseURL: base, AppID: "a", ClientID: "c", SecretKey: "s3cret-key",
		MaxAttempts: 2, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.OrderDetail(context.Background(), "E1")
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	// As the pipeline wraps it.
	err = fmt.Errorf("list orders update_time 2026-11-01 00:00:00..2026-11-30 23:59:59 page 1: %w", err)
	want := regexp.MustCompile("^cannot reach the Xiaoe API at " + regexp.QuoteMeta(base) +
		`: connection refused \(2 attempts in [0-9.]+m?s\); check XE_BASE_URL and this machine's network$`)
	got := oneLine(err)
	if !want.MatchString(got) {
		t.Errorf("one shop:\n got %s\nwant %s", got, want)
	}
	twoShops := errors.Join(fmt.Errorf("shop a: %w", err), errors.New("shop b: refused"))
	if got := oneLine(twoShops); !strings.HasSuffix(got, "; shop b: refused") || !want.MatchString(strings.TrimSuffix(got, "; shop b: refused")) {
		t.Errorf("two shops: %s", got)
	}
	var stderr strings.Builder
	if code := exitCode(err, &stderr); code != 1 || stderr.String() != "syncer: "+got+"\n" {
		t.Errorf("exit %d, %q", code, stderr.String())
	}
}

// The report fixture: three orders of two shops paid yesterday and two refunds today,
// Shanghai time.
//
//	o_gift   shop a, paid yesterday 10:00: 1 × 礼盒A（精装） 红色 at 100.00, coupon 10.00,
//	         paid 90.00; refunded 5.00 today, naming no goods.
//	o_pen    shop a, paid yesterday 11:01: 2 × Pen at 15.00, shipping 8.00, paid 38.00;
//	         one pen, 15.00, refunded today.
//	o_other  shop b, paid yesterday 12:00: 1 × Pen, the same product ids as shop a's, 15.00.
func reportDB(t *testing.T) map[string]string {
	t.Helper()
	now := time.Now().In(order.Shanghai)
	yesterday := now.AddDate(0, 0, -1).Format(time.DateOnly)
	today := now.Format(time.DateOnly)
	type obj = map[string]any
	goods := func(spu, sku, name, spec string, qty, unit, actual int) obj {
		return obj{"spu_id": spu, "sku_id": sku, "spu_type": "ENT", "goods_name": name, "goods_spec_description": spec,
			"quantity": qty, "unit_price": unit, "actual_fee": actual}
	}
	refund := func(id string, amount int, at string, goods any) obj {
		return obj{"after_sale_id": id, "refund_amount": amount, "refund_type": 2, "refund_type_description": "部分退款",
			"refund_state": 2, "refund_state_description": "退款成功", "refund_time": at, "goods_info": goods}
	}
	detail := func(shop, id, paidAt string, price obj, line obj, refunds ...obj) obj {
		return obj{
			"order_info": obj{"app_id": shop, "order_id": id, "user_id": "u_" + id, "order_state": 4,
				"order_state_description": "已完成", "order_create_time": paidAt, "order_pay_time": paidAt},
			"price_info":   price,
			"payment_info": obj{"transaction_id": "tx_" + id},
			"goods_info":   obj{"goods_list": []obj{line}, "has_result": true},
			"internal_extra_info": obj{
				"refund_info": obj{"refund_records": refunds, "has_result": len(refunds) > 0},
			},
		}
	}
	price := func(gross, shipment, collectibles int) obj {
		return obj{"gross_total": gross, "shipment_fee": shipment, "collectibles": collectibles,
			"earned_revenue": collectibles, "has_result": true}
	}
	details := map[string]obj{
		"o_gift": detail("app_shop_a", "o_gift", yesterday+" 10:00:00", price(10000, 0, 9000),
			goods("SPU_GIFT", "SKU_GIFT_RED", "礼盒A（精装）", "红色", 1, 10000, 9000),
			refund("A_GIFT", 500, today+" 00:10:00", []any{})),
		"o_pen": detail("app_shop_a", "o_pen", yesterday+" 11:01:00", price(3000, 800, 3800),
			goods("SPU_PEN", "SKU_PEN", "Pen", "", 2, 1500, 3000),
			refund("A_PEN", 1500, today+" 00:20:00", goods("SPU_PEN", "SKU_PEN", "Pen", "", 1, 1500, 1500))),
		"o_other": detail("app_shop_b", "o_other", yesterday+" 12:00:00", price(1500, 0, 1500),
			goods("SPU_PEN", "SKU_PEN", "Pen", "", 1, 1500, 1500)),
	}
	var batch store.Batch
	for id, d := range details {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		p, err := order.Prepare(order.Payload{OrderID: id, UpdateTime: now, Detail: b})
		if err != nil {
			t.Fatalf("prepare %s: %v", id, err)
		}
		batch.Orders = append(batch.Orders, p)
	}
	url := storetest.Migrated(t)
	s, err := store.New(context.Background(), url, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"DATABASE_URL": url, "LOG_FORMAT": "text", "LOG_LEVEL": "warn"}
}

// days replaces the report's dates, which move with the clock, by yesterday and today.
func days(s string) string {
	now := time.Now().In(order.Shanghai)
	s = strings.ReplaceAll(s, now.AddDate(0, 0, -1).Format(time.DateOnly), "YESTERDAY ")
	return strings.ReplaceAll(s, now.Format(time.DateOnly), "TODAY     ")
}

// columnEnds returns, for each line, the display columns at which its runs of non-spaces
// end. It counts Han characters and fullwidth forms as two columns, as a terminal draws
// them, on its own: the fixture holds no other wide character.
func columnEnds(line string) []int {
	var ends []int
	col, inWord := 0, false
	for _, r := range line {
		if r == ' ' {
			if inWord {
				ends = append(ends, col)
			}
			inWord = false
		} else {
			inWord = true
		}
		col++
		if unicode.Is(unicode.Han, r) || (r >= 0xFF01 && r <= 0xFF60) {
			col++
		}
	}
	if inWord {
		ends = append(ends, col)
	}
	return ends
}

func TestReport(t *testing.T) {
	t.Parallel()
	env := reportDB(t)
	ctx := context.Background()

	t.Run("table by day", func(t *testing.T) {
		code, stdout, stderr := runSyncer(t, ctx, env, "report", "--days", "3")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		golden(t, "report/day.txt", days(stdout))
	})

	t.Run("table by goods", func(t *testing.T) {
		code, stdout, stderr := runSyncer(t, ctx, env, "report", "--days", "3", "--by", "goods")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		golden(t, "report/goods.txt", stdout)
		// Every line's numbers end in the same display columns as the header's, the
		// Chinese name's line included.
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		header := columnEnds(lines[0])
		numbers := header[len(header)-7:] // orders … net
		for _, line := range lines[2:] {
			ends := columnEnds(line)
			if got := ends[len(ends)-7:]; !slices.Equal(got, numbers) {
				t.Errorf("%q: columns end at %v, the header's at %v", line, got, numbers)
			}
		}
		if !strings.Contains(stdout, "礼盒A（精装）") || !strings.Contains(stdout, "(refunds naming no goods)") {
			t.Errorf("goods missing:\n%s", stdout)
		}
	})

	t.Run("csv", func(t *testing.T) {
		code, stdout, stderr := runSyncer(t, ctx, env, "report", "--days", "3", "--format", "csv")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		records, err := csv.NewReader(strings.NewReader(days(stdout))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{
			{"app_id", "day", "orders_placed", "orders_paid", "gross_yuan", "shipment_yuan", "discounts_yuan", "collected_yuan", "refunds", "refunded_yuan", "net_yuan"},
			{"app_shop_a", "YESTERDAY ", "2", "2", "130.00", "8.00", "10.00", "128.00", "0", "0.00", "128.00"},
			{"app_shop_b", "YESTERDAY ", "1", "1", "15.00", "0.00", "0.00", "15.00", "0", "0.00", "15.00"},
			{"app_shop_a", "TODAY     ", "0", "0", "0.00", "0.00", "0.00", "0.00", "2", "20.00", "-20.00"},
		}
		if diff := cmp.Diff(want, records); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}

		code, stdout, stderr = runSyncer(t, ctx, env, "report", "--days", "3", "--format", "csv", "--shop", "app_shop_b")
		if code != 0 {
			t.Fatalf("one shop: exit %d: %s", code, stderr)
		}
		records, err = csv.NewReader(strings.NewReader(days(stdout))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([][]string{want[0], want[2]}, records); diff != "" {
			t.Errorf("--shop app_shop_b (-want +got):\n%s", diff)
		}

		code, stdout, stderr = runSyncer(t, ctx, env, "report", "--days", "3", "--format", "csv", "--by", "goods")
		if code != 0 {
			t.Fatalf("goods: exit %d: %s", code, stderr)
		}
		records, err = csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want = [][]string{
			{"app_id", "spu_id", "sku_id", "goods_name", "goods_spec_description", "orders", "quantity", "gross_yuan", "revenue_yuan", "refunds", "refunded_yuan", "net_yuan"},
			{"app_shop_a", "SPU_GIFT", "SKU_GIFT_RED", "礼盒A（精装）", "红色", "1", "1", "100.00", "90.00", "0", "0.00", "90.00"},
			{"app_shop_a", "SPU_PEN", "SKU_PEN", "Pen", "", "1", "2", "30.00", "30.00", "1", "15.00", "15.00"},
			{"app_shop_a", "", "", "", "", "0", "0", "0.00", "0.00", "1", "5.00", "-5.00"},
			{"app_shop_b", "SPU_PEN", "SKU_PEN", "Pen", "", "1", "1", "15.00", "15.00", "0", "0.00", "15.00"},
		}
		if diff := cmp.Diff(want, records); diff != "" {
			t.Errorf("goods (-want +got):\n%s", diff)
		}

		code, stdout, stderr = runSyncer(t, ctx, env, "report", "--days", "3", "--format", "csv", "--by", "goods", "--shop", "app_shop_b")
		if code != 0 {
			t.Fatalf("goods of one shop: exit %d: %s", code, stderr)
		}
		records, err = csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([][]string{want[0], want[4]}, records); diff != "" {
			t.Errorf("goods of --shop app_shop_b (-want +got):\n%s", diff)
		}
	})

	t.Run("json", func(t *testing.T) {
		code, stdout, stderr := runSyncer(t, ctx, env, "report", "--days", "3", "--format", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got struct {
			From, To, Unit string
			Days           []store.DailySales
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("%v:\n%s", err, stdout)
		}
		now := time.Now().In(order.Shanghai)
		if got.Unit != "fen" || got.To != now.Format(time.DateOnly) || got.From != now.AddDate(0, 0, -2).Format(time.DateOnly) {
			t.Errorf("from %s to %s in %s; want the last three days in fen", got.From, got.To, got.Unit)
		}
		if len(got.Days) != 3 || got.Days[0].AppID != "app_shop_a" || got.Days[0].Collected != 12800 ||
			got.Days[1].AppID != "app_shop_b" || got.Days[2].Refunded != 2000 {
			t.Errorf("days: %+v", got.Days)
		}
		for _, d := range got.Days {
			if d.Gross+d.Shipment-d.Discounts != d.Collected {
				t.Errorf("%s: gross %d + shipment %d - discounts %d != collected %d", d.Day, d.Gross, d.Shipment, d.Discounts, d.Collected)
			}
		}

		code, stdout, stderr = runSyncer(t, ctx, env, "report", "--days", "3", "--format", "json", "--by", "goods")
		if code != 0 {
			t.Fatalf("goods: exit %d: %s", code, stderr)
		}
		var goods struct{ Goods []map[string]any }
		if err := json.Unmarshal([]byte(stdout), &goods); err != nil {
			t.Fatalf("%v:\n%s", err, stdout)
		}
		if len(goods.Goods) != 4 || goods.Goods[0]["goods_name"] != "礼盒A（精装）" || goods.Goods[0]["revenue"] != 9000.0 ||
			goods.Goods[2]["sku_id"] != nil || goods.Goods[2]["refunded"] != 500.0 || goods.Goods[3]["app_id"] != "app_shop_b" {
			t.Errorf("goods: %v", goods.Goods)
		}
	})
}

func TestDisplayWidth(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int{
		"":           0,
		"Pen":        3,
		"礼盒A":        5,
		"（精装）":       8,
		"café":       4,
		"cafe\u0301": 4, // e and a combining acute accent
		"a\u200bb":   2, // a zero-width space
		"ｶﾀｶﾅ":       4, // halfwidth katakana
		"🎁":          2,
		"×·—":        3, // ambiguous: narrow
	} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}
