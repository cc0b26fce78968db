package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"ordersync/order"
)

// Payload is one order as fetched: its detail and, when it came from the order list, its
// list item.
type Payload struct {
	OrderID string
	// UpdateTime is the list item's order_info.update_time: the order's change cursor.
	UpdateTime time.Time
	// Detail is the data object of the order detail 2.0 response, as received.
	Detail json.RawMessage
	// ListItem is the order's item in the order list 2.0 response, as received, or nil.
	ListItem json.RawMessage
}

// Order is a payload made ready to store: decoded, flattened and hashed.
type Order struct {
	Payload
	Hash [32]byte
	Rows *order.Rows

	fetchedAt time.Time // zero: now
}

// Prepare decodes and flattens one payload. The error names the order and the field that
// could not be decoded.
func Prepare(p Payload) (Order, error) {
	if p.OrderID == "" {
		return Order{}, errors.New("prepare order: no order id")
	}
	d, err := order.Decode(p.Detail)
	if err != nil {
		return Order{}, fmt.Errorf("order %s: %w", p.OrderID, err)
	}
	return PrepareDecoded(p, d)
}

// PrepareDecoded is Prepare for a payload whose detail the caller has decoded already.
func PrepareDecoded(p Payload, d *order.Detail) (Order, error) {
	switch got := string(d.OrderInfo.OrderID); got {
	case "":
		// A detail without its own id is still this order's detail.
		d.OrderInfo.OrderID = order.Str(p.OrderID)
	case p.OrderID:
	default:
		return Order{}, fmt.Errorf("order %s: detail is for order %s", p.OrderID, got)
	}
	d.UpdateTime = p.UpdateTime
	return Order{Payload: p, Hash: order.Hash(p.Detail), Rows: order.Flatten(d)}, nil
}

// PrepareFailure is a payload that Prepare refused.
type PrepareFailure struct {
	Payload Payload
	Err     error
}

// PrepareBatch prepares every payload, returning those that could be prepared and the
// failures, so that one bad payload does not hold back the rest of its batch.
func PrepareBatch(ps []Payload) ([]Order, []PrepareFailure) {
	orders := make([]Order, 0, len(ps))
	var failed []PrepareFailure
	for _, p := range ps {
		o, err := Prepare(p)
		if err != nil {
			failed = append(failed, PrepareFailure{Payload: p, Err: err})
			continue
		}
		orders = append(orders, o)
	}
	return orders, failed
}

// UpsertResult counts what UpsertOrders did with each order of a batch.
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
}

// Written is the number of orders whose rows were rewritten.
func (r UpsertResult) Written() int { return r.New + r.Changed }

func (r *UpsertResult) add(o UpsertResult) {
	r.New += o.New
	r.Changed += o.Changed
	r.Touched += o.Touched
	r.Unchanged += o.Unchanged
	r.Stale += o.Stale
}

// UpsertOrders writes a batch of orders in one transaction. An order whose content hash is
// the one stored is not rewritten at all (only a newer update_time moves); a new or changed
// order has its parent row, every child row and its payload replaced, so no stale child
// row survives a shrunken list. An order older than the stored one is skipped. Orders that
// land are removed from the failure queue in the same transaction.
func (s *Store) UpsertOrders(ctx context.Context, batch []Order) (UpsertResult, error) {
	return s.upsert(ctx, batch, false)
}

// upsertAttempts bounds the retries of a batch that raced another writer of the same new
// order (a unique violation) or deadlocked with it.
const upsertAttempts = 3

