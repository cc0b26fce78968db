package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"ordersync/order"
)

// ReplayResult counts what Replay did.
type ReplayResult struct {
	// Orders were rebuilt from their stored payloads.
	Orders int
	// Skipped orders were rewritten by a sync while the replay ran: their rows are the
	// newer version's, made by the same code, and the replay left them alone.
	Skipped int
	// Repaired orders waited in the failure queue with a reply that now prepares: they
	// landed, and left the queue.
	Repaired int
	// Failed are stored payloads and queued replies that still do not prepare.
	Failed []ReplayFailure
	// Unknown are asked-for order ids that are neither stored nor queued.
	Unknown []string
}

// ReplayFailure is an order whose stored payload or queued reply does not prepare.
type ReplayFailure struct {
	OrderID string
	Err     error
}

// replayChunk is how many stored payloads Replay rebuilds per transaction.
const replayChunk = 500

// Replay rebuilds the order tables of the given orders (every stored order when ids is
// empty) from their stored raw payloads, without calling the API: after a mapping fix,
// the tables show what the new code makes of the same data. Each order keeps its
// update_time, list item, content hash and fetched_at. Then it tries the replies kept in
// the failure queue again, and stores those that now prepare.
//
// Replay never writes an older version over a newer one: each chunk is rewritten in a
// transaction that locks its orders and rewrites only those whose hash and update_time are
// still the ones it read, so a sync that commits meanwhile wins.
func (s *Store) Replay(ctx context.Context, ids []string) (ReplayResult, error) {
	return s.replay(ctx, "", ids)
}

// ReplayShop is Replay of every order of one shop (orders.app_id), and of its failure
// queue.
func (s *Store) ReplayShop(ctx context.Context, appID string) (ReplayResult, error) {
	return s.replay(ctx, appID, nil)
}

func (s *Store) replay(ctx context.Context, appID string, ids []string) (ReplayResult, error) {
	var res ReplayResult
	if ids == nil {
		ids = []string{}
	}
	seen := make(map[string]bool, len(ids))
	for after := ""; ; {
		batch, expect, read, last, err := s.readPayloads(ctx, appID, after, ids, &res)
		if err != nil {
			return res, fmt.Errorf("replay: %w", err)
		}
		for _, o := range batch {
			seen[o.OrderID] = true
		}
		if len(batch) > 0 {
			wr, err := s.write(ctx, Batch{Orders: batch}, expect)
			if err != nil {
				return res, fmt.Errorf("replay: %w", err)
			}
			res.Orders += wr.Changed
			res.Skipped += wr.Stale
		}
		for _, f := range res.Failed {
			seen[f.OrderID] = true
		}
		if read < replayChunk {
			break
		}
		after = last
	}
	if err := s.replayFailures(ctx, appID, ids, seen, &res); err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	for _, id := range ids {
		if !seen[id] {
			res.Unknown = append(res.Unknown, id)
		}
	}
	return res, nil
}

// readPayloads reads the next chunk of stored payloads after the id after and prepares
// them; those that fail are added to res.Failed. It returns what it read of each order,
// how many rows it read and the last order id among them.
func (s *Store) readPayloads(ctx context.Context, appID, after string, ids []string, res *ReplayResult) ([]*order.Prepared, map[string]expected, int, string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT p.order_id, o.update_time, p.detail, p.list_item, p.content_hash, p.fetched_at
		FROM order_payloads p JOIN orders o USING (order_id)
		WHERE p.order_id > $1 AND (cardinality($2::text[]) = 0 OR p.order_id = ANY($2))
			AND ($4 = '' OR o.app_id = $4)
		ORDER BY p.order_id LIMIT $3`, after, ids, replayChunk, appID)
	if err != nil {
		return nil, nil, 0, "", fmt.Errorf("read payloads: %w", err)
	}
	defer rows.Close()
	var (
		batch  []*order.Prepared
		expect = make(map[string]expected)
		read   int
	)
	for rows.Next() {
		read++
		var (
			p    order.Payload
			ut   *time.Time
			hash []byte
		)
		if err := rows.Scan(&p.OrderID, &ut, &p.Detail, &p.ListItem, &hash, &p.FetchedAt); err != nil {
			return nil, nil, 0, "", fmt.Errorf("read payloads: %w", err)
		}
		after = p.OrderID
		if ut != nil {
			p.UpdateTime = *ut
		}
		o, err := order.Prepare(p)
		if err != nil {
			res.Failed = append(res.Failed, ReplayFailure{OrderID: p.OrderID, Err: err})
			continue
		}
		// Keep the hash of the payload as the API sent it: jsonb's text of it differs.
		copy(o.Hash[:], hash)
		expect[o.OrderID] = expected{hash: hash, updateTime: ut}
		batch = append(batch, o)
	}
	return batch, expect, read, after, rows.Err()
}

// replayFailures prepares the replies kept in the failure queue (of the orders ids, or
// all) again and stores those that now prepare, each for its shop.
func (s *Store) replayFailures(ctx context.Context, appID string, ids []string, seen map[string]bool, res *ReplayResult) error {
	rows, err := s.pool.Query(ctx, `SELECT `+failureColumns+` FROM sync_failures
		WHERE (cardinality($1::text[]) = 0 OR order_id = ANY($1)) AND ($2 = '' OR app_id = $2)
		ORDER BY app_id, order_id`, ids, appID)
	if err != nil {
		return fmt.Errorf("read failure queue: %w", err)
	}
	fs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Failure])
	if err != nil {
		return fmt.Errorf("read failure queue: %w", err)
	}
	byShop := make(map[string][]*order.Prepared)
	for _, f := range fs {
		seen[f.OrderID] = true
		data, ok := replyData(f.Reply)
		if !ok {
			continue // no detail was received: only the API can repair it
		}
		p := order.Payload{OrderID: f.OrderID, Detail: data, ListItem: f.ListItem}
		if f.UpdateTime != nil {
			p.UpdateTime = *f.UpdateTime
		}
		o, err := order.Prepare(p)
		if err != nil {
			res.Failed = append(res.Failed, ReplayFailure{OrderID: f.OrderID, Err: err})
			continue
		}
		byShop[f.AppID] = append(byShop[f.AppID], o)
	}
	for shop, orders := range byShop {
		wr, err := s.write(ctx, Batch{AppID: shop, Orders: orders}, nil)
		if err != nil {
			return err
		}
		res.Repaired += len(orders) - wr.Conflicts
	}
	return nil
}

// replyData is the data object of a reply kept in the failure queue when the reply is a
// success envelope (code 0) with data: a detail that the decoder refused.
func replyData(reply []byte) (json.RawMessage, bool) {
	var env struct {
		Code json.RawMessage `json:"code"`
		Data json.RawMessage `json:"data"`
	}
	if len(reply) == 0 || json.Unmarshal(reply, &env) != nil {
		return nil, false
	}
	if strings.Trim(string(bytes.TrimSpace(env.Code)), `"`) != "0" {
		return nil, false
	}
	switch d := bytes.TrimSpace(env.Data); {
	case len(d) == 0, string(d) == "null", d[0] != '{':
		return nil, false
	}
	return env.Data, true
}
