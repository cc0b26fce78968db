package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"ordersync/fetch"
	"ordersync/pipeline"
	"ordersync/schedule"
)

// config is every setting, read from the environment and overridden by flags.
type config struct {
	DatabaseURL string
	AppID       string
	ClientID    string
	SecretKey   fetch.Secret
	BaseURL     string
	Schedule    string
	Rate        float64
	Workers     int
	Overlap     time.Duration
	Lookback    time.Duration
	HTTPAddr    string
	LogFormat   string
	LogLevel    string

	ShopsFile       string
	Shop            string
	MaxWorkers      int
	SyncTimeout     time.Duration
	BackfillTimeout time.Duration
	DashboardToken  string
	VerifySchedule  string

	// values are the settings of the command being run.
	values []*optionValue
}

// option is one setting: its variable, its flag, the commands that take it, its default
// and its help.
type option struct {
	env  string
	flag string // none for secrets: a command line is visible to every user of the machine
	arg  string // the flag's argument in the help: URL, N, …
	def  string // the default, as the variable would say it
	help string
	// file says that the variable's _FILE twin may name a file holding the value instead.
	file bool
	cmds []string
	set  func(c *config, v string) error
}

// The commands that take each group of settings. A setting names the commands that use it,
// so that each command's flags and help show what it uses and nothing else.
var (
	databaseCommands = []string{"migrate", "sync", "backfill", "daemon", "order", "replay", "status", "report", "verify", "dashboard", "demo"}
	apiCommands      = []string{"sync", "backfill", "daemon", "order", "verify"}
	syncCommands     = []string{"sync", "daemon"}
	shopCommands     = []string{"sync", "backfill", "daemon", "order", "replay", "status", "report", "verify", "dashboard"}
	httpCommands     = []string{"daemon", "dashboard", "demo", "healthcheck"}
	logCommands      = []string{"migrate", "sync", "backfill", "daemon", "order", "replay", "status", "report", "verify", "dashboard", "demo", "healthcheck", "fakeshop"}
)

