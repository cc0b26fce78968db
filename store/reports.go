package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"ordersync/order"
)

// DailySales is a row of the report_daily_sales view: one Shanghai day on which orders were
// placed, paid or refunded. Money is in fen. The JSON keys are the view's column names;
// docs/reports.md defines each figure.
type DailySales struct {
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

// DailySales returns the rows of report_daily_sales for the Shanghai days from the day of
// from through the day of to, both included, in day order. Days with no order placed, paid
// or refunded have no row.
func (s *Store) DailySales(ctx context.Context, from, to time.Time) ([]DailySales, error) {
	first := from.In(order.Shanghai).Format(time.DateOnly)
	last := to.In(order.Shanghai).Format(time.DateOnly)
	rows, err := s.pool.Query(ctx, `
		SELECT to_char(day, 'YYYY-MM-DD'), orders_placed, orders_paid, gross, shipment,
			discounts, collected, refunds, refunded, net
		FROM report_daily_sales
		WHERE day BETWEEN $1::date AND $2::date
		ORDER BY day`, first, last)
	if err != nil {
		return nil, fmt.Errorf("daily sales %s to %s: %w", first, last, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DailySales])
	if err != nil {
		return nil, fmt.Errorf("daily sales %s to %s: %w", first, last, err)
	}
	return out, nil
}
