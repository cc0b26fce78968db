package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"ordersync/order"
)

// StoredOrder is a stored order as a verify compares it with the API's list: its times.
// A time the row lacks (NULL) is zero.
type StoredOrder struct {
	OrderID    string
	CreateTime time.Time // orders.order_create_time
	UpdateTime time.Time // orders.update_time
}

// timeColumn is the orders column that holds a list cursor.
func timeColumn(field order.Cursor) (string, error) {
	switch field {
	case order.CreatedTime:
		return "order_create_time", nil
	case order.UpdateTime:
		return "update_time", nil
	}
	return "", fmt.Errorf("no orders column for %q", field)
}

// OrdersIn returns the stored orders of shop appID whose field lies in [start, end], as
// list windows are: both ends included, at one-second resolution.
func (s *Store) OrdersIn(ctx context.Context, appID string, field order.Cursor, start, end time.Time) ([]StoredOrder, error) {
	col, err := timeColumn(field)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT order_id, order_create_time, update_time FROM orders
		WHERE app_id = $1 AND `+col+` >= $2 AND `+col+` < $3::timestamptz + interval '1 second'
		ORDER BY `+col+`, order_id`, appID, start, end)
	if err != nil {
		return nil, fmt.Errorf("stored orders by %s: %w", field, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredOrder, error) {
		var (
			o                StoredOrder
			created, updated *time.Time
		)
		err := r.Scan(&o.OrderID, &created, &updated)
		if created != nil {
			o.CreateTime = *created
		}
		if updated != nil {
			o.UpdateTime = *updated
		}
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("stored orders by %s: %w", field, err)
	}
	return out, nil
}

// CountByDay counts the stored orders of shop appID created in [start, end] (both
// included, one-second resolution) per Asia/Shanghai day, as YYYY-MM-DD.
func (s *Store) CountByDay(ctx context.Context, appID string, start, end time.Time) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT to_char(order_create_time AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD'), count(*)
		FROM orders
		WHERE app_id = $1 AND order_create_time >= $2 AND order_create_time < $3::timestamptz + interval '1 second'
		GROUP BY 1`, appID, start, end)
	if err != nil {
		return nil, fmt.Errorf("count stored orders by day: %w", err)
	}
	out := map[string]int{}
	var (
		day string
		n   int
	)
	if _, err := pgx.ForEachRow(rows, []any{&day, &n}, func() error { out[day] = n; return nil }); err != nil {
		return nil, fmt.Errorf("count stored orders by day: %w", err)
	}
	return out, nil
}

// Finding is a stored order that fails one of the checks of CheckOrders.
type Finding struct {
	OrderID    string
	CreateTime time.Time
	Kind       string // FindingMoney or FindingConsistency
	Detail     string
}

// The kinds of Finding.
const (
	// FindingMoney is an amount that does not add up as the API's docs say it does.
	FindingMoney = "money"
	// FindingConsistency is a count or a reference between the order tables that does not
	// agree.
	FindingConsistency = "consistency"
)

