package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"ordersync/order"
)

// MaxPageSize is the largest page the list API serves.
const MaxPageSize = 100

// listRequest asks for one page of the order list 2.0.
type listRequest struct {
	// Window filters and sorts (ascending) the orders. It may be zero only with OrderID,
	// and then the API applies its default: orders created in the last month.
	Window   Window
	Page     int    // from 1; 0 means 1
	PageSize int    // at most MaxPageSize; 0 means MaxPageSize
	OrderID  string // only this order
}

// ListItem is one order of the list. The list's items are not shaped like details (see
// api-notes §2.3); Raw keeps the item as received.
type ListItem struct {
	OrderID     string
	UpdateTime  time.Time // order_info.update_time: moves on every change
	CreatedTime time.Time // order_info.created_time
	Raw         json.RawMessage
}

// listPage is one page of the list, and the API's count of the orders that match.
type listPage struct {
	Items []ListItem
	Total int
}

// listParams is the body of a list call, without access_token.
type listParams struct {
	Page     int    `json:"page"`
	PageSize int    `json:"page_size"`
	OrderID  string `json:"order_id,omitempty"`
	OrderBy  string `json:"order_by,omitempty"`
	OrderAsc string `json:"order_asc,omitempty"`

	UpdateTimeStart  string `json:"update_time_start,omitempty"`
	UpdateTimeEnd    string `json:"update_time_end,omitempty"`
	CreatedTimeStart string `json:"created_time_start,omitempty"`
	CreatedTimeEnd   string `json:"created_time_end,omitempty"`
}

// listOrders returns one page of the orders in req.Window, ascending by the window's field.
func (c *Client) listOrders(ctx context.Context, req listRequest) (page *listPage, err error) {
	defer func() {
		if err != nil {
			what := req.Window.String()
			if req.OrderID != "" {
				what = "order " + req.OrderID
			}
			err = fmt.Errorf("list orders %s page %d: %w", what, max(req.Page, 1), err)
		}
	}()
	p := listParams{Page: max(req.Page, 1), PageSize: req.PageSize, OrderID: req.OrderID}
	if p.PageSize == 0 {
		p.PageSize = MaxPageSize
	}
	if req.Page < 0 || p.PageSize < 0 || p.PageSize > MaxPageSize {
		return nil, fmt.Errorf("page %d, page size %d: pages start at 1 and hold at most %d", req.Page, req.PageSize, MaxPageSize)
	}
	if req.Window != (Window{}) || req.OrderID == "" {
		if err := req.Window.Validate(); err != nil {
			return nil, err
		}
		start, end := formatTime(req.Window.Start), formatTime(req.Window.End)
		if req.Window.Field == order.CreatedTime {
			p.CreatedTimeStart, p.CreatedTimeEnd = start, end
		} else {
			p.UpdateTimeStart, p.UpdateTimeEnd = start, end
		}
		p.OrderBy, p.OrderAsc = orderBy(req.Window.Field), "asc"
	}
	params, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	data, _, err := c.call(ctx, c.list, params)
	if err != nil {
		return nil, err
	}
	return parseListPage(data)
}

func parseListPage(data json.RawMessage) (*listPage, error) {
	var d struct {
		List  jsontext.Value `json:"list"`
		Total jsontext.Value `json:"total"`
	}
	if err := jsonv2.Unmarshal(data, &d, order.JSONOptions); err != nil {
		return nil, fmt.Errorf("reply data is not a list page: %w", err)
	}
	total, ok := parseCode(d.Total)
	if !ok || total < 0 {
		return nil, fmt.Errorf("reply data has no total (%.40s)", d.Total)
	}
	page := &listPage{Total: total}
	if d.List.Kind() != '[' {
		return page, nil // an empty list, sent as null, {} or "" by the PHP behind the API
	}
	// The list is valid JSON by now: each item is read once to find its end, then once for
	// its head.
	dec := jsontext.NewDecoder(bytes.NewBuffer(d.List), order.JSONOptions)
	if _, err := dec.ReadToken(); err != nil {
		return nil, fmt.Errorf("reply data.list: %w", err)
	}
	for i := 0; dec.PeekKind() != ']'; i++ {
		v, err := dec.ReadValue()
		if err != nil {
			return nil, fmt.Errorf("reply data.list: %w", err)
		}
		raw := json.RawMessage(bytes.Clone(v))
		var head struct {
			OrderInfo struct {
				OrderID     order.Str  `json:"order_id"`
				UpdateTime  order.Time `json:"update_time"`
				CreatedTime order.Time `json:"created_time"`
			} `json:"order_info"`
		}
		if err := jsonv2.Unmarshal(raw, &head, order.JSONOptions); err != nil {
			return nil, fmt.Errorf("list item %d: %w", i, err)
		}
		if head.OrderInfo.OrderID == "" {
			return nil, fmt.Errorf("list item %d has no order_info.order_id", i)
		}
		page.Items = append(page.Items, ListItem{
			OrderID:     string(head.OrderInfo.OrderID),
			UpdateTime:  head.OrderInfo.UpdateTime.Time,
			CreatedTime: head.OrderInfo.CreatedTime.Time,
			Raw:         raw,
		})
	}
	return page, nil
}

// maxRestarts bounds how often ListWindow starts over because the total changed.
const maxRestarts = 3

