package main

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"riverqueue.com/riverui"

	"ordersync/dashboard"
	"ordersync/metrics"
	"ordersync/schedule"
	"ordersync/store"
)

// daemonHandler serves the daemon's HTTP: /healthz and /metrics open to probes and
// scrapers (they show no money and change nothing), the dashboard at / and River UI at
// /riverui/ behind the operator's token.
func (e *env) daemonHandler(ctx context.Context, addr net.Addr, st *store.Store, m *metrics.Metrics, sch *schedule.Scheduler) (http.Handler, error) {
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
	mux.Handle("/riverui/", dashboard.OperatorOnly(e.cfg.DashboardToken, dashboard.IsLoopback(addr), ui))
	mux.Handle("/", e.dashboard(st, addr))
	return mux, nil
}