// checkOrders is one query per rule, each tied to the sentences of the order detail 2.0
// docs (shared/xiaoe/order-detail-2.0.md) it rests on. A rule skips an amount the row
// lacks (NULL): the API did not send it, so there is nothing to compare.
const checkOrders = `
WITH o AS (
	SELECT order_id, order_create_time FROM orders
	WHERE app_id = $1 AND order_create_time >= $2 AND order_create_time < $3::timestamptz + interval '1 second'
),
lines AS (
	SELECT g.order_id, sum(coalesce(g.quantity, 0)) AS quantity,
		sum(coalesce(g.unit_price, 0) * coalesce(g.quantity, 0)) AS gross
	FROM order_goods g JOIN o USING (order_id)
	GROUP BY g.order_id
),
refunded AS (
	-- refund_records[].refund_state: "退款状态: 0-待退款, 1-退款中, 2-退款成功, 3-退款失败";
	-- only a successful refund has paid money back.
	SELECT r.order_id, sum(r.refund_amount) AS amount
	FROM order_refunds r JOIN o USING (order_id)
	WHERE r.refund_state = 2
	GROUP BY r.order_id
)
-- price_info.goods_total_count "商品总数" (the number of goods) counts the goods lines'
-- goods_list[].quantity "商品数量".
SELECT o.order_id, o.order_create_time, 'consistency',
	format('price_info.goods_total_count is %s, the goods lines'' quantities add up to %s', p.goods_total_count, coalesce(l.quantity, 0))
FROM o JOIN order_prices p USING (order_id) LEFT JOIN lines l USING (order_id)
WHERE p.goods_total_count <> coalesce(l.quantity, 0)
UNION ALL
-- price_info.gross_total "商品总价,单位:分" (the goods' total price) is the lines'
-- goods_list[].unit_price "商品单价,单位:分" times their quantity "商品数量".
SELECT o.order_id, o.order_create_time, 'money',
	format('price_info.gross_total is %s fen, the goods lines'' unit_price × quantity add up to %s', p.gross_total, coalesce(l.gross, 0))
FROM o JOIN order_prices p USING (order_id) LEFT JOIN lines l USING (order_id)
WHERE p.gross_total <> coalesce(l.gross, 0)
UNION ALL
-- goods_list[].sub_total "商品小计(实付金额 - 改价金额),单位:分": the line's actual_fee
-- "商品实收金额" less its modified_amount "商品改价金额".
SELECT o.order_id, o.order_create_time, 'money',
	format('goods line %s: sub_total is %s fen, but actual_fee %s − modified_amount %s is %s',
		g.line_no, g.sub_total, g.actual_fee, coalesce(g.modified_amount, 0), g.actual_fee - coalesce(g.modified_amount, 0))
FROM o JOIN order_goods g USING (order_id)
WHERE g.sub_total <> g.actual_fee - coalesce(g.modified_amount, 0)
UNION ALL
-- price_info.total_modified_amount "总改价金额" (the whole price change) is the goods'
-- goods_modified_amount "商品改价金额" and the freight's shipment_modified_amount
-- "运费改价金额".
SELECT o.order_id, o.order_create_time, 'money',
	format('price_info.total_modified_amount is %s fen, but goods_modified_amount %s + shipment_modified_amount %s is %s',
		p.total_modified_amount, coalesce(p.goods_modified_amount, 0), coalesce(p.shipment_modified_amount, 0),
		coalesce(p.goods_modified_amount, 0) + coalesce(p.shipment_modified_amount, 0))
FROM o JOIN order_prices p USING (order_id)
WHERE p.total_modified_amount <> coalesce(p.goods_modified_amount, 0) + coalesce(p.shipment_modified_amount, 0)
UNION ALL
-- refund_records[].refund_amount "退款金额,单位:分" of the successful refunds cannot exceed
-- price_info.earned_revenue "已收款,单位:分" (what was collected).
SELECT o.order_id, o.order_create_time, 'money',
	format('successful refunds add up to %s fen, more than the %s collected (price_info.earned_revenue)', r.amount, coalesce(p.earned_revenue, 0))
FROM o JOIN refunded r USING (order_id) JOIN order_prices p USING (order_id)
WHERE r.amount > coalesce(p.earned_revenue, 0)
UNION ALL
-- logistics_info.packages_info[].package_goods_info "商品信息" (the goods in the package)
-- are goods of the order: each names, by spu_id "商品 ID" and sku_id "规格 ID", a line of
-- goods_info.goods_list.
SELECT o.order_id, o.order_create_time, 'consistency',
	format('package %s goods line %s (spu_id %s, sku_id %s) is no goods line of the order',
		pg.package_no, pg.line_no, coalesce(pg.spu_id, 'NULL'), coalesce(pg.sku_id, 'NULL'))
FROM o JOIN order_package_goods pg USING (order_id)
WHERE NOT EXISTS (
	SELECT 1 FROM order_goods g
	WHERE g.order_id = pg.order_id AND g.spu_id IS NOT DISTINCT FROM pg.spu_id AND g.sku_id IS NOT DISTINCT FROM pg.sku_id)
ORDER BY 2, 1, 4`

// CheckOrders checks the stored orders of shop appID created in [start, end] against the
// sums and references that the API's docs imply, and returns those that fail, oldest
// first. It reads the tables only: no rule needs the API.
func (s *Store) CheckOrders(ctx context.Context, appID string, start, end time.Time) ([]Finding, error) {
	rows, err := s.pool.Query(ctx, checkOrders, appID, start, end)
	if err != nil {
		return nil, fmt.Errorf("check stored orders: %w", err)
	}
	fs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Finding])
	if err != nil {
		return nil, fmt.Errorf("check stored orders: %w", err)
	}
	return fs, nil
}

// Verification is a row of sync_verifications: one verify of a shop.
type Verification struct {
	VerificationID int64
	Status         string // VerifyOK, VerifyDiffers, StatusFailed or StatusInterrupted
	Horizon        time.Time
	APICalls       int
	// Counts are the anomalies left, by kind: missing, extra, stale, money, consistency.
	Counts   map[string]int
	Repaired int
	// Anomalies is the JSON array of the anomalies left.
	Anomalies json.RawMessage
	Error     *string
}

// The statuses of a finished verify.
const (
	VerifyOK      = "ok"      // no order missing, extra or stale
	VerifyDiffers = "differs" // some are
)

// StartVerification records the start of a verify of shop appID over the days from to to
// (Asia/Shanghai, both included) and returns its id.
func (s *Store) StartVerification(ctx context.Context, appID string, from, to time.Time, repair bool) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO sync_verifications (app_id, range_from, range_to, repair)
		VALUES ($1, $2::date, $3::date, $4) RETURNING verification_id`,
		appID, from.In(order.Shanghai).Format(time.DateOnly), to.In(order.Shanghai).Format(time.DateOnly), repair).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("start verify: %w", err)
	}
	return id, nil
}

// FinishVerification records how verify v ended. It is written even when ctx is already
// cancelled, so an interrupted verify leaves an honest row.
func (s *Store) FinishVerification(ctx context.Context, v Verification) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	anomalies := v.Anomalies
	if len(anomalies) == 0 {
		anomalies = json.RawMessage("[]")
	}
	_, err := s.pool.Exec(ctx, `
		UPDATE sync_verifications SET status = $2, horizon = $3, api_calls = $4, missing = $5,
			extra = $6, stale = $7, money = $8, consistency = $9, repaired = $10,
			anomalies = $11, error = $12, finished_at = now()
		WHERE verification_id = $1`,
		v.VerificationID, v.Status, nullTime(v.Horizon), v.APICalls, v.Counts["missing"],
		v.Counts["extra"], v.Counts["stale"], v.Counts["money"], v.Counts["consistency"],
		v.Repaired, []byte(anomalies), v.Error)
	if err != nil {
		return fmt.Errorf("finish verify %d: %w", v.VerificationID, err)
	}
	return nil
}
