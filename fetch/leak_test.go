package fetch_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
)

// TestNoSecretInErrorsOrLogs: no error or log line contains the secret key or a token,
// whatever fails: credentials refused, the token endpoint unreachable (its URL carries the
// secret), retries exhausted on HTML pages, tokens rejected, a server that echoes the
// request (token and all) in its error page.
func TestNoSecretInErrorsOrLogs(t *testing.T) {
	const wrongSecret = "wrong-secret-5b7e1f"
	shop := fetchtest.New(fetchtest.Options{Orders: 20, Rate: -1, From: day0, To: day1})
	var echo atomic.Bool // the business paths answer 500 with the request echoed
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if echo.Load() && r.URL.Path != "/token" {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "<html><body>error handling %s: %s</body></html>", r.URL, body)
			return
		}
		shop.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	o := shop.Options()
	logs := newLogBuffer(t)
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	newClient := func(base string, secret fetch.Secret) *fetch.Client {
		c, err := fetch.New(fetch.Config{BaseURL: base, AppID: o.AppID, ClientID: o.ClientID, SecretKey: secret,
			MaxAttempts: 3, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	ids := orderIDs(&fetchtest.Server{Shop: shop})
	var errs []error
	try := func(err error) {
		if err == nil {
			t.Fatal("the scenario did not fail")
		}
		errs = append(errs, err)
	}

	c := newClient(srv.URL, fetch.Secret(o.SecretKey))
	if _, _, err := c.OrderDetail(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	shop.ExpireTokens() // a 2008 and a refresh, logged
	if _, _, err := c.OrderDetail(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	shop.SetFaults(0, 1) // HTML 502/503 until the retries run out
	_, _, err := c.OrderDetail(ctx, ids[2])
	try(err)
	shop.SetFaults(0, 0)
	echo.Store(true)
	_, _, err = c.OrderDetail(ctx, ids[3])
	try(err)
	_, err = c.ListOrders(ctx, fetch.ListRequest{OrderID: ids[3]})
	try(err)
	echo.Store(false)
	shop.FailWith(fetchtest.EndpointDetail, 2051)
	_, _, err = c.OrderDetail(ctx, ids[4])
	try(err)

	_, _, err = newClient(srv.URL, wrongSecret).OrderDetail(ctx, ids[0])
	try(err)

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // connection refused, and the URL of the token call holds the secret
	_, _, err = newClient(dead.URL, fetch.Secret(o.SecretKey)).OrderDetail(ctx, ids[0])
	try(err)

	secrets := append([]string{o.SecretKey, wrongSecret}, shop.Tokens()...)
	if len(shop.Tokens()) < 2 {
		t.Fatalf("only %d tokens issued: the test did not refresh", len(shop.Tokens()))
	}
	var out strings.Builder
	out.WriteString(logs.String())
	for _, err := range errs {
		fmt.Fprintf(&out, "%v\n%+v\n%#v\n", err, err, err)
	}
	leaked := false
	for _, s := range secrets {
		if strings.Contains(out.String(), s) {
			leaked = true
			t.Errorf("a secret (%d characters, starting %.3s…) appears in an error or the log", len(s), s)
		}
	}
	for _, want := range []string{"REDACTED", "HTTP 500", "2051", "connection refused"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the errors do not say %q: the scenarios did not fail as meant", want)
		}
	}
	if !leaked { // what the errors say, for a reader of the test output
		for _, err := range errs {
			t.Logf("error: %v", err)
		}
	}
}
