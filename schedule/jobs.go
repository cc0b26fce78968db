package schedule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"ordersync/pipeline"
)

// onePerShop makes a shop's job of a kind unique while it waits or runs, so that one
// shop never runs twice at once, however many replicas and ticks there are. A finished
// job does not count: the next tick inserts the next one.
var onePerShop = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}}

// SyncArgs is a job: one incremental sync of a shop.
type SyncArgs struct {
	AppID string `json:"app_id"`
}

func (SyncArgs) Kind() string { return "ordersync_sync" }

// InsertOpts: one attempt, since the next tick is the retry.
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: onePerShop}
}

// RetryArgs is a job: a run of a shop's failure queue alone.
type RetryArgs struct {
	AppID string `json:"app_id"`
}

func (RetryArgs) Kind() string { return "ordersync_retry" }

func (RetryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: onePerShop}
}

// BackfillArgs is a job: a backfill of the orders a shop created in [From, To].
type BackfillArgs struct {
	AppID string    `json:"app_id"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
}

func (BackfillArgs) Kind() string { return "ordersync_backfill" }

// InsertOpts: River retries a failed window with its backoff; a window done meanwhile
// costs its retry nothing, since the backfill skips what is recorded.
func (BackfillArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: onePerShop.ByState}}
}

type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	s *Scheduler
}

func (w *syncWorker) Timeout(*river.Job[SyncArgs]) time.Duration { return w.s.opts.SyncTimeout }

func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	appID := job.Args.AppID
	err := w.s.run(ctx, appID, "sync", false, (*pipeline.Syncer).Sync)
	if err != nil {
		return err
	}
	// The failure queue is a job of its own: a poisoned queue never delays the sync.
	shop := w.s.shops[appID]
	due, derr := shop.Syncer.RetryDue(ctx)
	if derr != nil || !due {
		return derr
	}
	if _, err := river.ClientFromContext[pgx.Tx](ctx).Insert(ctx, RetryArgs{AppID: appID}, nil); err != nil {
		return fmt.Errorf("queue the failure-queue retry of shop %s: %w", appID, err)
	}
	return nil
}

type retryWorker struct {
	river.WorkerDefaults[RetryArgs]
	s *Scheduler
}

func (w *retryWorker) Timeout(*river.Job[RetryArgs]) time.Duration { return w.s.opts.SyncTimeout }

func (w *retryWorker) Work(ctx context.Context, job *river.Job[RetryArgs]) error {
	return w.s.run(ctx, job.Args.AppID, "sync", false, (*pipeline.Syncer).Retry)
}

type backfillWorker struct {
	river.WorkerDefaults[BackfillArgs]
	s *Scheduler
}

func (w *backfillWorker) Timeout(*river.Job[BackfillArgs]) time.Duration {
	return w.s.opts.BackfillTimeout
}

func (w *backfillWorker) Work(ctx context.Context, job *river.Job[BackfillArgs]) error {
	a := job.Args
	return w.s.run(ctx, a.AppID, "backfill", true, func(s *pipeline.Syncer, ctx context.Context) (pipeline.Result, error) {
		return s.Backfill(ctx, a.From, a.To)
	})
}

// VerifyArgs is a job: a syncer verify of a shop's last 31 days.
type VerifyArgs struct {
	AppID string `json:"app_id"`
}

func (VerifyArgs) Kind() string { return "ordersync_verify" }

func (VerifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: onePerShop}
}

type verifyWorker struct {
	river.WorkerDefaults[VerifyArgs]
	s *Scheduler
}

func (w *verifyWorker) Timeout(*river.Job[VerifyArgs]) time.Duration { return w.s.opts.SyncTimeout }

func (w *verifyWorker) Work(ctx context.Context, job *river.Job[VerifyArgs]) error {
	appID := job.Args.AppID
	shop, ok := w.s.shops[appID]
	if !ok {
		return river.JobCancel(fmt.Errorf("shop %s is not in this replica's shops", appID))
	}
	rep, err := shop.Syncer.Verify(ctx, pipeline.VerifyOptions{})
	if err != nil && !errors.Is(err, pipeline.ErrRepair) {
		return fmt.Errorf("verify shop %s: %w", appID, err)
	}
	if w.s.opts.Verified != nil {
		w.s.opts.Verified(appID, rep.Counts())
	}
	return nil
}

// errLockedElsewhere says that another process holds the shop's lock for the work.
var errLockedElsewhere = errors.New("another process holds the shop's lock")
