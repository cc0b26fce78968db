package dashboard

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// sales are a shop's figures over a range of Shanghai days, read from the reporting views
// of migrations/00003_reports.sql, which `syncer report` reads too: the same rows, so the
// same numbers. Money is fen.
type sales struct {
	Days     []day // every day of the range, those without a row of the view as zeros
	Total    day
	Goods    []goods
	Refunds  []refunds
	Carriers []carrier
}

// day is a row of report_daily_sales.
type day struct {
	Day       string
	Placed    int64
	Paid      int64
	Collected int64
	Refunded  int64
	Net       int64
}

// goods is one product (spu_id, sku_id) of report_goods_sales over the range.
type goods struct {
	Name     string
	Spec     string
	Quantity int64
	Revenue  int64
	Refunded int64
}

// refunds are the refund records of one refund_state of report_refunds over the range.
type refunds struct {
	State       string
	Records     int64
	Amount      int64
	MoneyReturn bool // refund_state 2 退款成功: the only state in which money went back
}

// carrier is one carrier's packages shipped in the range (report_packages).
type carrier struct {
	Name        string
	Packages    int64
	Delivered   int64
	AvgHours    *float64
	MedianHours *float64
}

// readSales reads the figures of shop appID for the Shanghai days from first to last, both
// included. Each view has the shop as app_id (migration 00008).
func readSales(ctx context.Context, tx pgx.Tx, appID string, first, last time.Time) (sales, error) {
	var s sales
	// Every query filters on the view's shop and day with the same bounds; the day columns
	// are computed from the raw timestamps, so the filter reaches the day indexes.
	args := []any{first.Format(time.DateOnly), last.Format(time.DateOnly), appID}
	query := func(what, sql string) (pgx.Rows, error) {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return nil, fmt.Errorf("%s %s to %s: %w", what, args[0], args[1], err)
		}
		return rows, nil
	}

	rows, err := query("daily sales", `
		SELECT to_char(day, 'YYYY-MM-DD'), orders_placed, orders_paid, collected, refunded, net
		FROM report_daily_sales WHERE app_id = $3 AND day BETWEEN $1::date AND $2::date ORDER BY day`)
	if err != nil {
		return s, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[day])
	if err != nil {
		return s, fmt.Errorf("daily sales: %w", err)
	}
	byDay := make(map[string]day, len(found))
	for _, d := range found {
		byDay[d.Day] = d
		s.Total.Placed += d.Placed
		s.Total.Paid += d.Paid
		s.Total.Collected += d.Collected
		s.Total.Refunded += d.Refunded
		s.Total.Net += d.Net
	}
	for t := first; !t.After(last); t = t.AddDate(0, 0, 1) {
		k := t.Format(time.DateOnly)
		d, ok := byDay[k]
		if !ok {
			d.Day = k
		}
		s.Days = append(s.Days, d)
	}

	// A refund that names no goods has NULL ids: it is money back, but no product.
	rows, err = query("top goods", `
		SELECT coalesce(min(goods_name), ''), coalesce(min(goods_spec_description), ''),
			sum(quantity)::bigint, sum(revenue)::bigint, sum(refunded)::bigint
		FROM report_goods_sales
		WHERE app_id = $3 AND day BETWEEN $1::date AND $2::date AND (spu_id IS NOT NULL OR sku_id IS NOT NULL)
		GROUP BY spu_id, sku_id
		ORDER BY sum(revenue) DESC, sum(quantity) DESC, spu_id, sku_id
		LIMIT 10`)
	if err != nil {
		return s, err
	}
	if s.Goods, err = pgx.CollectRows(rows, pgx.RowToStructByPos[goods]); err != nil {
		return s, fmt.Errorf("top goods: %w", err)
	}

	// Refund records without a refund_time have day NULL and no place in a range of days.
	rows, err = query("refunds", `
		SELECT coalesce(min(refund_state_description), 'state ' || coalesce(refund_state::text, 'unknown')),
			sum(refunds)::bigint, sum(refund_amount)::bigint, coalesce(refund_state = 2, false)
		FROM report_refunds WHERE app_id = $3 AND day BETWEEN $1::date AND $2::date
		GROUP BY refund_state ORDER BY refund_state NULLS LAST`)
	if err != nil {
		return s, err
	}
	if s.Refunds, err = pgx.CollectRows(rows, pgx.RowToStructByPos[refunds]); err != nil {
		return s, fmt.Errorf("refunds: %w", err)
	}

	// report_carriers covers all time; over a range, its figures are computed the same way
	// from report_packages, for the packages shipped (departure_time) in the range.
	rows, err = query("carriers", `
		SELECT coalesce(logistics_company_name, ''), count(*), count(*) FILTER (WHERE delivered),
			round(avg(extract(epoch FROM time_to_delivery)) / 3600, 2)::float8,
			round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM time_to_delivery)) / 3600)::numeric, 2)::float8
		FROM report_packages WHERE app_id = $3 AND ship_day BETWEEN $1::date AND $2::date
		GROUP BY logistics_company_name ORDER BY count(*) DESC, 1`)
	if err != nil {
		return s, err
	}
	if s.Carriers, err = pgx.CollectRows(rows, pgx.RowToStructByPos[carrier]); err != nil {
		return s, fmt.Errorf("carriers: %w", err)
	}
	return s, nil
}
