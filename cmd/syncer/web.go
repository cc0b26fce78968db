package main

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"

	"riverqueue.com/riverui"

	"ordersync/metrics"
	"ordersync/schedule"
)

// daemonHandler serves the daemon's HTTP: /healthz and /metrics open to probes and
// scrapers (they show no money and change nothing), River UI at /riverui/ behind the
// operator's token.
func (e *env) daemonHandler(ctx context.Context, addr net.Addr, m *metrics.Metrics, sch *schedule.Scheduler) (http.Handler, error) {
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(sch.Client(), nil),
		Logger:    e.log,
		Prefix:    "/riverui",
	})
	if err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	if err := ui.Start(ctx); err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/healthz", m.Handler())
	mux.Handle("/metrics", m.Handler())
	mux.Handle("/riverui/", operatorOnly(e.cfg.DashboardToken, isLoopback(addr), ui))
	return mux, nil
}

// operatorOnly lets a request through with the operator's token, as a bearer token or
// the cookie the dashboard's login sets. Without a token configured, only a listener on
// the loopback interface lets requests through: anyone who can reach another address
// would otherwise see revenue and could cancel, retry and delete jobs.
func operatorOnly(token string, loopback bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case token == "" && loopback:
			next.ServeHTTP(w, r)
			return
		case token == "":
			http.Error(w, "set DASHBOARD_TOKEN to open this page on a non-loopback address", http.StatusUnauthorized)
			return
		case hasToken(r, token):
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="ordersync"`)
		http.Error(w, "this page needs the operator's token (DASHBOARD_TOKEN)", http.StatusUnauthorized)
	})
}

// tokenCookie is the cookie that carries the operator's token after the login form.
const tokenCookie = "ordersync_token"

func hasToken(r *http.Request, token string) bool {
	got := ""
	if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		got = strings.TrimPrefix(a, "Bearer ")
	} else if c, err := r.Cookie(tokenCookie); err == nil {
		got = c.Value
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
