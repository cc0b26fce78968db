package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"ordersync/dashboard"
	"ordersync/store"
)

// cmdDashboard serves the dashboard alone, for installations that run no daemon (a cron
// job of syncer sync, say), until SIGINT or SIGTERM.
func cmdDashboard(ctx context.Context, e *env, args []string) error {
	if err := e.parse(args); err != nil {
		return err
	}
	addr := e.cfg.HTTPAddr
	if addr == "off" {
		return usagef("HTTP_ADDR is off: the dashboard needs an address to listen on")
	}
	st, err := e.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for the dashboard on %s: %w", addr, err)
	}
	e.log.Info("serving the dashboard", "addr", ln.Addr().String())
	return e.serveDashboard(ctx, st, ln)
}

// dashboard is the dashboard's handler for a listener at addr: on any address but
// loopback, or with DASHBOARD_TOKEN set, it wants the operator's token.
func (e *env) dashboard(st *store.Store, addr net.Addr) http.Handler {
	return dashboard.New(dashboard.Options{
		Store: st, Token: e.cfg.DashboardToken, Loopback: dashboard.IsLoopback(addr), Shop: e.cfg.Shop, Logger: e.log,
	})
}

// serveDashboard serves the dashboard on ln until ctx ends, then lets the requests in
// flight finish. Stopping is not an error: the server did what it was asked.
func (e *env) serveDashboard(ctx context.Context, st *store.Store, ln net.Listener) error {
	srv := &http.Server{Handler: e.dashboard(st, ln.Addr()), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve the dashboard: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
