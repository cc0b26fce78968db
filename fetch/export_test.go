package fetch

import "context"

// Pace is the current pace of an endpoint's pacer in calls/s, for tests.
func (c *Client) Pace(endpoint string) float64 {
	switch endpoint {
	case EndpointList:
		return c.list.pacer.pace()
	case EndpointDetail:
		return c.detail.pacer.pace()
	}
	return c.token.pacer.pace()
}

// ListRequest and ListPage are one page's request and reply, for tests of paging.
type (
	ListRequest = listRequest
	ListPage    = listPage
)

// ListOrders lists one page, for tests of paging.
func (c *Client) ListOrders(ctx context.Context, req ListRequest) (*ListPage, error) {
	return c.listOrders(ctx, req)
}

// ListAll lists every page of w and returns the distinct orders handed over, each as it
// was last listed, in the order first seen: what a caller of ListWindow dedupes to.
func (c *Client) ListAll(ctx context.Context, w Window, maxTotal int) ([]ListItem, error) {
	var items []ListItem
	at := map[string]int{}
	err := c.ListWindow(ctx, w, maxTotal, func(page []ListItem) error {
		for _, it := range page {
			if i, ok := at[it.OrderID]; ok {
				items[i] = it
				continue
			}
			at[it.OrderID] = len(items)
			items = append(items, it)
		}
		return nil
	})
	return items, err
}