var options = []option{
	{env: "DATABASE_URL", flag: "database-url", arg: "URL", cmds: databaseCommands,
		help: "the PostgreSQL database; default: the libpq environment (PGHOST, PGDATABASE, …)",
		set:  func(c *config, v string) error { c.DatabaseURL = v; return nil }},
	{env: "XE_APP_ID", flag: "app-id", arg: "ID", cmds: apiCommands, help: "the shop's app_id",
		set: func(c *config, v string) error { c.AppID = v; return nil }},
	{env: "XE_CLIENT_ID", flag: "client-id", arg: "ID", cmds: apiCommands, help: "the API client_id",
		set: func(c *config, v string) error { c.ClientID = v; return nil }},
	{env: "XE_SECRET_KEY", file: true, cmds: apiCommands, help: "the API secret key; or XE_SECRET_KEY_FILE, a file holding it",
		set: func(c *config, v string) error { c.SecretKey = fetch.Secret(v); return nil }},
	{env: "XE_BASE_URL", flag: "base-url", arg: "URL", def: "https://api.xiaoe-tech.com", cmds: apiCommands,
		help: "the API's base URL",
		set:  func(c *config, v string) error { c.BaseURL = v; return nil }},
	{env: "SYNC_SCHEDULE", flag: "schedule", arg: "SPEC", def: "*/5 * * * *", cmds: []string{"daemon"},
		help: "the cron schedule of the syncs, in Asia/Shanghai",
		set:  func(c *config, v string) error { c.Schedule = v; return nil }},
	{env: "XE_RATE", flag: "rate", arg: "N", def: "20", cmds: apiCommands, help: "API calls per second per endpoint",
		set: func(c *config, v string) (err error) { c.Rate, err = positiveFloat(v); return err }},
	{env: "SYNC_WORKERS", flag: "workers", arg: "N", def: "8", cmds: apiCommands, help: "detail calls in flight at once",
		set: func(c *config, v string) (err error) { c.Workers, err = positiveInt(v); return err }},
	{env: "SYNC_OVERLAP", flag: "overlap", arg: "DURATION", def: "10m", cmds: syncCommands,
		help: "how far before the checkpoint a sync starts again",
		set: func(c *config, v string) (err error) {
			// A negative overlap would leave a gap after each checkpoint.
			if c.Overlap, err = time.ParseDuration(v); err != nil || c.Overlap < 0 {
				return errors.New("want a duration such as 10m, or 0")
			}
			return nil
		}},
	{env: "SYNC_LOOKBACK", flag: "lookback", arg: "DURATION", def: "744h", cmds: syncCommands,
		help: "where the first sync starts when there is no checkpoint",
		set:  func(c *config, v string) (err error) { c.Lookback, err = positiveDuration(v); return err }},
	{env: "HTTP_ADDR", flag: "http", arg: "ADDR", def: "127.0.0.1:9090", cmds: httpCommands,
		help: "the listener of the daemon (/, /healthz, /metrics, /riverui/) or of the dashboard alone: HOST:PORT (:PORT for every interface), or off for none",
		set:  func(c *config, v string) (err error) { c.HTTPAddr, err = listenAddr(v); return err }},
	{env: "SYNC_SHOPS_FILE", flag: "shops", arg: "FILE", cmds: shopCommands,
		help: "a TOML file of [[shop]] entries, for several shops; default: the one shop of XE_APP_ID",
		set:  func(c *config, v string) error { c.ShopsFile = v; return nil }},
	{env: "SYNC_SHOP", flag: "shop", arg: "APP_ID", cmds: shopCommands, help: "act on this shop (its app_id) only",
		set: func(c *config, v string) error { c.Shop = v; return nil }},
	{env: "SYNC_MAX_WORKERS", flag: "max-workers", arg: "N", def: "10", cmds: []string{"daemon"},
		help: "the daemon's jobs running at once on this replica",
		set:  func(c *config, v string) (err error) { c.MaxWorkers, err = positiveInt(v); return err }},
	{env: "SYNC_TIMEOUT", flag: "sync-timeout", arg: "DURATION", def: "10m", cmds: []string{"daemon"},
		help: "the longest a daemon's sync job may run",
		set:  func(c *config, v string) (err error) { c.SyncTimeout, err = positiveDuration(v); return err }},
	{env: "BACKFILL_TIMEOUT", flag: "backfill-timeout", arg: "DURATION", def: "2h", cmds: []string{"daemon"},
		help: "the longest a daemon's backfill window job may run",
		set:  func(c *config, v string) (err error) { c.BackfillTimeout, err = positiveDuration(v); return err }},
	{env: "VERIFY_SCHEDULE", flag: "verify-schedule", arg: "SPEC", cmds: []string{"daemon"},
		help: "when the daemon verifies each shop's last 31 days against the API (a cron spec, Asia/Shanghai); default: never",
		set: func(c *config, v string) error {
			if err := schedule.ValidateSpec(v); err != nil {
				return err
			}
			c.VerifySchedule = v
			return nil
		}},
	{env: "DASHBOARD_TOKEN", cmds: []string{"daemon", "dashboard", "demo"}, help: "the operator's token for the dashboard and River UI: required when set, and on any address but loopback",
		set: func(c *config, v string) error { c.DashboardToken = v; return nil }},
	{env: "LOG_FORMAT", flag: "log-format", arg: "FORMAT", def: "auto", cmds: logCommands,
		help: "text, json, or auto: text on a terminal, JSON otherwise",
		set:  func(c *config, v string) (err error) { c.LogFormat, err = oneOf(v, "text", "json", "auto"); return err }},
	{env: "LOG_LEVEL", flag: "log-level", arg: "LEVEL", def: "info", cmds: logCommands, help: "debug, info, warn or error",
		set: func(c *config, v string) error {
			if _, err := parseLevel(v); err != nil {
				return err
			}
			c.LogLevel = v
			return nil
		}},
}

// optionValue is a setting as a flag.Value. Its text starts as the default, so that the
// flag's DefValue is the default whatever the environment says.
type optionValue struct {
	o    *option
	c    *config
	text string
	// err is what is wrong with the variable's value, until a flag replaces it.
	err error
}

