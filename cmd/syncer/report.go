package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/width"

	"ordersync/order"
	"ordersync/store"
)

func cmdReport(ctx context.Context, e *env, args []string) error {
	days := e.flags.Int("days", 14, "the last `N` Shanghai days, today included")
	by := newChoice(e.flags, "by", "one row per Shanghai day (report_daily_sales), or per goods sold or refunded over the days (report_goods_sales)", "day", "goods")
	format := newChoice(e.flags, "format", "a table in yuan; CSV in yuan, for spreadsheets; or JSON in fen, the views' unit, with their column names", "table", "csv", "json")
	if err := e.parse(args); err != nil {
		return err
	}
	if *days <= 0 {
		return usagef("--days %d: want a positive number of days", *days)
	}
	st, err := e.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer st.Close()
	to := time.Now().In(order.Shanghai)
	from := to.AddDate(0, 0, 1-*days)
	period := reportPeriod{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), Unit: "fen"}
	// Every shop apart, or the one of --shop.
	if by.value == "goods" {
		rows, err := goodsSalesOf(ctx, st, e.cfg.Shop, period)
		if err != nil {
			return err
		}
		switch format.value {
		case "csv":
			return goodsCSV(e.stdout, rows)
		case "json":
			return writeJSON(e.stdout, struct {
				reportPeriod
				Goods []goodsSales `json:"goods"`
			}{period, nonNil(rows)})
		}
		return printGoodsSales(e.stdout, rows)
	}
	rows, err := st.DailySalesByShop(ctx, e.cfg.Shop, from, to)
	if err != nil {
		return err
	}
	switch format.value {
	case "csv":
		return dailySalesCSV(e.stdout, rows)
	case "json":
		return writeJSON(e.stdout, struct {
			reportPeriod
			Days []store.DailySales `json:"days"`
		}{period, nonNil(rows)})
	}
	return printDailySales(e.stdout, rows)
}

