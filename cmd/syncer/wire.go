package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"ordersync/fetch"
	"ordersync/pipeline"
	"ordersync/schedule"
	"ordersync/store"
)

// counter counts API calls for the run history.
type counter struct {
	calls atomic.Int64
	next  fetch.Observer
}

func (c *counter) Call(endpoint string, code int, d time.Duration) {
	c.calls.Add(1)
	if c.next != nil {
		c.next.Call(endpoint, code, d)
	}
}
func (c *counter) Retry(endpoint string, kind fetch.Kind) {
	if c.next != nil {
		c.next.Retry(endpoint, kind)
	}
}
func (c *counter) RateWait(endpoint string, d time.Duration) {
	if c.next != nil {
		c.next.RateWait(endpoint, d)
	}
}
func (c *counter) TokenRefresh() {
	if c.next != nil {
		c.next.TokenRefresh()
	}
}

// shops returns the shops the command serves: the shops file's (those enabled, or the one
// --shop names), or the one shop of XE_APP_ID, XE_CLIENT_ID and XE_SECRET_KEY.
func (e *env) shops() ([]shop, error) {
	def := shop{AppID: e.cfg.AppID, ClientID: e.cfg.ClientID, SecretKey: e.cfg.SecretKey,
		Schedule: e.cfg.Schedule, Rate: e.cfg.Rate, BaseURL: e.cfg.BaseURL, Enabled: true}
	if e.cfg.ShopsFile == "" {
		if err := e.cfg.needAPI(); err != nil {
			return nil, err
		}
		if e.cfg.Shop != "" && e.cfg.Shop != def.AppID {
			return nil, usagef("--shop %s: the one shop configured is %s (XE_APP_ID); list several in SYNC_SHOPS_FILE", e.cfg.Shop, def.AppID)
		}
		return []shop{def}, nil
	}
	all, err := loadShops(e.cfg.ShopsFile, e.getenv, def)
	if err != nil {
		return nil, err
	}
	if e.cfg.Shop == "" {
		return slices.DeleteFunc(all, func(s shop) bool { return !s.Enabled }), nil
	}
	for _, s := range all {
		if s.AppID == e.cfg.Shop {
			return []shop{s}, nil
		}
	}
	return nil, usagef("--shop %s: no such shop in %s", e.cfg.Shop, e.cfg.ShopsFile)
}

// oneShop returns the shop of a command that works for one shop only (backfill, order,
// replay): the one configured, or the one --shop names.
func (e *env) oneShop() (shop, error) {
	shops, err := e.shops()
	if err != nil {
		return shop{}, err
	}
	switch {
	case len(shops) == 0:
		return shop{}, usagef("no enabled shop in %s", e.cfg.ShopsFile)
	case len(shops) > 1:
		return shop{}, usagef("%s lists %d shops: say which with --shop APP_ID", e.cfg.ShopsFile, len(shops))
	}
	return shops[0], nil
}

// syncer wires a shop's API client and pipeline. obs sees the client's calls (nil for
// none); progress is told how runs go (nil for none).
func (e *env) syncer(st *store.Store, sh shop, obs fetch.Observer, progress func(pipeline.Progress), retryApart bool) (*pipeline.Syncer, error) {
	cnt := &counter{next: obs}
	client, err := fetch.New(fetch.Config{
		BaseURL: sh.BaseURL, AppID: sh.AppID, ClientID: sh.ClientID, SecretKey: sh.SecretKey,
		Rate: sh.Rate, Logger: e.log.With("app_id", sh.AppID), Observer: cnt, Tokens: st.Tokens(sh.AppID),
	})
	if err != nil {
		return nil, usagef("shop %s: %v", sh.AppID, err)
	}
	return pipeline.New(client, st, pipeline.Config{
		AppID: sh.AppID, Overlap: e.cfg.Overlap, Lookback: e.cfg.Lookback, Workers: e.cfg.Workers,
		APICalls: cnt.calls.Load, Progress: progress, Logger: e.log.With("app_id", sh.AppID),
		RetryApart: retryApart,
		// Every process working for the shop, whatever its command, splits its rate.
		Budget: func(ctx context.Context) (func(), error) {
			return st.JoinBudget(ctx, sh.AppID, client.SetShare)
		},
	}), nil
}

// openSyncer opens the store, refusing a stale schema, and wires the syncer of the one
// shop the command works for. The caller closes the store.
func (e *env) openSyncer(ctx context.Context, progress func(pipeline.Progress)) (*store.Store, *pipeline.Syncer, shop, error) {
	sh, err := e.oneShop()
	if err != nil {
		return nil, nil, shop{}, err
	}
	st, err := e.openStore(ctx, true)
	if err != nil {
		return nil, nil, shop{}, err
	}
	s, err := e.syncer(st, sh, nil, progress, false)
	if err != nil {
		st.Close()
		return nil, nil, shop{}, err
	}
	return st, s, sh, nil
}

// once runs fn under the shop's advisory lock of job, the one the daemons' jobs take, so
// that among all processes one does it; another holding it is no error.
func (e *env) once(ctx context.Context, st *store.Store, appID, job string, fn func(ctx context.Context) error) error {
	unlock, ok, err := schedule.LockShop(ctx, st, appID, job, pipeline.DefaultWorker(), e.log)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(e.stdout, "another syncer is running %s for shop %s; nothing to do\n", job, appID)
		return nil
	}
	defer unlock()
	return fn(ctx)
}
