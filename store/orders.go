package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"ordersync/order"
)

// Batch is what one transaction writes for one shop: prepared orders, orders that failed,
// and the windows that are finished once these land. A window and its last orders commit
// together, so a crash never records a window whose orders are not stored or queued.
type Batch struct {
	AppID    string
	RunID    *int64
	Orders   []*order.Prepared
	Failures []Failure
	Windows  []Window
}

// UpsertResult counts what Write did with each order of a batch.
type UpsertResult struct {
	// New orders were not stored before; Changed ones had a different content hash. Both
	// were written whole: parent, children and payload.
	New, Changed int
	// Touched orders had the same content but a newer update_time: only that moved.
	Touched int
	// Unchanged orders were left alone entirely.
	Unchanged int
	// Stale orders were older than what is stored (by update_time) and were not written.
	Stale int
	// Conflicts are orders stored for another shop: they were queued as failures instead.
	Conflicts int
}

// Written is the number of orders whose rows were rewritten.
func (r UpsertResult) Written() int { return r.New + r.Changed }

// writeAttempts bounds the retries of a batch that raced another writer of the same new
// order (a unique violation) or deadlocked with it.
const writeAttempts = 3

// Write stores a batch in one transaction. An order whose content hash is the one stored
// is not rewritten at all (only a newer update_time moves); a new or changed order has its
// parent row, every child row and its payload replaced, so no stale child row survives a
// shrunken list. An order older than the stored one is skipped. An order stored for
// another shop is not touched: it is queued as a failure of this shop. Orders that land
// leave this shop's failure queue.
func (s *Store) Write(ctx context.Context, b Batch) (UpsertResult, error) {
	res, err := s.write(ctx, b, nil)
	if err != nil {
		return UpsertResult{}, fmt.Errorf("write %d orders, %d failures, %d windows: %w", len(b.Orders), len(b.Failures), len(b.Windows), err)
	}
	return res, nil
}

// expected is what replay read of an order: it rewrites the order only if that is still
// what is stored.
type expected struct {
	hash       []byte
	updateTime *time.Time
}

func (s *Store) write(ctx context.Context, b Batch, expect map[string]expected) (UpsertResult, error) {
	orders := latestPerOrder(b.Orders)
	var (
		res UpsertResult
		err error
	)
	for attempt := 1; attempt <= writeAttempts; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var txErr error
			res, txErr = writeTx(ctx, tx, b, orders, expect)
			return txErr
		})
		if err == nil || !retryable(err) {
			break
		}
		s.log.Warn("write raced another writer; retrying", "orders", len(orders), "attempt", attempt, "error", err)
	}
	if err != nil {
		return UpsertResult{}, err
	}
	s.wrote(res.New)
	return res, nil
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "23505", "40P01", "40001": // unique_violation, deadlock_detected, serialization_failure
		return true
	}
	return false
}

// latestPerOrder keeps one order per id, the one with the latest update_time (the last
// one on a tie), in id order so that concurrent batches lock rows in the same order.
func latestPerOrder(batch []*order.Prepared) []*order.Prepared {
	out := slices.Clone(batch)
	slices.SortStableFunc(out, func(a, b *order.Prepared) int {
		if c := strings.Compare(a.OrderID, b.OrderID); c != 0 {
			return c
		}
		return a.UpdateTime.Compare(b.UpdateTime)
	})
	j := 0
	for i := range out {
		if j > 0 && out[j-1].OrderID == out[i].OrderID {
			out[j-1] = out[i]
			continue
		}
		out[j] = out[i]
		j++
	}
	return out[:j]
}

type storedOrder struct {
	appID      *string
	updateTime *time.Time
	hash       []byte
}

