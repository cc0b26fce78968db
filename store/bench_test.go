package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
	"ordersync/store"
	"ordersync/store/storetest"
)

// benchBatch is the batch size the sync writes with.
const benchBatch = 500

// realisticPayloads returns n payloads made from the hand-written fixtures in
// testdata/orders, each under an order id of its own.
func realisticPayloads(b testing.TB, n int, prefix string) []order.Payload {
	b.Helper()
	files, err := filepath.Glob("../testdata/orders/*.json")
	if err != nil {
		b.Fatal(err)
	}
	type fixture struct {
		id           string
		detail, item []byte
	}
	var fixtures []fixture
	for _, f := range files {
		if strings.Contains(filepath.Base(f), "bad_") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var fx struct {
			Detail   json.RawMessage `json:"detail"`
			ListItem json.RawMessage `json:"list_item"`
		}
		if err := json.Unmarshal(raw, &fx); err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		d, err := order.Decode(fx.Detail)
		if err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		fixtures = append(fixtures, fixture{string(d.OrderInfo.OrderID), fx.Detail, fx.ListItem})
	}
	if len(fixtures) == 0 {
		b.Fatal("no fixtures in testdata/orders")
	}
	out := make([]order.Payload, n)
	for i := range out {
		fx := fixtures[i%len(fixtures)]
		id := fmt.Sprintf("%s%08d", prefix, i)
		out[i] = order.Payload{
			OrderID:    id,
			UpdateTime: t0,
			Detail:     bytes.ReplaceAll(fx.detail, []byte(fx.id), []byte(id)),
			ListItem:   bytes.ReplaceAll(fx.item, []byte(fx.id), []byte(id)),
		}
	}
	return out
}

func reportOrders(b *testing.B, orders int) {
	b.ReportMetric(float64(orders)/b.Elapsed().Seconds(), "orders/s")
	b.ReportMetric(0, "ns/op") // per batch, not per order: orders/s is the figure to read
}

// generatedPayloads returns n orders of the simulated shop: a shop's mix, mostly simple
// knowledge orders, where the fixtures are each a rich case.
func generatedPayloads(b testing.TB, n int, prefix string) []order.Payload {
	b.Helper()
	shop := fetchtest.New(fetchtest.Options{Seed: 7, Orders: n})
	out := make([]order.Payload, 0, n)
	for i, o := range shop.Orders() {
		id := fmt.Sprintf("%s%08d", prefix, i)
		out = append(out, order.Payload{
			OrderID:    id,
			UpdateTime: o.Updated,
			Detail:     bytes.ReplaceAll(o.Detail, []byte(o.ID), []byte(id)),
			ListItem:   bytes.ReplaceAll(o.ListItem, []byte(o.ID), []byte(id)),
		})
	}
	return out
}

// BenchmarkUpsert measures the store's write path and, in the same run, two references: a
// naive writer (one INSERT … ON CONFLICT per row, one transaction per order) and a bare
// COPY of the same rows into empty tables. Compare their orders/s. It runs on two sets of
// orders: the hand-written fixtures (each a rich case: 12 rows and a 9 KB payload on
// average) and the simulated shop's mix.
func BenchmarkUpsert(b *testing.B) {
	for _, data := range []struct {
		name string
		make func(testing.TB, int, string) []order.Payload
	}{{"fixtures", realisticPayloads}, {"generated", generatedPayloads}} {
		b.Run(data.name, func(b *testing.B) { benchmarkUpsert(b, data.make) })
	}
}

