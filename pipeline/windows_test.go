package pipeline

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"ordersync/order"
	"ordersync/store"
)

func at(s string) time.Time {
	t, err := time.ParseInLocation(time.DateTime, s, order.Shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSplitCoversEverySecondOnce(t *testing.T) {
	from, to := at("2026-01-01 00:00:00"), at("2026-03-15 23:59:59")
	ws := split(order.CreatedTime, from, to, 31*24*time.Hour-time.Second)
	if !ws[0].Start.Equal(from) || !ws[len(ws)-1].End.Equal(to) {
		t.Fatalf("windows %v do not span the range", ws)
	}
	for i, w := range ws {
		if w.End.Sub(w.Start) > 31*24*time.Hour {
			t.Errorf("window %v is longer than the API allows", w)
		}
		if i > 0 && !w.Start.Equal(ws[i-1].End.Add(time.Second)) {
			t.Errorf("window %v does not follow %v", w, ws[i-1])
		}
	}
	a, b := halve(ws[0])
	if !a.Start.Equal(ws[0].Start) || !b.End.Equal(ws[0].End) || !b.Start.Equal(a.End.Add(time.Second)) {
		t.Errorf("halves %v %v of %v", a, b, ws[0])
	}
}

func TestGaps(t *testing.T) {
	w := func(a, b string) store.Window { return store.Window{WindowStart: at(a), WindowEnd: at(b)} }
	g := func(a, b string) [2]time.Time { return [2]time.Time{at(a), at(b)} }
	from, to := at("2026-01-01 00:00:00"), at("2026-01-31 23:59:59")
	tests := []struct {
		name string
		done []store.Window
		want [][2]time.Time
	}{
		{"nothing done", nil, [][2]time.Time{g("2026-01-01 00:00:00", "2026-01-31 23:59:59")}},
		{"all done", []store.Window{w("2025-12-01 00:00:00", "2026-02-01 00:00:00")}, nil},
		{"middle done", []store.Window{w("2026-01-10 00:00:00", "2026-01-19 23:59:59")}, [][2]time.Time{
			g("2026-01-01 00:00:00", "2026-01-09 23:59:59"), g("2026-01-20 00:00:00", "2026-01-31 23:59:59")}},
		{"overlapping done", []store.Window{w("2026-01-01 00:00:00", "2026-01-10 00:00:00"), w("2026-01-05 00:00:00", "2026-01-20 00:00:00")},
			[][2]time.Time{g("2026-01-20 00:00:01", "2026-01-31 23:59:59")}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, gaps(from, to, tt.done)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