func writeTx(ctx context.Context, tx pgx.Tx, b Batch, orders []*order.Prepared, expect map[string]expected) (UpsertResult, error) {
	var res UpsertResult
	stored, err := lockStored(ctx, tx, orders)
	if err != nil {
		return res, err
	}
	var (
		write    []*order.Prepared
		replace  []string // stored orders whose rows are rewritten
		touchID  []string
		touchAt  []time.Time
		landed   = make([]string, 0, len(orders))
		failures = slices.Clone(b.Failures)
	)
	for _, o := range orders {
		so, exists := stored[o.OrderID]
		if shop := shopOf(o, b.AppID); exists && so.appID != nil && *so.appID != "" && shop != "" && *so.appID != shop {
			// Xiaoe's ids are global: the same id from a second shop is a mistake somewhere,
			// and must never overwrite the first shop's order.
			res.Conflicts++
			failures = append(failures, Failure{OrderID: o.OrderID, AppID: b.AppID, RunID: b.RunID,
				UpdateTime: nonZero(o.UpdateTime), ListItem: o.ListItem, Reply: o.Detail,
				Error: fmt.Sprintf("order %s is stored for shop %s, and shop %s sent it too: it was not overwritten", o.OrderID, *so.appID, shop)})
			continue
		}
		if expect != nil {
			// Replay: rewrite only what it read; a sync may have written a newer version since.
			e := expect[o.OrderID]
			if !exists || !bytes.Equal(so.hash, e.hash) || !equalTime(so.updateTime, e.updateTime) {
				res.Stale++
				continue
			}
			res.Changed++
			write = append(write, o)
			replace = append(replace, o.OrderID)
			continue
		}
		switch {
		case !exists:
			res.New++
			write = append(write, o)
		case so.updateTime != nil && !o.UpdateTime.IsZero() && o.UpdateTime.Before(*so.updateTime):
			res.Stale++
			continue
		case bytes.Equal(so.hash, o.Hash[:]):
			if !o.UpdateTime.IsZero() && (so.updateTime == nil || !o.UpdateTime.Equal(*so.updateTime)) {
				res.Touched++
				touchID = append(touchID, o.OrderID)
				touchAt = append(touchAt, o.UpdateTime)
			} else {
				res.Unchanged++
			}
		default:
			res.Changed++
			write = append(write, o)
			replace = append(replace, o.OrderID)
		}
		landed = append(landed, o.OrderID)
	}

	if len(touchID) > 0 {
		_, err := tx.Exec(ctx, `
			UPDATE orders o SET update_time = t.update_time
			FROM unnest($1::text[], $2::timestamptz[]) AS t(order_id, update_time)
			WHERE o.order_id = t.order_id`, touchID, touchAt)
		if err != nil {
			return res, fmt.Errorf("move update_time: %w", err)
		}
	}
	if len(replace)+len(write) > 0 {
		// The foreign keys' checks and cascades are the server's own cached queries, run
		// once per child row: under the connection's force_custom_plan each run was planned
		// afresh, and that took a third of the server's CPU in a 50-shop backfill. The
		// statements above, which it is for, are planned already.
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = auto"); err != nil {
			return res, fmt.Errorf("plan the foreign keys' checks once: %w", err)
		}
	}
	if len(replace) > 0 {
		// Every child table and the payload reference orders ON DELETE CASCADE: deleting the
		// parent removes every old child row, whatever tables a future migration adds.
		_, err := tx.Exec(ctx, `DELETE FROM orders o USING unnest($1::text[]) AS r(order_id) WHERE o.order_id = r.order_id`, replace)
		if err != nil {
			return res, fmt.Errorf("delete replaced orders: %w", err)
		}
	}
	if len(write) > 0 {
		if err := copyOrders(ctx, tx, write); err != nil {
			return res, err
		}
	}
	if err := recordFailures(ctx, tx, failures); err != nil {
		return res, err
	}
	if len(landed) > 0 {
		_, err := tx.Exec(ctx, `
			DELETE FROM sync_failures f USING unnest($2::text[]) AS l(order_id)
			WHERE f.app_id = $1 AND f.order_id = l.order_id`, b.AppID, landed)
		if err != nil {
			return res, fmt.Errorf("clear failure queue: %w", err)
		}
	}
	for _, w := range b.Windows {
		if err := recordWindow(ctx, tx, w); err != nil {
			return res, err
		}
	}
	return res, nil
}

