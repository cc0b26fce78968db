package schedule

import (
	"context"
	"log/slog"

	"ordersync/pipeline"
	"ordersync/store"
)

// Works are what a shop's advisory locks guard, each with the kinds of the runs that run
// under it: whatever the process, a daemon's job or a one-shot command, a run of these
// kinds runs only while its process holds the shop's lock of that work.
var works = map[string][]string{
	"sync":     {pipeline.KindSync, pipeline.KindRetry},
	"backfill": {pipeline.KindBackfill},
}

// LockShop takes the advisory lock of shop appID's work ("sync" or "backfill") without
// waiting; ok is false when another process holds it. Holding it, it records as failed
// the runs of that work that are still marked running: none can be going, so their
// process died before it could record their end. worker is the caller's (host:pid).
func LockShop(ctx context.Context, st *store.Store, appID, work, worker string, log *slog.Logger) (unlock func(), ok bool, err error) {
	unlock, ok, err = st.TryLock(ctx, "ordersync:"+appID+":"+work)
	if err != nil || !ok {
		return nil, ok, err
	}
	switch n, err := st.EndAbandonedRuns(ctx, appID, worker, works[work]...); {
	case err != nil:
		// Bookkeeping of runs that ended long ago: the work itself can go on.
		log.Warn("could not end the runs of a process that died", "app_id", appID, "work", work, "error", err)
	case n > 0:
		log.Warn("recorded as failed the runs of a process that died before it ended them",
			"app_id", appID, "work", work, "runs", n)
	}
	return unlock, true, nil
}