func (v *optionValue) String() string {
	if v == nil { // the flag package may call String on a zero value
		return ""
	}
	return v.text
}

func (v *optionValue) Set(s string) error {
	if err := v.o.set(v.c, s); err != nil {
		return err
	}
	v.text, v.err = s, nil
	return nil
}

// fromEnv takes the value of the setting's variable, or of the file its _FILE twin names.
func (v *optionValue) fromEnv(getenv func(string) string) {
	s, file := getenv(v.o.env), ""
	if v.o.file {
		file = getenv(v.o.env + "_FILE")
	}
	switch {
	case s != "" && file != "":
		v.err = usagef("set %s or %s_FILE, not both", v.o.env, v.o.env)
		return
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			v.err = usagef("%s_FILE: %v", v.o.env, err)
			return
		}
		if s = strings.TrimSpace(string(b)); s == "" {
			v.err = usagef("%s_FILE: %s is empty", v.o.env, file)
			return
		}
	case s == "":
		return
	}
	if err := v.Set(s); err != nil {
		v.err = usagef("%s %q: %v", v.o.env, s, err)
	}
}

// loadConfig gives every setting its default, then reads the variables of the settings
// that command cmd takes and registers those as flags of fs, so that flags override the
// environment. The caller parses fs, then calls check.
func loadConfig(cmd string, fs *flag.FlagSet, getenv func(string) string) *config {
	c := &config{}
	for i := range options {
		o := &options[i]
		// Code that several commands share reads settings its command may not take.
		if o.def != "" {
			if err := o.set(c, o.def); err != nil {
				panic(fmt.Sprintf("the default of %s: %v", o.env, err))
			}
		}
		if !slices.Contains(o.cmds, cmd) {
			continue
		}
		v := &optionValue{o: o, c: c, text: o.def}
		if o.flag != "" {
			fs.Var(v, o.flag, o.help)
		}
		v.fromEnv(getenv)
		c.values = append(c.values, v)
	}
	return c
}

// check reports a variable whose value is wrong and was not replaced by a flag. It runs
// after the flags are parsed, so that --help works whatever the environment holds.
func (c *config) check() error {
	for _, v := range c.values {
		if v.err != nil {
			return v.err
		}
	}
	return nil
}

// usageError is a mistake in the command line or the configuration: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

var errHelp = errors.New("help")

func positiveFloat(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 1) {
		return 0, errors.New("want a positive number")
	}
	return f, nil
}

func positiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive whole number")
	}
	return n, nil
}

func positiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, errors.New("want a positive duration such as 10m or 744h")
	}
	return d, nil
}

// listenAddr checks a listener's address. An empty one would listen on every interface,
// which nobody means by leaving it out.
func listenAddr(v string) (string, error) {
	if v == "off" {
		return v, nil
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		return "", errors.New("want HOST:PORT such as 127.0.0.1:9090, :PORT for every interface, or off for none")
	}
	return v, nil
}

func oneOf(v string, words ...string) (string, error) {
	if !slices.Contains(words, v) {
		return "", fmt.Errorf("want %s", orList(words))
	}
	return v, nil
}

// orList says "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func parseLevel(v string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(v)); err != nil {
		return 0, errors.New("want debug, info, warn or error")
	}
	return level, nil
}

// choice is a flag that takes one of a few words.
type choice struct {
	value string
	words []string
}

func newChoice(fs *flag.FlagSet, name, usage string, words ...string) *choice {
	c := &choice{value: words[0], words: words}
	fs.Var(c, name, usage)
	return c
}

func (c *choice) String() string {
	if c == nil {
		return ""
	}
	return c.value
}

func (c *choice) Set(s string) (err error) {
	c.value, err = oneOf(s, c.words...)
	return err
}

// needAPI checks the settings that calling the API needs.
func (c *config) needAPI() error {
	var missing []string
	if c.AppID == "" {
		missing = append(missing, "XE_APP_ID")
	}
	if c.ClientID == "" {
		missing = append(missing, "XE_CLIENT_ID")
	}
	if c.SecretKey == "" {
		missing = append(missing, "XE_SECRET_KEY")
	}
	if len(missing) > 0 {
		return usagef("missing configuration: set %s (the shop's API credentials from the Xiaoe cloud console)", strings.Join(missing, ", "))
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("XE_BASE_URL %q is not an http(s) URL", c.BaseURL)
	}
	return nil
}

