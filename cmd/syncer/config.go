package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"ordersync/fetch"
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
}

// option is one setting: its variable, its flag, its default and its help.
type option struct {
	env, flag, def, help string
	secret               bool
	set                  func(c *config, v string) error
}

var options = []option{
	{env: "DATABASE_URL", flag: "database-url", help: "PostgreSQL URL (default: the libpq environment, PGHOST…)", secret: true,
		set: func(c *config, v string) error { c.DatabaseURL = v; return nil }},
	{env: "XE_APP_ID", flag: "app-id", help: "the shop's app_id",
		set: func(c *config, v string) error { c.AppID = v; return nil }},
	{env: "XE_CLIENT_ID", flag: "client-id", help: "the API client_id",
		set: func(c *config, v string) error { c.ClientID = v; return nil }},
	{env: "XE_SECRET_KEY", help: "the API secret key (or XE_SECRET_KEY_FILE: a file holding it)", secret: true,
		set: func(c *config, v string) error { c.SecretKey = fetch.Secret(v); return nil }},
	{env: "XE_BASE_URL", flag: "base-url", def: "https://api.xiaoe-tech.com", help: "the API's base URL",
		set: func(c *config, v string) error { c.BaseURL = v; return nil }},
	{env: "SYNC_SCHEDULE", flag: "schedule", def: "*/5 * * * *", help: "the daemon's cron schedule (Asia/Shanghai)",
		set: func(c *config, v string) error { c.Schedule = v; return nil }},
	{env: "XE_RATE", flag: "rate", def: "20", help: "API calls per second per endpoint",
		set: func(c *config, v string) (err error) { c.Rate, err = positiveFloat(v); return err }},
	{env: "SYNC_WORKERS", flag: "workers", def: "8", help: "detail calls in flight at once",
		set: func(c *config, v string) (err error) { c.Workers, err = positiveInt(v); return err }},
	{env: "SYNC_OVERLAP", flag: "overlap", def: "10m", help: "how far before the checkpoint a sync starts again",
		set: func(c *config, v string) (err error) { c.Overlap, err = time.ParseDuration(v); return err }},
	{env: "SYNC_LOOKBACK", flag: "lookback", def: "744h", help: "where the first sync starts when there is no checkpoint",
		set: func(c *config, v string) (err error) { c.Lookback, err = time.ParseDuration(v); return err }},
	{env: "HTTP_ADDR", flag: "http", help: "address of the daemon's /healthz and /metrics listener (daemon default :9090; empty for none)",
		set: func(c *config, v string) error { c.HTTPAddr = v; return nil }},
	{env: "SYNC_SHOPS_FILE", flag: "shops", help: "a TOML file of [[shop]] entries, for several shops (default: the one shop of XE_APP_ID)",
		set: func(c *config, v string) error { c.ShopsFile = v; return nil }},
	{env: "SYNC_SHOP", flag: "shop", help: "act on this shop (app_id) of the shops file only",
		set: func(c *config, v string) error { c.Shop = v; return nil }},
	{env: "SYNC_MAX_WORKERS", flag: "max-workers", def: "10", help: "the daemon's jobs running at once on this replica",
		set: func(c *config, v string) (err error) { c.MaxWorkers, err = positiveInt(v); return err }},
	{env: "SYNC_TIMEOUT", flag: "sync-timeout", def: "10m", help: "the longest a daemon's sync job may run",
		set: func(c *config, v string) (err error) { c.SyncTimeout, err = positiveDuration(v); return err }},
	{env: "BACKFILL_TIMEOUT", flag: "backfill-timeout", def: "2h", help: "the longest a daemon's backfill window job may run",
		set: func(c *config, v string) (err error) { c.BackfillTimeout, err = positiveDuration(v); return err }},
	{env: "DASHBOARD_TOKEN", help: "the operator's token for River UI (and any non-loopback page)", secret: true,
		set: func(c *config, v string) error { c.DashboardToken = v; return nil }},
	{env: "LOG_FORMAT", flag: "log-format", def: "auto", help: "text, json, or auto (text on a terminal)",
		set: func(c *config, v string) error { c.LogFormat = v; return nil }},
	{env: "LOG_LEVEL", flag: "log-level", def: "info", help: "debug, info, warn or error",
		set: func(c *config, v string) error { c.LogLevel = v; return nil }},
}

// usageError is a mistake in the command line or the configuration: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func positiveFloat(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%q is not a positive number", v)
	}
	return f, nil
}

func positiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration such as 10m", v)
	}
	return d, nil
}

func positiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive whole number", v)
	}
	return n, nil
}

// loadConfig reads the environment, then registers every option as a flag of fs so that
// flags override it. The caller parses fs.
func loadConfig(fs *flag.FlagSet, getenv func(string) string) (*config, error) {
	c := &config{}
	for _, o := range options {
		v := getenv(o.env)
		if v == "" {
			v = o.def
		}
		if o.env == "XE_SECRET_KEY" && v == "" {
			if f := getenv("XE_SECRET_KEY_FILE"); f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					return nil, usagef("XE_SECRET_KEY_FILE: %v", err)
				}
				v = strings.TrimSpace(string(b))
			}
		}
		if v != "" {
			if err := o.set(c, v); err != nil {
				return nil, usagef("%s: %v", o.env, err)
			}
		}
		if o.flag == "" || fs == nil {
			continue
		}
		o := o
		fs.Func(o.flag, o.help+" ["+o.env+"]", func(v string) error { return o.set(c, v) })
	}
	return c, nil
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
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, usagef("LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel)
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

// redacted shows the configuration with its secrets hidden.
func (c *config) redacted() map[string]string {
	out := map[string]string{}
	for _, o := range options {
		out[o.env] = o.def
	}
	out["DATABASE_URL"] = redactURL(c.DatabaseURL)
	out["XE_APP_ID"], out["XE_CLIENT_ID"], out["XE_BASE_URL"] = c.AppID, c.ClientID, c.BaseURL
	if c.SecretKey != "" {
		out["XE_SECRET_KEY"] = "REDACTED"
	}
	return out
}

// redactURL hides the password of a database URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if strings.Contains(s, "password") {
			return "REDACTED"
		}
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	return u.String()
}

var errHelp = errors.New("help")
