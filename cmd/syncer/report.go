package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"ordersync/store"
)

func cmdReport(ctx context.Context, e *env, args []string) error {
	days := e.flags.Int("days", 14, "how many days, today included (Asia/Shanghai)")
	if err := e.parse(args); err != nil {
		return err
	}
	if *days <= 0 || e.flags.NArg() > 0 {
		return usagef("report takes --days N with N > 0")
	}
	st, err := e.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	rows, err := st.DailySales(ctx, now.AddDate(0, 0, 1-*days), now)
	if err != nil {
		return err
	}
	return printDailySales(e.stdout, rows)
}

// printDailySales prints the daily-sales rows with money in yuan, and a total line.
func printDailySales(w io.Writer, rows []store.DailySales) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "day\tplaced\tpaid\tgross\tdiscounts\tcollected\trefunded\tnet\t")
	var t store.DailySales
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Day, r.OrdersPlaced, r.OrdersPaid,
			yuan(r.Gross), yuan(r.Discounts), yuan(r.Collected), yuan(r.Refunded), yuan(r.Net))
		t.OrdersPlaced += r.OrdersPlaced
		t.OrdersPaid += r.OrdersPaid
		t.Gross += r.Gross
		t.Discounts += r.Discounts
		t.Collected += r.Collected
		t.Refunded += r.Refunded
		t.Net += r.Net
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", t.OrdersPlaced, t.OrdersPaid,
		yuan(t.Gross), yuan(t.Discounts), yuan(t.Collected), yuan(t.Refunded), yuan(t.Net))
	return tw.Flush()
}

// yuan formats fen as yuan with two decimals, exactly (no floating point).
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}