// reportPeriod opens a JSON report: the Shanghai days it covers and its money unit.
type reportPeriod struct {
	From string `json:"from"`
	To   string `json:"to"`
	Unit string `json:"unit"`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printDailySales prints the daily-sales rows with money in yuan, and a total line. On
// every row gross + shipment - discounts = collected.
func printDailySales(w io.Writer, rows []store.DailySales) error {
	t := &textTable{text: 2}
	t.add("shop", "day", "placed", "paid", "gross", "shipment", "discounts", "collected", "refunds", "refunded", "net")
	t.add("", "", "", "", "yuan", "yuan", "yuan", "yuan", "", "yuan", "yuan")
	var sum store.DailySales
	for _, r := range rows {
		t.add(r.AppID, r.Day, count(r.OrdersPlaced), count(r.OrdersPaid), yuan(r.Gross), yuan(r.Shipment),
			yuan(r.Discounts), yuan(r.Collected), count(r.Refunds), yuan(r.Refunded), yuan(r.Net))
		sum.OrdersPlaced += r.OrdersPlaced
		sum.OrdersPaid += r.OrdersPaid
		sum.Gross += r.Gross
		sum.Shipment += r.Shipment
		sum.Discounts += r.Discounts
		sum.Collected += r.Collected
		sum.Refunds += r.Refunds
		sum.Refunded += r.Refunded
		sum.Net += r.Net
	}
	t.add("total", "", count(sum.OrdersPlaced), count(sum.OrdersPaid), yuan(sum.Gross), yuan(sum.Shipment),
		yuan(sum.Discounts), yuan(sum.Collected), count(sum.Refunds), yuan(sum.Refunded), yuan(sum.Net))
	return t.write(w)
}

// dailySalesCSV writes the daily-sales rows with money in yuan; the header says so.
func dailySalesCSV(w io.Writer, rows []store.DailySales) error {
	records := [][]string{{"app_id", "day", "orders_placed", "orders_paid", "gross_yuan", "shipment_yuan",
		"discounts_yuan", "collected_yuan", "refunds", "refunded_yuan", "net_yuan"}}
	for _, r := range rows {
		records = append(records, []string{r.AppID, r.Day, count(r.OrdersPlaced), count(r.OrdersPaid), yuan(r.Gross),
			yuan(r.Shipment), yuan(r.Discounts), yuan(r.Collected), count(r.Refunds), yuan(r.Refunded), yuan(r.Net)})
	}
	return csv.NewWriter(w).WriteAll(records)
}

// goodsSales is the sales of one shop's product (spu_id, sku_id) over the report's days,
// summed from report_goods_sales, in fen. Refunds that name no goods are on a row whose ids
// and name are null. The JSON keys are the view's column names, and net is revenue -
// refunded.
type goodsSales struct {
	AppID     string  `json:"app_id"`
	SpuID     *string `json:"spu_id"`
	SkuID     *string `json:"sku_id"`
	GoodsName *string `json:"goods_name"`
	Spec      *string `json:"goods_spec_description"`
	Orders    int64   `json:"orders"`
	Quantity  int64   `json:"quantity"`
	Gross     int64   `json:"gross"`
	Revenue   int64   `json:"revenue"`
	Refunds   int64   `json:"refunds"`
	Refunded  int64   `json:"refunded"`
	Net       int64   `json:"net"`
}

// goodsSalesOf sums report_goods_sales over the period's days per shop and product, each
// shop's best selling first. appID names the shop; "" means every shop.
func goodsSalesOf(ctx context.Context, st *store.Store, appID string, p reportPeriod) ([]goodsSales, error) {
	rows, err := st.Pool().Query(ctx, `
		SELECT coalesce(app_id, ''), spu_id, sku_id, min(goods_name), min(goods_spec_description),
			sum(orders)::bigint, sum(quantity)::bigint, sum(gross)::bigint, sum(revenue)::bigint,
			sum(refunds)::bigint, sum(refunded)::bigint, (sum(revenue) - sum(refunded))::bigint
		FROM report_goods_sales
		WHERE day BETWEEN $1::date AND $2::date AND ($3::text = '' OR app_id = $3)
		GROUP BY app_id, spu_id, sku_id
		ORDER BY app_id, sum(revenue) DESC, sum(refunded) DESC, sku_id NULLS LAST, spu_id NULLS LAST`,
		p.From, p.To, appID)
	if err != nil {
		return nil, fmt.Errorf("goods sales %s to %s: %w", p.From, p.To, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[goodsSales])
	if err != nil {
		return nil, fmt.Errorf("goods sales %s to %s: %w", p.From, p.To, err)
	}
	return out, nil
}

// printGoodsSales prints the goods rows with money in yuan, and a total line.
func printGoodsSales(w io.Writer, rows []goodsSales) error {
	t := &textTable{text: 4}
	t.add("shop", "goods", "spec", "sku", "orders", "quantity", "gross", "revenue", "refunds", "refunded", "net")
	t.add("", "", "", "", "", "", "yuan", "yuan", "", "yuan", "yuan")
	var sum goodsSales
	for _, r := range rows {
		name := deref(r.GoodsName)
		if name == "" && r.SpuID == nil && r.SkuID == nil {
			name = "(refunds naming no goods)"
		}
		t.add(r.AppID, name, deref(r.Spec), deref(r.SkuID), count(r.Orders), count(r.Quantity), yuan(r.Gross),
			yuan(r.Revenue), count(r.Refunds), yuan(r.Refunded), yuan(r.Net))
		sum.Orders += r.Orders
		sum.Quantity += r.Quantity
		sum.Gross += r.Gross
		sum.Revenue += r.Revenue
		sum.Refunds += r.Refunds
		sum.Refunded += r.Refunded
		sum.Net += r.Net
	}
	t.add("total", "", "", "", count(sum.Orders), count(sum.Quantity), yuan(sum.Gross), yuan(sum.Revenue),
		count(sum.Refunds), yuan(sum.Refunded), yuan(sum.Net))
	return t.write(w)
}

// goodsCSV writes the goods rows with money in yuan; the header says so.
func goodsCSV(w io.Writer, rows []goodsSales) error {
	records := [][]string{{"app_id", "spu_id", "sku_id", "goods_name", "goods_spec_description", "orders", "quantity",
		"gross_yuan", "revenue_yuan", "refunds", "refunded_yuan", "net_yuan"}}
	for _, r := range rows {
		records = append(records, []string{r.AppID, deref(r.SpuID), deref(r.SkuID), deref(r.GoodsName), deref(r.Spec),
			count(r.Orders), count(r.Quantity), yuan(r.Gross), yuan(r.Revenue), count(r.Refunds), yuan(r.Refunded),
			yuan(r.Net)})
	}
	return csv.NewWriter(w).WriteAll(records)
}

func count(n int64) string { return strconv.FormatInt(n, 10) }

// yuan formats fen as yuan with two decimals, exactly (no floating point).
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// textTable lines up its columns by display width: a Chinese character takes two columns
// of a terminal, where text/tabwriter counts one.
type textTable struct {
	text int // the first text columns are text, aligned left; the others numbers, aligned right
	rows [][]string
}

// add adds a row; control characters (a tab or a newline in a goods name) become spaces,
// so that each row stays on its line.
func (t *textTable) add(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, c)
	}
	t.rows = append(t.rows, cells)
}

func (t *textTable) write(w io.Writer) error {
	var widths []int
	for _, row := range t.rows {
		for i, c := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	var b strings.Builder
	for _, row := range t.rows {
		var line strings.Builder
		for i, c := range row {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-displayWidth(c))
			if i < t.text {
				line.WriteString(c + pad)
			} else {
				line.WriteString(pad + c)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// displayWidth is how many terminal columns s takes: two for each wide or fullwidth
// character (Han, kana, hangul, fullwidth punctuation such as （）and ，, most emoji), none
// for combining marks and invisible format characters, one for the rest. Characters of
// ambiguous width (·, —, ×) count one, as terminals draw them outside CJK legacy modes.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case width.LookupRune(r).Kind() == width.EastAsianWide, width.LookupRune(r).Kind() == width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