// logger builds the logger: text on a terminal, JSON otherwise, unless told.
func (c *config) logger(stderr io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(c.LogLevel)
	if err != nil {
		return nil, usagef("LOG_LEVEL %q: %v", c.LogLevel, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, opts)), nil
	case "auto", "":
		if isTerminal(stderr) {
			return slog.New(slog.NewTextHandler(stderr, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(stderr, opts)), nil
	}
	return nil, usagef("LOG_FORMAT %q: want text, json or auto", c.LogFormat)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// cmdHelp shows the commands, or one command's help.
func cmdHelp(ctx context.Context, e *env, args []string) error {
	if err := e.parse(args); err != nil {
		return err
	}
	switch e.flags.NArg() {
	case 0:
		fmt.Fprint(e.stdout, usage())
		return nil
	case 1:
		if lookup(e.flags.Arg(0)) == nil {
			return usagef("unknown command %q; see 'syncer help'", e.flags.Arg(0))
		}
		return run(ctx, []string{e.flags.Arg(0), "--help"}, e.getenv, e.stdout, e.stderr)
	}
	return usagef("help takes one command, not %d; see 'syncer help'", e.flags.NArg())
}

// printHelp prints what 'syncer CMD --help' shows: the synopsis, what the command does, and
// the flags it takes with their defaults, each setting with the variable that also sets it.
func printHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	// The command's own flags, then its settings in the table's order.
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := f.Value.(*optionValue); !ok {
			flags = append(flags, f)
		}
	})
	var envOnly []*option
	for i := range options {
		switch o := &options[i]; {
		case !slices.Contains(o.cmds, c.name):
		case o.flag == "":
			envOnly = append(envOnly, o)
		default:
			flags = append(flags, fs.Lookup(o.flag))
		}
	}
	synopsis := strings.TrimSpace("syncer " + c.name + " " + c.args)
	if len(flags) > 0 {
		synopsis += " [flags]"
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", synopsis, wrap(c.help, 90, ""))
	if len(flags) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		names, width := make([]string, len(flags)), 0
		for i, f := range flags {
			names[i] = strings.TrimSpace("--" + f.Name + " " + flagArg(f))
			width = max(width, len(names[i]))
		}
		for i, f := range flags {
			_, usage := flag.UnquoteUsage(f) // without the `quotes` of an argument's name
			line := strings.TrimRight(fmt.Sprintf("  %-*s  %s", width, names[i], flagFacts(f)), " ")
			fmt.Fprintf(w, "%s\n%s\n", line, wrap(usage, 90, "        "))
		}
	}
	if len(envOnly) > 0 {
		fmt.Fprint(w, "\nEnvironment only:\n")
		for _, o := range envOnly {
			fmt.Fprintf(w, "  %s\n%s\n", o.env, wrap(o.help, 90, "        "))
		}
	}
}

// flagArg is the placeholder of a flag's argument in the help, none for a boolean.
func flagArg(f *flag.Flag) string {
	switch v := f.Value.(type) {
	case *optionValue:
		return v.o.arg
	case *choice:
		return strings.Join(v.words, "|")
	}
	name, _ := flag.UnquoteUsage(f) // a `word` of the usage, or the flag's type
	if name == "int" || name == "uint" || name == "float" {
		return "N"
	}
	return strings.ToUpper(name)
}

// flagFacts names a setting's variable and a flag's default.
func flagFacts(f *flag.Flag) string {
	var facts []string
	if v, ok := f.Value.(*optionValue); ok {
		facts = append(facts, "env "+v.o.env)
	}
	switch def := f.DefValue; {
	case def == "" || def == "false" || def == "0":
	case strings.Contains(def, " "):
		facts = append(facts, fmt.Sprintf("default %q", def))
	default:
		facts = append(facts, "default "+def)
	}
	return strings.Join(facts, ", ")
}

