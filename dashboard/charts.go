package dashboard

import "encoding/json"

// chart is what static/dashboard.js draws in one figure: x labels and series of values
// over them. The page carries it as JSON in the figure's data-chart attribute, where
// html/template escapes it; the script parses it and never builds HTML from it.
type chart struct {
	Title  string   `json:"-"`
	Type   string   `json:"type"`  // "line" or "bar"
	Money  bool     `json:"money"` // values are fen, shown as yuan
	Labels []string `json:"labels"`
	Series []series `json:"series"`
}

type series struct {
	Label  string    `json:"label"`
	Color  string    `json:"color"`
	Values []float64 `json:"values"`
}

// The series' colors: money in is blue, money back red, what stays green.
const (
	blue   = "#2563eb"
	red    = "#dc2626"
	green  = "#059669"
	violet = "#7c3aed"
	amber  = "#d97706"
)

// JSON is the chart as the data-chart attribute carries it.
func (c chart) JSON() string {
	b, _ := json.Marshal(c) // strings and numbers only: it cannot fail
	return string(b)
}

// Empty reports whether the chart has nothing to draw.
func (c chart) Empty() bool {
	for _, s := range c.Series {
		for _, v := range s.Values {
			if v != 0 {
				return false
			}
		}
	}
	return true
}

// charts are the page's figures, built from the same rows as its tables.
type charts struct {
	Sales, Orders, Goods, Refunds, Carriers chart
}

// Fen fit a float64 exactly up to 2^53 (90 trillion yuan); the tables show the exact
// amounts, the charts their shape.
func buildCharts(s sales) charts {
	var c charts
	c.Sales = chart{Title: "Daily sales (yuan)", Type: "line", Money: true}
	c.Orders = chart{Title: "Orders placed and paid", Type: "line"}
	collected, refunded, net := series{Label: "collected", Color: blue}, series{Label: "refunded", Color: red}, series{Label: "net", Color: green}
	placed, paid := series{Label: "placed", Color: violet}, series{Label: "paid", Color: blue}
	for _, d := range s.Days {
		c.Sales.Labels = append(c.Sales.Labels, d.Day)
		collected.Values = append(collected.Values, float64(d.Collected))
		refunded.Values = append(refunded.Values, float64(d.Refunded))
		net.Values = append(net.Values, float64(d.Net))
		placed.Values = append(placed.Values, float64(d.Placed))
		paid.Values = append(paid.Values, float64(d.Paid))
	}
	c.Orders.Labels = c.Sales.Labels
	c.Sales.Series = []series{collected, refunded, net}
	c.Orders.Series = []series{placed, paid}

	c.Goods = chart{Title: "Top goods by revenue (yuan)", Type: "bar", Money: true}
	revenue := series{Label: "revenue", Color: blue}
	for _, g := range s.Goods {
		c.Goods.Labels = append(c.Goods.Labels, clip(9, g.Name))
		revenue.Values = append(revenue.Values, float64(g.Revenue))
	}
	c.Goods.Series = []series{revenue}

	c.Refunds = chart{Title: "Refund records by state", Type: "bar"}
	records := series{Label: "refund records", Color: red}
	for _, r := range s.Refunds {
		c.Refunds.Labels = append(c.Refunds.Labels, r.State)
		records.Values = append(records.Values, float64(r.Records))
	}
	c.Refunds.Series = []series{records}

	c.Carriers = chart{Title: "Median hours from shipping to delivery", Type: "bar"}
	median := series{Label: "median hours to delivery", Color: amber}
	for _, k := range s.Carriers {
		c.Carriers.Labels = append(c.Carriers.Labels, clip(9, k.Name))
		h := 0.0
		if k.MedianHours != nil {
			h = *k.MedianHours
		}
		median.Values = append(median.Values, h)
	}
	c.Carriers.Series = []series{median}
	return c
}
