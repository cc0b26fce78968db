package main

import (
	"context"
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

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"ordersync/fetch"
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
