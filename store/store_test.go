package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"ordersync/order"
	"ordersync/store"
	"ordersync/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, order.Shanghai)

// shape describes a synthetic order: how many goods lines, refunds and packages it has.
type shape struct {
	id                       string
	lines, refunds, packages int
	amount                   int // unit price in fen; change it to change the content
	updated                  time.Time
}

func (s shape) payload(t testing.TB) order.Payload {
	t.Helper()
	var goods, refunds, packages []any
	for i := range s.lines {
		goods = append(goods, map[string]any{
			"goods_name": fmt.Sprintf("课程 %d", i), "quantity": 1, "unit_price": s.amount + i,
			"actual_fee": s.amount + i, "spu_type": "ENT", "sku_id": fmt.Sprintf("SKU_ENT_%d", i),
			"discounts_info": map[string]any{
				"coupons_list":   []any{map[string]any{"discount_amount": 100, "discount_name": "满减券"}},
				"discounts_list": []any{},
			},
		})
	}
	for i := range s.refunds {
		refunds = append(refunds, map[string]any{
			"after_sale_id": fmt.Sprintf("A%d", i), "refund_amount": 100 + i, "refund_type": 2,
			"refund_time": "2026-03-02 12:00:00",
			"goods_info":  map[string]any{"goods_name": fmt.Sprintf("课程 %d", i), "refund_amount": 100 + i},
		})
	}
	for i := range s.packages {
		packages = append(packages, map[string]any{
			"express_id": fmt.Sprintf("SF%d", i), "logistics_company_name": "顺丰速运",
			"departure_time":     "2026-03-01 18:00:00",
			"package_trace_info": []any{map[string]any{"text": "已揽收", "time": "2026-03-01 19:00:00"}},
		})
	}
	d := map[string]any{
		"order_info": map[string]any{"order_id": s.id, "order_state": 4, "order_create_time": "2026-03-01 10:00:00", "has_result": true},
		"buyer_info": map[string]any{"nickname": "小鹅", "has_result": true},
		"price_info": map[string]any{"collectibles": s.amount * s.lines, "has_result": true},
		"goods_info": map[string]any{"goods_list": goods, "has_result": s.lines > 0},
		"internal_extra_info": map[string]any{
			"refund_info":    map[string]any{"refund_records": refunds, "has_result": s.refunds > 0},
			"logistics_info": map[string]any{"packages_info": packages, "has_result": s.packages > 0},
		},
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	u := s.updated
	if u.IsZero() {
		u = t0
	}
	return order.Payload{OrderID: s.id, UpdateTime: u, Detail: b, ListItem: json.RawMessage(`{"order_info":{"order_id":"` + s.id + `"}}`)}
}

func prepare(t testing.TB, ps ...order.Payload) []*order.Prepared {
	t.Helper()
	orders := make([]*order.Prepared, len(ps))
	for i, p := range ps {
		o, err := order.Prepare(p)
		if err != nil {
			t.Fatalf("prepare %s: %v", p.OrderID, err)
		}
		orders[i] = o
	}
	return orders
}

func count(t testing.TB, s *store.Store, table, id string) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE order_id = $1", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSchemaMatchesTableMap checks the migrations against the code's table map: the same
// tables, columns in the same order with the same types, and the same primary keys.
func TestSchemaMatchesTableMap(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	for _, tab := range order.Tables {
		rows, err := s.Pool().Query(ctx, `
			SELECT column_name, CASE data_type WHEN 'timestamp with time zone' THEN 'timestamptz' ELSE data_type END
			FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1
			ORDER BY ordinal_position`, tab.Name)
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				t.Fatal(err)
			}
			got = append(got, name+" "+typ)
		}
		rows.Close()
		for _, c := range tab.Columns {
			want = append(want, c.Name+" "+c.Type)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("table %s (-map +database):\n%s", tab.Name, diff)
		}
		var keys []string
		err = s.Pool().QueryRow(ctx, `
			SELECT array_agg(a.attname ORDER BY k.ord)
			FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
			WHERE i.indrelid = $1::regclass AND i.indisprimary`, tab.Name).Scan(&keys)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tab.Keys, keys); diff != "" {
			t.Errorf("primary key of %s (-map +database):\n%s", tab.Name, diff)
		}
	}
}

// xmins returns the xmin of every row of the order in every table: a row rewritten in a
// later transaction has a new xmin.
func xmins(t testing.TB, s *store.Store, id string) map[string]string {
	t.Helper()
	out := map[string]string{}
	tables := []string{"order_payloads"}
	for _, tab := range order.Tables {
		tables = append(tables, tab.Name)
	}
	for _, tab := range tables {
		rows, err := s.Pool().Query(context.Background(), "SELECT ctid::text, xmin::text FROM "+tab+" WHERE order_id = $1", id)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var ctid, xmin string
			if err := rows.Scan(&ctid, &xmin); err != nil {
				t.Fatal(err)
			}
			out[tab+ctid] = xmin
		}
		rows.Close()
	}
	return out
}

