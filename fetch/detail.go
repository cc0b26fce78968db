package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"ordersync/order"
)

// OrderDetail returns the order's detail 2.0, decoded, and the reply's data object as
// received (raw).
//
// When the payload cannot be decoded the error wraps an *order.DecodeError (errors.As) and
// raw holds what was received, for the failure queue; such a call is not retried. A reply
// with code 0 and no data is an error wrapping ErrNotFound.
func (c *Client) OrderDetail(ctx context.Context, orderID string) (d *order.Detail, raw json.RawMessage, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("order detail %s: %w", orderID, err)
		}
	}()
	if orderID == "" {
		return nil, nil, errors.New("no order id")
	}
	params, err := json.Marshal(struct {
		OrderID string `json:"order_id"`
	}{orderID})
	if err != nil {
		return nil, nil, err
	}
	data, err := c.call(ctx, c.detail, params)
	if err != nil {
		var ce *corruptDataError
		if errors.As(err, &ce) {
			if _, derr := order.Decode(ce.data); derr != nil {
				return nil, ce.data, derr
			}
			return nil, ce.data, &order.DecodeError{Err: err}
		}
		return nil, nil, err
	}
	if isEmptyJSON(data) {
		return nil, nil, &APIError{Endpoint: EndpointDetail, Kind: KindNotFound,
			Msg: fmt.Sprintf("the reply's data is %s: no such order?", bytes.TrimSpace(orEmpty(data)))}
	}
	d, err = order.Decode(data)
	if err != nil {
		return nil, data, err
	}
	if got := string(d.OrderInfo.OrderID); got != "" && got != orderID {
		return nil, data, fmt.Errorf("the API answered with order %s", got)
	}
	return d, data, nil
}

// isEmptyJSON reports the spellings of "nothing": missing, null, "", [] and {}.
func isEmptyJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "", "null", `""`:
		return true
	}
	if len(b) >= 2 && (b[0] == '[' || b[0] == '{') {
		return len(bytes.TrimSpace(b[1:len(b)-1])) == 0
	}
	return false
}

func orEmpty(b []byte) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("missing")
	}
	return b
}
