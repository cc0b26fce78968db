package fetch

import (
	"context"
	"fmt"
)

// WindowCount is what one list call tells of a window: the API's total of its orders,
// and the first of them.
type WindowCount struct {
	Total int
	// First are the window's first orders, ascending by its field: all of them when
	// Complete.
	First []ListItem
}

// Complete reports whether First holds every order of the window.
func (wc *WindowCount) Complete() bool { return len(wc.First) >= wc.Total }

// CountWindow asks the API how many orders w holds: one list call, of page size keep (1
// to MaxPageSize), whose orders it returns as well. The API limits calls, not their size,
// so a caller that may need the orders asks for a full page: for a window of at most
// MaxPageSize orders, the count then brings the whole window at no further cost.
func (c *Client) CountWindow(ctx context.Context, w Window, keep int) (*WindowCount, error) {
	if keep < 1 || keep > MaxPageSize {
		return nil, fmt.Errorf("count orders %s: keep %d orders: want 1 to %d", w, keep, MaxPageSize)
	}
	p, err := c.listOrders(ctx, listRequest{Window: w, Page: 1, PageSize: keep})
	if err != nil {
		return nil, err
	}
	return &WindowCount{Total: p.Total, First: p.Items}, nil
}