func (s *Store) upsert(ctx context.Context, batch []Order, force bool) (UpsertResult, error) {
	batch = latestPerOrder(batch)
	if len(batch) == 0 {
		return UpsertResult{}, nil
	}
	var (
		res UpsertResult
		err error
	)
	for attempt := 1; attempt <= upsertAttempts; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var txErr error
			res, txErr = upsertTx(ctx, tx, batch, force)
			return txErr
		})
		if err == nil || !retryable(err) {
			break
		}
		s.log.Warn("upsert batch raced another writer; retrying", "orders", len(batch), "attempt", attempt, "error", err)
	}
	if err != nil {
		return UpsertResult{}, fmt.Errorf("upsert %d orders: %w", len(batch), err)
	}
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
func latestPerOrder(batch []Order) []Order {
	out := slices.Clone(batch)
	slices.SortStableFunc(out, func(a, b Order) int {
		if c := cmpString(a.OrderID, b.OrderID); c != 0 {
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

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type storedOrder struct {
	updateTime *time.Time
	hash       []byte
}

func upsertTx(ctx context.Context, tx pgx.Tx, batch []Order, force bool) (UpsertResult, error) {
	ids := make([]string, len(batch))
	for i := range batch {
		ids[i] = batch[i].OrderID
	}
	// The row locks serialise writers of the same orders; the id order avoids deadlocks.
	rows, err := tx.Query(ctx, `
		SELECT o.order_id, o.update_time, p.content_hash
		FROM orders o LEFT JOIN order_payloads p USING (order_id)
		WHERE o.order_id = ANY($1)
		ORDER BY o.order_id
		FOR UPDATE OF o`, ids)
	if err != nil {
		return UpsertResult{}, fmt.Errorf("read stored orders: %w", err)
	}
	stored := make(map[string]storedOrder, len(batch))
	for rows.Next() {
		var (
			id string
			so storedOrder
		)
		if err := rows.Scan(&id, &so.updateTime, &so.hash); err != nil {
			rows.Close()
			return UpsertResult{}, fmt.Errorf("read stored orders: %w", err)
		}
		stored[id] = so
	}
	if err := rows.Err(); err != nil {
		return UpsertResult{}, fmt.Errorf("read stored orders: %w", err)
	}

	var (
		res     UpsertResult
		write   []*Order
		replace []string // stored orders whose rows are rewritten
		touchID []string
		touchAt []time.Time
		landed  = make([]string, 0, len(batch))
	)
	for i := range batch {
		o := &batch[i]
		so, exists := stored[o.OrderID]
		switch {
		case !exists:
			res.New++
			write = append(write, o)
		case !force && so.updateTime != nil && !o.UpdateTime.IsZero() && o.UpdateTime.Before(*so.updateTime):
			res.Stale++
			continue
		case !force && bytes.Equal(so.hash, o.Hash[:]):
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
			return UpsertResult{}, fmt.Errorf("move update_time: %w", err)
		}
	}
	if len(replace) > 0 {
		// Every child table and the payload reference orders ON DELETE CASCADE: deleting the
		// parent removes every old child row, whatever tables a future migration adds.
		if _, err := tx.Exec(ctx, `DELETE FROM orders WHERE order_id = ANY($1)`, replace); err != nil {
			return UpsertResult{}, fmt.Errorf("delete replaced orders: %w", err)
		}
	}
	if len(write) > 0 {
		if err := copyOrders(ctx, tx, write); err != nil {
			return UpsertResult{}, err
		}
	}
	if len(landed) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM sync_failures WHERE order_id = ANY($1)`, landed); err != nil {
			return UpsertResult{}, fmt.Errorf("clear failure queue: %w", err)
		}
	}
	return res, nil
}

// copyOrders COPYs the rows of every table and the payloads of orders that are not stored
// (any old rows were deleted by the caller in the same transaction).
func copyOrders(ctx context.Context, tx pgx.Tx, write []*Order) error {
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
		if !o.fetchedAt.IsZero() {
			fetched = o.fetchedAt
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
	rows, err := s.pool.Query(ctx, `SELECT order_id, update_time FROM orders WHERE order_id = ANY($1) AND update_time IS NOT NULL`, ids)
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

// ReplayResult counts what Replay did.
type ReplayResult struct {
	Orders int
	Failed []PrepareFailure
}

// replayChunk is how many stored payloads Replay rebuilds per transaction.
const replayChunk = 500

// Replay rebuilds the order tables of the given orders (all stored orders when ids is
// empty) from their stored raw payloads, without calling the API: after a mapping fix,
// the tables show what the new code makes of the same data. Each order keeps its
// update_time, list item, content hash and fetched_at. Payloads that no longer decode are
// reported and left as they are.
func (s *Store) Replay(ctx context.Context, ids []string) (ReplayResult, error) {
	var (
		res   ReplayResult
		after string
	)
	if ids == nil {
		ids = []string{}
	}
	for {
		batch, read, last, err := s.readPayloads(ctx, after, ids, &res)
		if err != nil {
			return res, fmt.Errorf("replay: %w", err)
		}
		if len(batch) > 0 {
			if _, err := s.upsert(ctx, batch, true); err != nil {
				return res, fmt.Errorf("replay: %w", err)
			}
			res.Orders += len(batch)
		}
		if read < replayChunk {
			return res, nil
		}
		after = last
	}
}

// readPayloads reads the next chunk of stored payloads after the id after and prepares
// them; those that fail are added to res.Failed. It returns how many rows it read and the
// last order id among them.
func (s *Store) readPayloads(ctx context.Context, after string, ids []string, res *ReplayResult) ([]Order, int, string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT p.order_id, o.update_time, p.detail, p.list_item, p.content_hash, p.fetched_at
		FROM order_payloads p JOIN orders o USING (order_id)
		WHERE p.order_id > $1 AND (cardinality($2::text[]) = 0 OR p.order_id = ANY($2))
		ORDER BY p.order_id LIMIT $3`, after, ids, replayChunk)
	if err != nil {
		return nil, 0, "", fmt.Errorf("read payloads: %w", err)
	}
	defer rows.Close()
	var (
		batch []Order
		read  int
	)
	for rows.Next() {
		read++
		var (
			p            Payload
			ut           *time.Time
			detail, item []byte
			hash         []byte
			fetched      time.Time
		)
		if err := rows.Scan(&p.OrderID, &ut, &detail, &item, &hash, &fetched); err != nil {
			return nil, 0, "", fmt.Errorf("read payloads: %w", err)
		}
		after = p.OrderID
		if ut != nil {
			p.UpdateTime = *ut
		}
		p.Detail, p.ListItem = detail, item
		o, err := Prepare(p)
		if err != nil {
			res.Failed = append(res.Failed, PrepareFailure{Payload: p, Err: err})
			continue
		}
		// Keep the hash of the payload as the API sent it: jsonb's text of it differs.
		copy(o.Hash[:], hash)
		o.fetchedAt = fetched
		batch = append(batch, o)
	}
	return batch, read, after, rows.Err()
}
