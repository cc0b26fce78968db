package fetch

import (
	"errors"
	"fmt"
	"time"

	"ordersync/order"
)

// orderBy is the list API's order_by value for the field.
func orderBy(f order.Cursor) string {
	if f == order.CreatedTime {
		return "created_at"
	}
	return "updated_at"
}

// MaxWindow is the longest window the list API serves. A longer one is not refused by the
// API but silently cut to one month from its start (api-notes §2.2), so Validate refuses it.
const MaxWindow = 31 * 24 * time.Hour

// TimeLayout is how the API writes and reads times, in Asia/Shanghai.
const TimeLayout = time.DateTime

// Window is a range of orders by one of their times. Both ends are inclusive at second
// resolution, as the API treats them: sub-second parts are dropped.
type Window struct {
	Field      order.Cursor
	Start, End time.Time
}

// String is like "update_time 2026-01-01 00:00:00..2026-01-02 00:00:00" (Beijing time).
func (w Window) String() string {
	if w == (Window{}) {
		return "(no window)"
	}
	return fmt.Sprintf("%s %s..%s", w.Field, formatTime(w.Start), formatTime(w.End))
}

// Validate refuses an unknown field, a missing end, an end before the start and a window
// longer than MaxWindow.
func (w Window) Validate() error {
	if w.Field != order.UpdateTime && w.Field != order.CreatedTime {
		return fmt.Errorf("window %s: field must be %s or %s", w, order.UpdateTime, order.CreatedTime)
	}
	if w.Start.IsZero() || w.End.IsZero() {
		return fmt.Errorf("window %s: both ends are required", w)
	}
	s, e := w.Start.Truncate(time.Second), w.End.Truncate(time.Second)
	if e.Before(s) {
		return fmt.Errorf("window %s: ends before it starts", w)
	}
	if e.Sub(s) > MaxWindow {
		return fmt.Errorf("window %s: %w", w, ErrWindowTooLong)
	}
	return nil
}

// ErrWindowTooLong is wrapped by Validate for a window longer than MaxWindow.
var ErrWindowTooLong = errors.New("longer than 31 days, which the API would silently cut: split it")

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.In(order.Shanghai).Format(TimeLayout)
}
