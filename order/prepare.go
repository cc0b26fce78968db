package order

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Payload is one order as fetched: its detail and, when it came from the order list, its
// list item.
type Payload struct {
	OrderID string
	// UpdateTime is the list item's order_info.update_time: the order's change cursor.
	// Zero when unknown.
	UpdateTime time.Time
	// Detail is the data object of the order detail 2.0 reply, as received.
	Detail json.RawMessage
	// ListItem is the order's item in the order list 2.0 reply, as received, or nil.
	ListItem json.RawMessage
	// FetchedAt is when the detail was fetched; zero means when it is stored.
	FetchedAt time.Time
}

// Prepared is a payload made ready to store: decoded, checked, hashed and flattened.
type Prepared struct {
	Payload
	Hash [32]byte
	Rows *Rows
}

// Prepare decodes p's detail, checks that it is the detail of p.OrderID, hashes it and
// flattens it. It is pure. The error names the field that could not be decoded
// (*DecodeError) or says whose detail it is.
func Prepare(p Payload) (*Prepared, error) {
	if p.OrderID == "" {
		return nil, errors.New("prepare order: no order id")
	}
	d, err := Decode(p.Detail)
	if err != nil {
		return nil, err
	}
	switch got := string(d.OrderInfo.OrderID); got {
	case "":
		// A detail without its own id is still this order's detail.
		d.OrderInfo.OrderID = Str(p.OrderID)
	case p.OrderID:
	default:
		return nil, fmt.Errorf("the detail is that of order %s", got)
	}
	return &Prepared{Payload: p, Hash: Hash(p.Detail), Rows: Flatten(d, p.UpdateTime)}, nil
}

// Cursor is an order time that the list filters and sorts on, and that the sync's
// windows cover.
type Cursor string

const (
	UpdateTime  Cursor = "update_time"  // moves on every change: the incremental sync's cursor
	CreatedTime Cursor = "created_time" // fixed: backfills walk it
)
