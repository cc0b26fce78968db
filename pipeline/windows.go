package pipeline

import (
	"time"

	"ordersync/fetch"
	"ordersync/order"
	"ordersync/store"
)

// Windows are closed intervals at one-second resolution, as the API filters them: a window
// [a, b] is followed by [b+1s, …], so no second is listed twice or skipped.

// split cuts [from, to] into consecutive windows of at most max.
func split(field order.Cursor, from, to time.Time, max time.Duration) []fetch.Window {
	var out []fetch.Window
	for start := from; !start.After(to); {
		end := start.Add(max)
		if end.After(to) {
			end = to
		}
		out = append(out, fetch.Window{Field: field, Start: start, End: end})
		start = end.Add(time.Second)
	}
	return out
}

// halve splits w into two windows that together cover it.
func halve(w fetch.Window) (fetch.Window, fetch.Window) {
	mid := w.Start.Add(w.End.Sub(w.Start) / 2).Truncate(time.Second)
	return fetch.Window{Field: w.Field, Start: w.Start, End: mid},
		fetch.Window{Field: w.Field, Start: mid.Add(time.Second), End: w.End}
}

// gaps returns the parts of [from, to] that no finished window covers, in order.
func gaps(from, to time.Time, done []store.Window) [][2]time.Time {
	var out [][2]time.Time
	cur := from // the first second not known to be covered
	for _, w := range done {
		if cur.After(to) {
			break
		}
		if w.WindowEnd.Before(cur) {
			continue
		}
		if w.WindowStart.After(cur) {
			end := w.WindowStart.Add(-time.Second)
			if end.After(to) {
				end = to
			}
			out = append(out, [2]time.Time{cur, end})
		}
		if next := w.WindowEnd.Add(time.Second); next.After(cur) {
			cur = next
		}
	}
	if !cur.After(to) {
		out = append(out, [2]time.Time{cur, to})
	}
	return out
}
