package fetch_test

import (
	"errors"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/order"
)

func sh(s string) time.Time {
	t, err := time.ParseInLocation(time.DateTime, s, order.Shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWindowString(t *testing.T) {
	w := fetch.Window{Field: order.UpdateTime, Start: sh("2026-01-01 00:00:00"), End: sh("2026-01-02 00:00:00")}
	if got, want := w.String(), "update_time 2026-01-01 00:00:00..2026-01-02 00:00:00"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	// Times in other zones are written in Beijing time, the API's.
	w = fetch.Window{Field: order.CreatedTime, Start: time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 1, 15, 59, 59, 999e6, time.UTC)}
	if got, want := w.String(), "created_time 2026-01-01 00:00:00..2026-01-01 23:59:59"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestWindowValidate(t *testing.T) {
	start := sh("2026-01-01 00:00:00")
	for _, tc := range []struct {
		name    string
		w       fetch.Window
		wantErr bool
		tooLong bool
	}{
		{"one day", fetch.Window{order.UpdateTime, start, start.Add(24 * time.Hour)}, false, false},
		{"one second", fetch.Window{order.CreatedTime, start, start}, false, false},
		{"31 days exactly", fetch.Window{order.UpdateTime, start, start.Add(31 * 24 * time.Hour)}, false, false},
		{"31 days and a second", fetch.Window{order.UpdateTime, start, start.Add(31*24*time.Hour + time.Second)}, true, true},
		{"60 days", fetch.Window{order.CreatedTime, start, start.AddDate(0, 2, 0)}, true, true},
		{"end before start", fetch.Window{order.UpdateTime, start, start.Add(-time.Second)}, true, false},
		{"no end", fetch.Window{order.UpdateTime, start, time.Time{}}, true, false},
		{"unknown field", fetch.Window{"pay_time", start, start.Add(time.Hour)}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.w.Validate()
			if (err != nil) != tc.wantErr {
				t.Fatalf("Validate() = %v, want error: %t", err, tc.wantErr)
			}
			if got := errors.Is(err, fetch.ErrWindowTooLong); got != tc.tooLong {
				t.Errorf("errors.Is(%v, ErrWindowTooLong) = %t, want %t", err, got, tc.tooLong)
			}
		})
	}
}
