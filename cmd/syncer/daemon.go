package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/robfig/cron/v3"

	"ordersync/metrics"
	"ordersync/order"
	"ordersync/pipeline"
	"ordersync/schedule"
	"ordersync/store"
)

func cmdDaemon(ctx context.Context, e *env, args []string) error {
	if err := e.parse(args); err != nil {
		return err
	}
	if e.flags.NArg() > 0 {
		return usagef("daemon takes no arguments")
	}
	if err := schedule.ValidateSpec(e.cfg.Schedule); err != nil {
		return usagef("SYNC_SCHEDULE: %v", err)
	}
	shops, err := e.shops()
	if err != nil {
		return err
	}
	if len(shops) == 0 {
		return usagef("no enabled shop in %s", e.cfg.ShopsFile)
	}
	st, err := e.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()

	ids := make([]string, len(shops))
	maxAge := time.Duration(0)
	for i, sh := range shops {
		ids[i] = sh.AppID
		maxAge = max(maxAge, healthMaxAge(sh.Schedule))
	}
	m := metrics.New(metrics.Options{MaxAge: maxAge})
	m.Shops(ids...)
	var jobs []schedule.Shop
	for _, sh := range shops {
		// A long run (the first sync, a backfill window) logs its progress every 10 s.
		s, err := e.syncer(st, sh, m.Shop(sh.AppID), logProgress(e, "run "+sh.AppID).show, true)
		if err != nil {
			return err
		}
		jobs = append(jobs, schedule.Shop{AppID: sh.AppID, Spec: sh.Schedule, Syncer: s})
	}
	sch, err := schedule.New(schedule.Options{
		Store: st, Shops: jobs, ID: pipeline.DefaultWorker(), MaxWorkers: e.cfg.MaxWorkers,
		SyncTimeout: e.cfg.SyncTimeout, BackfillTimeout: e.cfg.BackfillTimeout, Logger: e.log,
		Finished: func(appID string, res pipeline.Result, err error) {
			depth, cp, serr := syncState(ctx, st, appID)
			if serr != nil {
				e.log.Warn("read the failure queue and the checkpoint for /metrics", "app_id", appID, "error", serr)
			}
			m.RunFinished(appID, res, err, depth, cp)
		},
		ConfigError: m.ConfigError,
		VerifySpec:  e.cfg.VerifySchedule, Verified: m.VerifyFinished,
	})
	if err != nil {
		return err
	}

	addr := e.cfg.HTTPAddr
	var srv *http.Server
	if addr != "off" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen for /healthz and /metrics on %s: %w", addr, err)
		}
		h, err := e.daemonHandler(ctx, ln.Addr(), st, m, sch)
		if err != nil {
			ln.Close()
			return err
		}
		srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				e.log.Error("http listener stopped", "error", err)
			}
		}()
		e.log.Info("serving /, /healthz, /metrics and /riverui/", "addr", ln.Addr().String())
	}
	if err := sch.Start(ctx); err != nil {
		return err
	}
	go watchShops(ctx, e, st, m, ids)
	e.log.Info("daemon started", "shops", len(shops), "max_workers", e.cfg.MaxWorkers)
	<-ctx.Done()
	e.log.Info("daemon stopping: finishing the running jobs")
	err = sch.Stop()
	if srv != nil {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}
	e.log.Info("daemon stopped")
	return err
}

// watchShops feeds the health verdict from the run history every few seconds: River
// spreads a shop's syncs over the replicas, and each must judge the shop by all of them.
func watchShops(ctx context.Context, e *env, st *store.Store, m *metrics.Metrics, ids []string) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		states, err := st.ShopStates(ctx, ids)
		if err != nil && ctx.Err() == nil {
			e.log.Warn("read the shops' run history for /healthz", "error", err)
		}
		for _, s := range states {
			var lastOK, cp time.Time
			if s.LastOK != nil {
				lastOK = *s.LastOK
			}
			if s.Checkpoint != nil {
				cp = *s.Checkpoint
			}
			lastErr := ""
			if s.LastError != nil {
				lastErr = *s.LastError
			}
			m.Synced(s.AppID, lastOK, s.Failures, lastErr, s.QueueDepth, cp)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// healthMaxAge allows three missed ticks of spec before the daemon calls itself unhealthy,
// and never less than 15 minutes.
func healthMaxAge(spec string) time.Duration {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return 30 * time.Minute
	}
	now := time.Now()
	next := sched.Next(now)
	return max(3*sched.Next(next).Sub(next), 15*time.Minute)
}

// syncState reads the failure queue's depth and the checkpoint after a run, for the
// metrics; depth is -1 and the checkpoint zero when they could not be read.
func syncState(ctx context.Context, st *store.Store, appID string) (depth int, checkpoint time.Time, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	depth, err = st.QueueDepth(ctx, appID)
	if err != nil {
		depth = -1
	}
	cp, _, cerr := st.Checkpoint(ctx, appID, order.UpdateTime)
	return depth, cp, errors.Join(err, cerr)
}

// cmdHealthcheck asks a running daemon's /healthz, for container health checks in images
// that have no curl: exit 0 when healthy, 1 when not.
func cmdHealthcheck(ctx context.Context, e *env, args []string) error {
	if err := e.parse(args); err != nil {
		return err
	}
	addr := e.cfg.HTTPAddr
	if addr == "off" {
		return usagef("HTTP_ADDR is off: the daemon serves no /healthz to ask")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("HTTP_ADDR %q: %v", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprint(e.stdout, string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("daemon unhealthy: %s", resp.Status)
	}
	return nil
}
