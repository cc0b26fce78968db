package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"

	"ordersync/fetch"
	"ordersync/schedule"
)

// shop is one shop to serve: its credentials and its own settings.
type shop struct {
	AppID     string
	ClientID  string
	SecretKey fetch.Secret
	Schedule  string
	Rate      float64
	BaseURL   string
	Enabled   bool
}

// shopsFile is the TOML of SYNC_SHOPS_FILE: [[shop]] entries. Secrets are never in it,
// only where to find them.
type shopsFile struct {
	Shop []struct {
		AppID         string   `toml:"app_id"`
		ClientID      string   `toml:"client_id"`
		SecretKeyEnv  string   `toml:"secret_key_env"`
		SecretKeyFile string   `toml:"secret_key_file"`
		Schedule      string   `toml:"schedule"`
		Rate          *float64 `toml:"rate"`
		BaseURL       string   `toml:"base_url"`
		Enabled       *bool    `toml:"enabled"`
	} `toml:"shop"`
}

// loadShops reads the shops file at path. Settings a shop leaves out are def's (the
// schedule, rate and base URL of the environment and flags). Every error names the file,
// the shop and the key.
func loadShops(path string, getenv func(string) string, def shop) ([]shop, error) {
	fail := func(format string, args ...any) error {
		return usagef("shops file %s: "+format, append([]any{path}, args...)...)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("shops file: %v", err)
	}
	var f shopsFile
	md, err := toml.Decode(string(b), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fail("line %d: %s", pe.Position.Line, pe.Message)
		}
		return nil, fail("%v", err)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = k.String()
		}
		return nil, fail("unknown key %s (a shop takes app_id, client_id, secret_key_env or secret_key_file, schedule, rate, base_url, enabled)", strings.Join(names, ", "))
	}
	if len(f.Shop) == 0 {
		return nil, fail("no [[shop]] entry")
	}
	seen := map[string]int{}
	shops := make([]shop, 0, len(f.Shop))
	for i, e := range f.Shop {
		name := fmt.Sprintf("shop %d", i+1)
		if e.AppID != "" {
			name += " (" + e.AppID + ")"
		}
		bad := func(format string, args ...any) error { return fail(name+": "+format, args...) }
		s := shop{AppID: e.AppID, ClientID: e.ClientID, Schedule: def.Schedule, Rate: def.Rate, BaseURL: def.BaseURL, Enabled: true}
		switch {
		case e.AppID == "":
			return nil, bad("app_id is missing")
		case e.ClientID == "":
			return nil, bad("client_id is missing")
		}
		if j, dup := seen[e.AppID]; dup {
			return nil, bad("app_id %s is listed already, as shop %d", e.AppID, j)
		}
		seen[e.AppID] = i + 1
		switch {
		case e.SecretKeyEnv != "" && e.SecretKeyFile != "":
			return nil, bad("give secret_key_env or secret_key_file, not both")
		case e.SecretKeyEnv != "":
			v := getenv(e.SecretKeyEnv)
			if v == "" {
				return nil, bad("secret_key_env: the environment variable %s is not set", e.SecretKeyEnv)
			}
			s.SecretKey = fetch.Secret(v)
		case e.SecretKeyFile != "":
			v, err := os.ReadFile(e.SecretKeyFile)
			if err != nil {
				return nil, bad("secret_key_file: %v", err)
			}
			if s.SecretKey = fetch.Secret(strings.TrimSpace(string(v))); s.SecretKey == "" {
				return nil, bad("secret_key_file %s is empty", e.SecretKeyFile)
			}
		default:
			return nil, bad("secret_key_env or secret_key_file is missing (the secret itself never goes in this file)")
		}
		if e.Schedule != "" {
			if err := schedule.ValidateSpec(e.Schedule); err != nil {
				return nil, bad("schedule: %v", err)
			}
			s.Schedule = e.Schedule
		}
		if e.Rate != nil {
			if *e.Rate <= 0 {
				return nil, bad("rate %v: want calls per second above 0", *e.Rate)
			}
			s.Rate = *e.Rate
		}
		if e.BaseURL != "" {
			s.BaseURL = e.BaseURL
		}
		if e.Enabled != nil {
			s.Enabled = *e.Enabled
		}
		shops = append(shops, s)
	}
	return shops, nil
}

// shopCount is how many shops the shops file at path lists (1 without a file), read for
// commands that need no credentials.
func shopCount(path string) (int, error) {
	if path == "" {
		return 1, nil
	}
	var f struct {
		Shop []struct{} `toml:"shop"`
	}
	if _, err := toml.DecodeFile(path, &f); err != nil {
		return 0, usagef("shops file %s: %v", path, err)
	}
	return len(f.Shop), nil
}