// lockStored reads and locks the stored rows of the batch's orders, in id order so that
// concurrent writers do not deadlock. The join on unnest keeps an index plan however the
// table's statistics lag behind its size; `= ANY($1)` was seen to fall back to scans.
func lockStored(ctx context.Context, tx pgx.Tx, orders []*order.Prepared) (map[string]storedOrder, error) {
	stored := make(map[string]storedOrder, len(orders))
	if len(orders) == 0 {
		return stored, nil
	}
	ids := make([]string, len(orders))
	for i, o := range orders {
		ids[i] = o.OrderID
	}
	rows, err := tx.Query(ctx, `
		SELECT o.order_id, o.app_id, o.update_time, p.content_hash
		FROM unnest($1::text[]) AS b(order_id)
		JOIN orders o ON o.order_id = b.order_id
		LEFT JOIN order_payloads p ON p.order_id = o.order_id
		ORDER BY o.order_id
		FOR UPDATE OF o`, ids)
	if err != nil {
		return nil, fmt.Errorf("read stored orders: %w", err)
	}
	var (
		id string
		so storedOrder
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &so.appID, &so.updateTime, &so.hash}, func() error {
		stored[id] = so
		so = storedOrder{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read stored orders: %w", err)
	}
	return stored, nil
}

// appIDColumn is the position of order_info.app_id in an orders row.
var appIDColumn = slices.Index(order.Tables[order.TOrders].ColumnNames(), "app_id")

// shopOf is the shop an order says it belongs to (order_info.app_id), or the shop that
// fetched it when the detail does not say.
func shopOf(o *order.Prepared, fetchedBy string) string {
	if rows := o.Rows[order.TOrders]; len(rows) > 0 {
		if s, ok := rows[0][appIDColumn].(string); ok && s != "" {
			return s
		}
	}
	return fetchedBy
}

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func nonZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// copyOrders COPYs the rows of every table and the payloads of orders that are not stored
// (any old rows were deleted by the caller in the same transaction).
func copyOrders(ctx context.Context, tx pgx.Tx, write []*order.Prepared) error {
	for _, t := range order.Tables {
		n := 0
		for _, o := range write {
			n += len(o.Rows[t.ID])
		}
		if n == 0 {
			continue
		}
		rows := make([][]any, 0, n)
		for _, o := range write {
			rows = append(rows, o.Rows[t.ID]...)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.Name}, t.ColumnNames(), pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy %s: %w", t.Name, err)
		}
	}
	now := time.Now()
	payloads := make([][]any, len(write))
	for i, o := range write {
		var item any
		if len(o.ListItem) > 0 {
			item = []byte(o.ListItem)
		}
		fetched := now
		if !o.FetchedAt.IsZero() {
			fetched = o.FetchedAt
		}
		payloads[i] = []any{o.OrderID, []byte(o.Detail), item, o.Hash[:], fetched}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"order_payloads"},
		[]string{"order_id", "detail", "list_item", "content_hash", "fetched_at"}, pgx.CopyFromRows(payloads))
	if err != nil {
		return fmt.Errorf("copy order_payloads: %w", err)
	}
	return nil
}

// StoredUpdateTimes returns the stored update_time of those of ids that are stored.
func (s *Store) StoredUpdateTimes(ctx context.Context, ids []string) (map[string]time.Time, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT o.order_id, o.update_time FROM unnest($1::text[]) AS b(order_id)
		JOIN orders o ON o.order_id = b.order_id WHERE o.update_time IS NOT NULL`, ids)
	if err != nil {
		return nil, fmt.Errorf("stored update times: %w", err)
	}
	out := make(map[string]time.Time, len(ids))
	var (
		id string
		t  time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &t}, func() error {
		out[id] = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stored update times: %w", err)
	}
	return out, nil
}
