package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadShops(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "def.secret")
	if err := os.WriteFile(secretFile, []byte("s3cret-def\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SHOP_ABC_SECRET": "s3cret-abc"}
	def := shop{Schedule: "*/5 * * * *", Rate: 20, BaseURL: "https://api.xiaoe-tech.com"}
	load := func(t *testing.T, text string) ([]shop, error) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "shops.toml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadShops(path, func(k string) string { return env[k] }, def)
	}

	shops, err := load(t, `
[[shop]]
app_id = "appAbc123"
client_id = "xopAbc123"
secret_key_env = "SHOP_ABC_SECRET"

[[shop]]
app_id = "appDef456"
client_id = "xopDef456"
secret_key_file = "`+secretFile+`"
schedule = "@every 30s"
rate = 10
enabled = false
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(shops) != 2 {
		t.Fatalf("%d shops, want 2", len(shops))
	}
	a, d := shops[0], shops[1]
	if a.SecretKey != "s3cret-abc" || a.Schedule != def.Schedule || a.Rate != 20 || !a.Enabled || a.BaseURL != def.BaseURL {
		t.Errorf("first shop: %+v", a)
	}
	if d.SecretKey != "s3cret-def" || d.Schedule != "@every 30s" || d.Rate != 10 || d.Enabled {
		t.Errorf("second shop: %+v", d)
	}

	entry := func(lines ...string) string {
		return "[[shop]]\n" + strings.Join(lines, "\n") + "\n"
	}
	good := []string{`app_id = "appA"`, `client_id = "xopA"`, `secret_key_env = "SHOP_ABC_SECRET"`}
	for _, tc := range []struct {
		name, text string
		want       []string // in the error
	}{
		{"not TOML", "[[shop]\n", []string{"line 2"}},
		{"no shop", "", []string{"no [[shop]] entry"}},
		{"unknown key", entry(append(good, `secret = "x"`)...), []string{"unknown key shop.secret"}},
		{"no app_id", entry(good[1:]...), []string{"shop 1", "app_id is missing"}},
		{"no client_id", entry(good[0], good[2]), []string{"shop 1 (appA)", "client_id"}},
		{"no secret", entry(good[:2]...), []string{"shop 1 (appA)", "secret_key_env or secret_key_file"}},
		{"both secrets", entry(append(good, `secret_key_file = "/x"`)...), []string{"not both"}},
		{"secret not set", entry(good[0], good[1], `secret_key_env = "NOPE"`), []string{"shop 1 (appA)", "NOPE is not set"}},
		{"secret file missing", entry(good[0], good[1], `secret_key_file = "/nonexistent/x"`), []string{"secret_key_file", "no such file"}},
		{"duplicate", entry(good...) + entry(good...), []string{"shop 2 (appA)", "listed already, as shop 1"}},
		{"bad schedule", entry(append(good, `schedule = "every minute"`)...), []string{"shop 1 (appA)", "schedule", "invalid schedule"}},
		{"bad rate", entry(append(good, `rate = 0`)...), []string{"shop 1 (appA)", "rate 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.text)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}
