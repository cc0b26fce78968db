package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// OrderDetail returns the data object of the order's detail 2.0, as received, and the
// whole reply it came in. It does not decode the detail: that is order.Prepare's job.
//
// On failure reply is the body of the last reply received, whatever it was (nil when none
// came), for the failure queue. A reply with code 0 and no data is an error wrapping
// ErrNotFound.
func (c *Client) OrderDetail(ctx context.Context, orderID string) (data json.RawMessage, reply []byte, err error) {
	if orderID == "" {
		return nil, nil, errors.New("order detail: no order id")
	}
	params, err := json.Marshal(struct {
		OrderID string `json:"order_id"`
	}{orderID})
	if err != nil {
		return nil, nil, fmt.Errorf("order detail %s: %w", orderID, err)
	}
	data, reply, err = c.call(ctx, c.detail, params)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			reply = ae.Reply
		}
		return nil, reply, fmt.Errorf("order detail %s: %w", orderID, err)
	}
	if isEmptyJSON(data) {
		return nil, reply, fmt.Errorf("order detail %s: %w", orderID, &APIError{Endpoint: EndpointDetail, Kind: KindNotFound,
			Msg: fmt.Sprintf("the reply's data is %s: no such order?", bytes.TrimSpace(orEmpty(data))), Reply: reply})
	}
	return data, reply, nil
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