// twoOrders is a batch of a rich order (3 lines, 2 refunds, 2 packages) and a plain one.
func twoOrders(t testing.TB) []*order.Prepared {
	t.Helper()
	return prepare(t,
		shape{id: "o_1", lines: 3, refunds: 2, packages: 2, amount: 9900}.payload(t),
		shape{id: "o_2", lines: 1, amount: 100}.payload(t))
}

func TestUpsertSameBatchTwiceWritesNothing(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	batch := twoOrders(t)
	res, err := s.Write(ctx, store.Batch{Orders: batch})
	if err != nil {
		t.Fatal(err)
	}
	if res.New != 2 {
		t.Fatalf("first upsert: %+v, want 2 new", res)
	}
	before := xmins(t, s, "o_1")
	if len(before) < 10 {
		t.Fatalf("o_1 has only %d rows", len(before))
	}
	res, err = s.Write(ctx, store.Batch{Orders: batch})
	if err != nil {
		t.Fatal(err)
	}
	if res != (store.UpsertResult{Unchanged: 2}) {
		t.Errorf("second upsert: %+v, want 2 unchanged", res)
	}
	if diff := cmp.Diff(before, xmins(t, s, "o_1")); diff != "" {
		t.Errorf("rows rewritten by an unchanged upsert (-before +after):\n%s", diff)
	}
}

func TestUpsertReplacesChildren(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	first := shape{id: "o_1", lines: 3, refunds: 2, packages: 2, amount: 9900}
	if _, err := s.Write(ctx, store.Batch{Orders: prepare(t, first.payload(t))}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"order_goods": 3, "order_goods_discounts": 3, "order_refunds": 2, "order_refund_goods": 2, "order_packages": 2, "order_package_traces": 2}
	for tab, n := range want {
		if got := count(t, s, tab, "o_1"); got != n {
			t.Fatalf("after the first upsert %s has %d rows, want %d", tab, got, n)
		}
	}

	second := shape{id: "o_1", lines: 2, refunds: 0, packages: 1, amount: 9900, updated: t0.Add(time.Hour)}
	res, err := s.Write(ctx, store.Batch{Orders: prepare(t, second.payload(t))})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed != 1 {
		t.Fatalf("upsert of the shrunken order: %+v, want 1 changed", res)
	}
	want = map[string]int{"orders": 1, "order_goods": 2, "order_goods_discounts": 2, "order_refunds": 0, "order_refund_goods": 0, "order_packages": 1, "order_package_traces": 1, "order_payloads": 1}
	for tab, n := range want {
		if got := count(t, s, tab, "o_1"); got != n {
			t.Errorf("after the second upsert %s has %d rows, want %d", tab, got, n)
		}
	}
	var lines []int
	if err := s.Pool().QueryRow(ctx, "SELECT array_agg(line_no ORDER BY line_no) FROM order_goods WHERE order_id = 'o_1'").Scan(&lines); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{0, 1}, lines); diff != "" {
		t.Errorf("goods lines (-want +got):\n%s", diff)
	}
}

func TestUpsertTouchedAndStale(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	o := shape{id: "o_1", lines: 1, amount: 500, updated: t0}
	if _, err := s.Write(ctx, store.Batch{Orders: prepare(t, o.payload(t))}); err != nil {
		t.Fatal(err)
	}
	before := xmins(t, s, "o_1")

	// Same content, newer update_time: only orders.update_time moves; the stored list item stays.
	touched := o
	touched.updated = t0.Add(time.Hour)
	p := touched.payload(t)
	p.ListItem = json.RawMessage(`{"order_info":{"order_id":"o_1","note":"newer"}}`)
	res, err := s.Write(ctx, store.Batch{Orders: prepare(t, p)})
	if err != nil || res != (store.UpsertResult{Touched: 1}) {
		t.Fatalf("touch: %+v, %v", res, err)
	}
	after := xmins(t, s, "o_1")
	changed := 0
	for k, v := range after {
		if before[k] != v {
			changed++
			if !strings.HasPrefix(k, "orders(") {
				t.Errorf("row %s rewritten by a touch", k)
			}
		}
	}
	if changed != 1 {
		t.Errorf("%d rows rewritten by a touch, want the orders row only", changed)
	}
	var item string
	if err := s.Pool().QueryRow(ctx, "SELECT list_item::text FROM order_payloads WHERE order_id = 'o_1'").Scan(&item); err != nil || strings.Contains(item, "newer") {
		t.Errorf("list item after a touch = %s, %v; want the one of the last real change", item, err)
	}

	// Older than what is stored: a late write of an earlier fetch must not win.
	stale := o
	stale.amount = 1
	stale.updated = t0.Add(-time.Hour)
	res, err = s.Write(ctx, store.Batch{Orders: prepare(t, stale.payload(t))})
	if err != nil || res != (store.UpsertResult{Stale: 1}) {
		t.Fatalf("stale: %+v, %v", res, err)
	}
	var price int64
	if err := s.Pool().QueryRow(ctx, "SELECT unit_price FROM order_goods WHERE order_id = 'o_1'").Scan(&price); err != nil || price != 500 {
		t.Errorf("unit_price after a stale write = %d, %v; want 500", price, err)
	}
}