func benchmarkUpsert(b *testing.B, realisticPayloads func(testing.TB, int, string) []order.Payload) {
	ctx := context.Background()

	b.Run("new", func(b *testing.B) {
		s := storetest.Store(b)
		orders := prepare(b, realisticPayloads(b, b.N*benchBatch, "new")...)
		b.ResetTimer()
		for i := range b.N {
			if _, err := s.Write(ctx, store.Batch{Orders: orders[i*benchBatch : (i+1)*benchBatch]}); err != nil {
				b.Fatal(err)
			}
		}
		reportOrders(b, b.N*benchBatch)
	})

	// Two writers at once, each with batches of its own: the store is safe for concurrent
	// writers, and a server has more than one core.
	b.Run("new-2-writers", func(b *testing.B) {
		s := storetest.Store(b)
		orders := prepare(b, realisticPayloads(b, 2*b.N*benchBatch, "new2")...)
		b.ResetTimer()
		parallelBatches(b, orders, func(batch []*order.Prepared) error {
			_, err := s.Write(ctx, store.Batch{Orders: batch})
			return err
		})
		reportOrders(b, len(orders))
	})

	b.Run("unchanged", func(b *testing.B) {
		s := storetest.Store(b)
		const stored = 20 * benchBatch
		orders := prepare(b, realisticPayloads(b, stored, "same")...)
		for i := 0; i < stored; i += benchBatch {
			if _, err := s.Write(ctx, store.Batch{Orders: orders[i : i+benchBatch]}); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for i := range b.N {
			j := (i * benchBatch) % stored
			res, err := s.Write(ctx, store.Batch{Orders: orders[j : j+benchBatch]})
			if err != nil || res.Unchanged != benchBatch {
				b.Fatalf("%+v, %v", res, err)
			}
		}
		reportOrders(b, b.N*benchBatch)
	})

	b.Run("changed", func(b *testing.B) {
		s := storetest.Store(b)
		const stored = 10 * benchBatch
		orders := prepare(b, realisticPayloads(b, stored, "chg")...)
		for i := 0; i < stored; i += benchBatch {
			if _, err := s.Write(ctx, store.Batch{Orders: orders[i : i+benchBatch]}); err != nil {
				b.Fatal(err)
			}
		}
		// Every order of every batch has new content (a different hash) and a later update_time.
		changed := make([][]*order.Prepared, b.N)
		for i := range changed {
			j := (i * benchBatch) % stored
			batch := make([]*order.Prepared, benchBatch)
			for k, o := range orders[j : j+benchBatch] {
				c := *o
				c.Hash[0] ^= byte(i + 1)
				c.UpdateTime = c.UpdateTime.Add(timeStep(i + 1))
				batch[k] = &c
			}
			changed[i] = batch
		}
		b.ResetTimer()
		for i := range b.N {
			res, err := s.Write(ctx, store.Batch{Orders: changed[i]})
			if err != nil || res.Changed != benchBatch {
				b.Fatalf("%+v, %v", res, err)
			}
		}
		reportOrders(b, b.N*benchBatch)
	})

	b.Run("baseline=copy-2-writers", func(b *testing.B) {
		s := storetest.Store(b)
		orders := prepare(b, realisticPayloads(b, 2*b.N*benchBatch, "copy2")...)
		b.ResetTimer()
		parallelBatches(b, orders, func(batch []*order.Prepared) error { return bareCopy(ctx, s, batch) })
		reportOrders(b, len(orders))
	})

	b.Run("baseline=naive", func(b *testing.B) {
		s := storetest.Store(b)
		orders := prepare(b, realisticPayloads(b, b.N*benchBatch, "naive")...)
		b.ResetTimer()
		for i := range orders {
			if err := naiveUpsert(ctx, s, orders[i]); err != nil {
				b.Fatal(err)
			}
		}
		reportOrders(b, len(orders))
	})

	b.Run("baseline=copy", func(b *testing.B) {
		s := storetest.Store(b)
		orders := prepare(b, realisticPayloads(b, b.N*benchBatch, "copy")...)
		b.ResetTimer()
		for i := range b.N {
			if err := bareCopy(ctx, s, orders[i*benchBatch:(i+1)*benchBatch]); err != nil {
				b.Fatal(err)
			}
		}
		reportOrders(b, b.N*benchBatch)
	})
}

// parallelBatches writes orders in batches from two goroutines.
func parallelBatches(b *testing.B, orders []*order.Prepared, write func([]*order.Prepared) error) {
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	half := len(orders) / 2
	for _, part := range [][]*order.Prepared{orders[:half], orders[half:]} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i+benchBatch <= len(part); i += benchBatch {
				if err := write(part[i : i+benchBatch]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// naiveUpsert is how a hand-written sync script writes: a transaction per order and an
// INSERT … ON CONFLICT DO UPDATE per row.
func naiveUpsert(ctx context.Context, s *store.Store, o *order.Prepared) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if err := serverDefaults(ctx, tx); err != nil {
			return err
		}
		for _, t := range order.Tables {
			cols := t.ColumnNames()
			var params, sets []string
			for i, c := range cols {
				params = append(params, fmt.Sprintf("$%d", i+1))
				sets = append(sets, c+" = excluded."+c)
			}
			q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO UPDATE SET %s",
				t.Name, strings.Join(cols, ", "), strings.Join(params, ", "), strings.Join(t.Keys, ", "), strings.Join(sets, ", "))
			for _, row := range o.Rows[t.ID] {
				if _, err := tx.Exec(ctx, q, row...); err != nil {
					return fmt.Errorf("%s: %w", t.Name, err)
				}
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO order_payloads (order_id, detail, list_item, content_hash) VALUES ($1, $2, $3, $4)
			ON CONFLICT (order_id) DO UPDATE SET detail = excluded.detail, list_item = excluded.list_item, content_hash = excluded.content_hash`,
			o.OrderID, []byte(o.Detail), []byte(o.ListItem), o.Hash[:])
		return err
	})
}

// bareCopy COPYs the batch's rows into the tables in one transaction, with no check of
// what is stored: the fastest any writer of these rows can be.
func bareCopy(ctx context.Context, s *store.Store, batch []*order.Prepared) error {
	return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		if err := serverDefaults(ctx, tx); err != nil {
			return err
		}
		for _, t := range order.Tables {
			var rows [][]any
			for i := range batch {
				rows = append(rows, batch[i].Rows[t.ID]...)
			}
			if len(rows) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.Name}, t.ColumnNames(), pgx.CopyFromRows(rows)); err != nil {
				return err
			}
		}
		rows := make([][]any, len(batch))
		for i, o := range batch {
			rows[i] = []any{o.OrderID, []byte(o.Detail), []byte(o.ListItem), o.Hash[:]}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"order_payloads"}, []string{"order_id", "detail", "list_item", "content_hash"}, pgx.CopyFromRows(rows))
		return err
	})
}

// serverDefaults undoes, for the baselines' transaction, the plan_cache_mode that the
// store sets on its connections: a writer of its own would run with the server's default,
// under which the foreign keys' checks are planned once per connection, not once per row.
func serverDefaults(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = auto")
	return err
}

// bigStored is how many orders the big tables of BenchmarkWriteIntoBigTables hold: a big
// agency's shop after its backfill.
const bigStored = 300_000

// syncBatch is the pipeline's default batch (pipeline.Config.BatchSize).
const syncBatch = 200

// BenchmarkWriteIntoBigTables writes new orders, in the pipeline's batches, into tables
// that already hold bigStored orders, and in the same run into empty tables: ratio-to-empty
// is what the size of the tables costs a write. The big tables are filled once per run
// (a minute or two), then analyzed, as the store does every analyzeEvery new orders.
func BenchmarkWriteIntoBigTables(b *testing.B) {
	big := bigStore(b)
	rounds := 0 // each round writes orders of its own: ids never repeat
	writeNew := func(b *testing.B, s *store.Store) float64 {
		rounds++
		orders := prepare(b, generatedPayloads(b, b.N*syncBatch, fmt.Sprintf("new%d_", rounds))...)
		b.ResetTimer()
		for i := range b.N {
			res, err := s.Write(context.Background(), store.Batch{Orders: orders[i*syncBatch : (i+1)*syncBatch]})
			if err != nil || res.New != syncBatch {
				b.Fatalf("%+v, %v", res, err)
			}
		}
		reportOrders(b, b.N*syncBatch)
		return float64(b.N*syncBatch) / b.Elapsed().Seconds()
	}
	var empty float64
	b.Run("stored=0", func(b *testing.B) { empty = writeNew(b, storetest.Store(b)) })
	b.Run(fmt.Sprint("stored=", bigStored), func(b *testing.B) {
		rate := writeNew(b, big)
		b.ReportMetric(rate/empty, "ratio-to-empty")
	})
}

// bigStore returns a store whose tables hold bigStored orders: copies of a few thousand
// of the simulated shop's orders, each under an id of its own and with its times moved by
// a second per copy, so that the tables and every index grow as a shop's do. (A copy's
// stored payload still names the order it was copied from; writes do not read it.)
func bigStore(b *testing.B) *store.Store {
	b.Helper()
	ctx := context.Background()
	s := storetest.Store(b)
	seed := prepare(b, generatedPayloads(b, 3000, "seed")...)
	start := time.Now()
	const batch = 5000
	orders := make([]*order.Prepared, 0, batch)
	for i := range bigStored {
		orders = append(orders, copyOrder(seed[i%len(seed)], fmt.Sprintf("big%08d", i), time.Duration(i/len(seed))*time.Second))
		if len(orders) == batch || i == bigStored-1 {
			if err := bareCopy(ctx, s, orders); err != nil {
				b.Fatal(err)
			}
			orders = orders[:0]
		}
	}
	if _, err := s.Pool().Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled the tables with %d orders in %s", bigStored, time.Since(start).Round(time.Second))
	return s
}

// orderIDColumn is the position of order_id in each table's rows.
var orderIDColumn = func() (pos [order.NumTables]int) {
	for _, t := range order.Tables {
		pos[t.ID] = slices.Index(t.ColumnNames(), "order_id")
	}
	return pos
}()

// copyOrder is o under the id id, with every time in its rows moved by shift.
func copyOrder(o *order.Prepared, id string, shift time.Duration) *order.Prepared {
	c := *o
	c.OrderID = id
	c.UpdateTime = o.UpdateTime.Add(shift)
	c.Rows = new(order.Rows)
	for t, rows := range o.Rows {
		for _, row := range rows {
			r := slices.Clone(row)
			for i, v := range r {
				if tm, ok := v.(time.Time); ok {
					r[i] = tm.Add(shift)
				}
			}
			r[orderIDColumn[t]] = id
			c.Rows[t] = append(c.Rows[t], r)
		}
	}
	return &c
}