// ListWindow lists every page of w (page_size 100, ascending by the window's field) and
// hands each page's items to page as they arrive, so that the caller can fetch their
// details while the rest of the window is listed. An error from page stops the listing
// and is returned.
//
// It stops exactly at total, and starts over from page 1 (at most 3 times) when the total
// changes between pages, or when an order comes twice and the count falls short: an order
// that changes while the window is paged moves to a later page and pushes another back
// onto a page already read. Items are handed over as they come, so a pass that starts over
// hands over some of them again; the caller dedupes. When the orders of the last pass do
// not add up to its total, it returns *CountMismatchError. If maxTotal > 0 and the first
// page's total exceeds it, it returns *TooLargeError before handing over anything, so the
// caller can split the window.
func (c *Client) ListWindow(ctx context.Context, w Window, maxTotal int, page func([]ListItem) error) error {
	if err := w.Validate(); err != nil {
		return err
	}
	for restarts := 0; ; restarts++ {
		got, total, changed, err := c.listPass(ctx, w, maxTotal, page)
		if err != nil {
			return err
		}
		if changed && restarts < maxRestarts {
			c.log.LogAttrs(ctx, slog.LevelInfo, "xiaoe list changed while paging; starting over",
				slog.String("window", w.String()), slog.Int("total", total), slog.Int("restarts", restarts+1))
			continue
		}
		if got != total {
			return &CountMismatchError{Window: w, Total: total, Got: got}
		}
		return nil
	}
}

// listPass lists the pages of w once, handing each page's new items to page, and returns
// how many distinct orders it got. changed reports that the total moved between pages
// (total is then the new one), or that an order came twice and the count falls short.
func (c *Client) listPass(ctx context.Context, w Window, maxTotal int, page func([]ListItem) error) (got, total int, changed bool, err error) {
	seen := make(map[string]bool)
	dupes := 0
	defer func() {
		if err == nil && !changed && dupes > 0 && got != total {
			changed = true
		}
	}()
	for n, pages := 1, 1; n <= pages; n++ {
		p, err := c.listOrders(ctx, listRequest{Window: w, Page: n, PageSize: MaxPageSize})
		if err != nil {
			return got, 0, false, err
		}
		if n == 1 {
			total = p.Total
			if maxTotal > 0 && total > maxTotal {
				return 0, total, false, &TooLargeError{Window: w, Total: total, Max: maxTotal}
			}
			pages = (total + MaxPageSize - 1) / MaxPageSize
		} else if p.Total != total {
			return got, p.Total, true, nil
		}
		fresh := p.Items[:0]
		for _, it := range p.Items {
			if seen[it.OrderID] {
				dupes++
				continue
			}
			seen[it.OrderID] = true
			fresh = append(fresh, it)
		}
		got += len(fresh)
		c.log.LogAttrs(ctx, slog.LevelDebug, "xiaoe list page",
			slog.String("window", w.String()), slog.Int("page", n),
			slog.Int("items", len(p.Items)), slog.Int("total", total))
		if len(fresh) > 0 {
			if err := page(fresh); err != nil {
				return got, total, false, err
			}
		}
		if len(p.Items) == 0 {
			break // nothing further: a short count, reported by the caller
		}
	}
	return got, total, false, nil
}

// Ping asks the API for one order of the last minute: one list call, with retries. It
// tells whether the API answers at all, for a caller that must judge a failure with no
// other call to compare it with.
func (c *Client) Ping(ctx context.Context) error {
	now := time.Now().Truncate(time.Second)
	_, err := c.listOrders(ctx, listRequest{Window: Window{Field: order.UpdateTime, Start: now.Add(-time.Minute), End: now}, PageSize: 1})
	return err
}

// ListItem looks one order up through the list API filtered by order_id: one call. It
// returns an error wrapping ErrNotFound if the order is not listed.
//
// With no time filter the API only searches orders created in the last month, so the
// window is taken from the creation time that the order id embeds (E20250421104858…V2,
// o_<unix>_…), give or take a day. An id of another form is looked up in the API's
// default window.
func (c *Client) ListItem(ctx context.Context, orderID string) (*ListItem, error) {
	if orderID == "" {
		return nil, errors.New("list order: no order id")
	}
	req := listRequest{OrderID: orderID}
	if t, ok := createdTimeOf(orderID); ok {
		req.Window = Window{Field: order.CreatedTime, Start: t.Add(-24 * time.Hour), End: t.Add(24 * time.Hour)}
	}
	p, err := c.listOrders(ctx, req)
	if err != nil {
		return nil, err
	}
	for i := range p.Items {
		if p.Items[i].OrderID == orderID {
			return &p.Items[i], nil
		}
	}
	return nil, &APIError{Endpoint: EndpointList, Kind: KindNotFound, Msg: "order " + orderID + " is not listed"}
}

// createdTimeOf reads the creation time embedded in an order id.
func createdTimeOf(id string) (time.Time, bool) {
	var t time.Time
	switch {
	case len(id) >= 15 && id[0] == 'E':
		v, err := time.ParseInLocation("20060102150405", id[1:15], order.Shanghai)
		if err != nil {
			return time.Time{}, false
		}
		t = v
	case strings.HasPrefix(id, "o_") && len(id) > 12 && id[12] == '_':
		sec, err := strconv.ParseInt(id[2:12], 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		t = time.Unix(sec, 0).In(order.Shanghai)
	default:
		return time.Time{}, false
	}
	if t.Year() < 2010 || t.Year() > 2100 {
		return time.Time{}, false
	}
	return t, true
}