// TestReplayReproducesRows rebuilds the tables from the stored payloads and compares every
// table's rows with those the original upsert wrote.
func TestReplayReproducesRows(t *testing.T) {
	t.Parallel()
	s := storetest.Store(t)
	ctx := context.Background()
	batch := twoOrders(t)
	if _, err := s.Write(ctx, store.Batch{Orders: batch}); err != nil {
		t.Fatal(err)
	}
	before := dump(t, s)
	// A mapping bug or a lost row: replay must bring the tables back from the payloads.
	if _, err := s.Pool().Exec(ctx, "DELETE FROM order_goods WHERE order_id = 'o_1' AND line_no = 1; UPDATE order_buyers SET nickname = 'wrong'"); err != nil {
		t.Fatal(err)
	}
	res, err := s.Replay(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Orders != 2 || len(res.Failed) != 0 {
		t.Errorf("replay: %+v", res)
	}
	if diff := cmp.Diff(before, dump(t, s)); diff != "" {
		t.Errorf("tables after replay (-original +replayed):\n%s", diff)
	}
	// The content hash is the API payload's: a later fetch of the same content is unchanged.
	up, err := s.Write(ctx, store.Batch{Orders: batch})
	if err != nil || up.Unchanged != 2 {
		t.Errorf("upsert after replay: %+v, %v; want 2 unchanged", up, err)
	}
}

// dump returns every row of every order table and of order_payloads as text.
func dump(t testing.TB, s *store.Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	tables := []string{"order_payloads"}
	for _, tab := range order.Tables {
		tables = append(tables, tab.Name)
	}
	for _, tab := range tables {
		var rows []string
		err := s.Pool().QueryRow(context.Background(),
			fmt.Sprintf("SELECT coalesce(array_agg(t::text ORDER BY t::text), '{}') FROM %s t", tab)).Scan(&rows)
		if err != nil {
			t.Fatal(err)
		}
		out[tab] = rows
	}
	return out
}

func TestMigrateDownAndUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.New(ctx, storetest.NewDatabase(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CheckSchema(ctx); !errors.Is(err, store.ErrSchemaOutdated) {
		t.Fatalf("CheckSchema on an empty database = %v, want ErrSchemaOutdated", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after migrate: %v", err)
	}
	st, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A row in a table that rolling back drops stops it, unless rows may be dropped.
	if _, err := s.Pool().Exec(ctx, "INSERT INTO orders (order_id) VALUES ('o_kept')"); err != nil {
		t.Fatal(err)
	}
	refused, err := s.MigrateDown(ctx, 0, false)
	if !errors.Is(err, store.ErrDropsRows) {
		t.Fatalf("MigrateDown(0, false) with an order stored = %v, want ErrDropsRows", err)
	}
	listed := false
	for _, r := range refused {
		for _, d := range r.Drops {
			listed = listed || d == store.Drop{Kind: "table", Name: "orders", Rows: 1}
		}
	}
	if len(refused) != len(st) || !listed {
		t.Errorf("refused rollback lists %+v, want all %d migrations and orders with its 1 row", refused, len(st))
	}
	var kept int
	if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&kept); err != nil || kept != 1 {
		t.Fatalf("orders after a refused rollback: %d rows (%v), want the 1 kept", kept, err)
	}
	if err := s.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after a refused rollback: %v", err)
	}
	rolled, err := s.MigrateDown(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rolled) != len(st) {
		t.Errorf("rolled back %d migrations, want all %d", len(rolled), len(st))
	}
	var tables int
	if err := s.Pool().QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'goose_db_version'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("%d tables left after migrating all the way down", tables)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate up again: %v", err)
	}
	if _, err := s.Write(ctx, store.Batch{Orders: prepare(t, shape{id: "o_1", lines: 1, amount: 1}.payload(t))}); err != nil {
		t.Fatal(err)
	}
}

func timeStep(i int) time.Duration { return time.Duration(i) * time.Minute }