// wrap breaks s between words into lines of at most width bytes, each starting with indent.
func wrap(s string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(s) {
		switch {
		case n == 0:
			b.WriteString(indent)
			n = len(indent)
		case n+1+len(word) > width:
			b.WriteString("\n" + indent)
			n = len(indent)
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

// connectError says in one line why the database could not be reached: where ordersync
// looked, what went wrong and what to check.
func connectError(c *pgconn.Config, libpqDefaults bool, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	where := databaseName(c, libpqDefaults)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// The server answered: the address is right, what it was asked for is not.
		hint := "check DATABASE_URL"
		switch {
		case pgErr.Code == "3D000": // invalid_catalog_name
			hint = "create it, or name another in DATABASE_URL"
		case strings.HasPrefix(pgErr.Code, "28"): // invalid authorization
			hint = "check the user and password in DATABASE_URL (or PGPASSWORD, ~/.pgpass)"
		}
		return usagef("cannot connect to %s: %s; %s", where, pgErr.Message, hint)
	}
	hint := "check that PostgreSQL runs there and that DATABASE_URL names it"
	if libpqDefaults {
		hint = "start PostgreSQL there, or set DATABASE_URL"
	}
	return fmt.Errorf("cannot connect to %s: %s; %s", where, rootCause(err), hint)
}

// databaseName names the database of c: its name, the server and the user, and whether
// the libpq environment chose them. It never shows the password.
func databaseName(c *pgconn.Config, libpqDefaults bool) string {
	db := c.Database
	if db == "" {
		db = c.User // what the server picks when none is named
	}
	server := net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
	if strings.HasPrefix(c.Host, "/") {
		server = fmt.Sprintf("socket %s/.s.PGSQL.%d", c.Host, c.Port)
	}
	name := fmt.Sprintf("database %s on %s as %s", db, server, c.User)
	if libpqDefaults {
		name += " (chosen by the libpq environment: DATABASE_URL is not set)"
	}
	return name
}

// rootCause is what went wrong beneath the layers that wrapped it, in a few words.
func rootCause(err error) string {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return "no such host " + dns.Name
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer in time"
	}
	for {
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if next := u.Unwrap(); next != nil {
				err = next
				continue
			}
		case interface{ Unwrap() []error }:
			// Several attempts (addresses, TLS then plain) failed alike; one says it.
			if next := u.Unwrap(); len(next) > 0 {
				err = next[0]
				continue
			}
		}
		return err.Error()
	}
}

// unreachableAPI tells a run that could not reach the Xiaoe API at all in one line: where,
// why, for how long it tried, and what to check. The run's log line has the window and the
// page it was on.
func unreachableAPI(err error) (string, bool) {
	var ae *fetch.APIError
	var ue *url.Error
	if errors.Is(err, pipeline.ErrPartial) || !errors.As(err, &ae) || !errors.As(ae.Err, &ue) {
		return "", false
	}
	where := "the Xiaoe API"
	if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
		where += " at " + u.Scheme + "://" + u.Host
	}
	msg := fmt.Sprintf("cannot reach %s: %s", where, rootCause(ue.Err))
	var re *fetch.RetryError
	if errors.As(err, &re) {
		took := re.Elapsed.Round(time.Second)
		if re.Elapsed < time.Second {
			took = re.Elapsed.Round(time.Millisecond)
		}
		msg += fmt.Sprintf(" (%d attempts in %s)", re.Attempts, took)
	}
	return msg + "; check XE_BASE_URL and this machine's network", true
}

// oneLine is how exitCode tells an error: a run that could not reach the API plainly, and
// errors joined from several (one per shop) on one line.
func oneLine(err error) string {
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		errs := multi.Unwrap()
		texts := make([]string, len(errs))
		for i, e := range errs {
			texts[i] = e.Error()
		}
		// errors.Join's text, not that of fmt.Errorf with several %w.
		if strings.Join(texts, "\n") == err.Error() {
			for i, e := range errs {
				texts[i] = oneLine(e)
			}
			return strings.Join(texts, "; ")
		}
	}
	if msg, ok := unreachableAPI(err); ok {
		return msg
	}
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
