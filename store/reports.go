package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"ordersync/order"
)

// DailySales is a row of the report_daily_sales view: one shop's Shanghai day on which its
// orders were placed, paid or refunded. Money is in fen, and Gross + Shipment - Discounts =
// Collected. The JSON keys are the view's column names; the README's Reports section
// defines each figure.
type DailySales struct {
	// AppID is the shop: orders.app_id, "" for orders that name none, and "" in the rows of
	// DailySales, which add up every shop.
	AppID        string `json:"app_id"`
	Day          string `json:"day"` // YYYY-MM-DD, a calendar day in Asia/Shanghai
	OrdersPlaced int64  `json:"orders_placed"`
	OrdersPaid   int64  `json:"orders_paid"`
	Gross        int64  `json:"gross"`
	Shipment     int64  `json:"shipment"`
	Discounts    int64  `json:"discounts"`
	Collected    int64  `json:"collected"`
	Refunds      int64  `json:"refunds"`
	Refunded     int64  `json:"refunded"`
	Net          int64  `json:"net"`
}

// DailySalesByShop returns the rows of report_daily_sales for the Shanghai days from the
// day of from through the day of to, both included, ordered by day and then shop. appID
// names the shop; "" returns the rows of every shop, one per shop and day. A day on which a
// shop placed, sold and refunded nothing has no row for it.
func (s *Store) DailySalesByShop(ctx context.Context, appID string, from, to time.Time) ([]DailySales, error) {
	return s.dailySales(ctx, appID, true, from, to)
}

// DailySales returns report_daily_sales for the Shanghai days from the day of from through
// the day of to, both included, as one row per day that adds up every shop, with AppID "".
//
// Deprecated: use DailySalesByShop, which keeps the shops apart.
func (s *Store) DailySales(ctx context.Context, from, to time.Time) ([]DailySales, error) {
	return s.dailySales(ctx, "", false, from, to)
}

func (s *Store) dailySales(ctx context.Context, appID string, byShop bool, from, to time.Time) ([]DailySales, error) {
	first := from.In(order.Shanghai).Format(time.DateOnly)
	last := to.In(order.Shanghai).Format(time.DateOnly)
	// Grouped by shop, each group is one row of the view and the sums change nothing; not
	// by shop, they add the shops' rows of a day, which share no order.
	rows, err := s.pool.Query(ctx, `
		SELECT coalesce(CASE WHEN $3::boolean THEN app_id END, ''), to_char(day, 'YYYY-MM-DD'),
			sum(orders_placed)::bigint, sum(orders_paid)::bigint, sum(gross)::bigint,
			sum(shipment)::bigint, sum(discounts)::bigint, sum(collected)::bigint,
			sum(refunds)::bigint, sum(refunded)::bigint, sum(net)::bigint
		FROM report_daily_sales
		WHERE day BETWEEN $1::date AND $2::date AND ($4::text = '' OR app_id = $4)
		GROUP BY 1, day
		ORDER BY day, 1`, first, last, byShop, appID)
	if err != nil {
		return nil, fmt.Errorf("daily sales %s to %s of shop %q: %w", first, last, appID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DailySales])
	if err != nil {
		return nil, fmt.Errorf("daily sales %s to %s of shop %q: %w", first, last, appID, err)
	}
	return out, nil
}
