package fetch_test

import (
	"context"
	"fmt"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/order"
)

// A sync lists a window by update_time and fetches the details of what it lists. Here the
// API is a simulated shop (what `syncer demo` runs).
func Example() {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, order.Shanghai)
	shop := fetchtest.Start(fetchtest.Options{Seed: 1, Orders: 120, From: from, To: from.AddDate(0, 0, 10)})
	defer shop.Close()
	o := shop.Options()

	c, err := fetch.New(fetch.Config{
		BaseURL:   shop.URL(),
		AppID:     o.AppID,
		ClientID:  o.ClientID,
		SecretKey: fetch.Secret(o.SecretKey),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	w := fetch.Window{Field: order.UpdateTime, Start: from, End: from.AddDate(0, 0, 31)}
	items, err := c.ListAll(ctx, w, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	data, _, err := c.OrderDetail(ctx, items[0].OrderID)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := order.Prepare(order.Payload{OrderID: items[0].OrderID, UpdateTime: items[0].UpdateTime, Detail: data, ListItem: items[0].Raw})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(items), "orders in", w)
	fmt.Println(p.OrderID == items[0].OrderID, len(p.Rows[order.TOrders]))
	// Output:
	// 120 orders in update_time 2026-03-01 00:00:00..2026-04-01 00:00:00
	// true 1
}
