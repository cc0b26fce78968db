package fetch_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"ordersync/fetch"
)

func TestSecretNeverPrints(t *testing.T) {
	const value = "s3cr3t-value"
	cfg := fetch.Config{AppID: "app1", SecretKey: value}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%v %+v %#v %s %q\n", cfg, cfg, cfg, cfg.SecretKey, cfg.SecretKey)
	slog.New(slog.NewTextHandler(&out, nil)).Info("cfg", "secret", cfg.SecretKey, "cfg", cfg)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("cfg", "secret", cfg.SecretKey)
	b, err := json.Marshal(struct{ Key fetch.Secret }{cfg.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(b)
	if strings.Contains(out.String(), value) {
		t.Errorf("the secret was printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "REDACTED") {
		t.Errorf("want REDACTED in the output:\n%s", out.String())
	}
}
