package fetchtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// serveList answers the order list 2.0 (api-notes §2.1–2.3).
func (s *Shop) serveList(w http.ResponseWriter, params map[string]json.RawMessage) {
	page, ok1 := num(params["page"], 1)
	size, ok2 := num(params["page_size"], 100)
	if !ok1 || !ok2 || page < 1 || size < 1 {
		s.reply(w, EndpointList, 40001, "page 或 page_size 参数错误", nil)
		return
	}
	size = min(size, 100) // "限制100以内"

	// The time filter: update_time wins over created_time (the API's priority is
	// pay > settle > update > created; the shop serves the last two).
	field := "created_time"
	for _, k := range []string{"update_time_start", "update_time_end"} {
		if v, _ := str(params[k]); v != "" {
			field = "update_time"
		}
	}
	start, okS := s.parseTime(params[field+"_start"])
	end, okE := s.parseTime(params[field+"_end"])
	if !okS || !okE {
		s.reply(w, EndpointList, 40001, field+" 时间格式错误，应为 YYYY-MM-DD HH:MM:SS", nil)
		return
	}
	switch {
	case start.IsZero() && end.IsZero():
		// No time at all: orders created from 00:00 a month ago to 00:00 tomorrow.
		field = "created_time"
		today := midnight(s.now())
		start, end = today.AddDate(0, -1, 0), today.AddDate(0, 0, 1)
	case end.IsZero():
		end = start.AddDate(0, 1, 0)
	case start.IsZero():
		start = end.AddDate(0, -1, 0)
	case end.Sub(start) > 31*24*time.Hour:
		end = start.AddDate(0, 1, 0) // silently, as the API does
	}

	orderBy, _ := str(params["order_by"])
	sortBy := field
	switch orderBy {
	case "created_at":
		sortBy = "created_time"
	case "updated_at":
		sortBy = "update_time"
	}
	asc := false
	if v, _ := str(params["order_asc"]); v == "asc" {
		asc = true
	}
	only, _ := str(params["order_id"])

	s.mu.RLock()
	matches := s.matching(field, sortBy, start, end, only)
	total := len(matches)
	from := total
	if page-1 <= total/size { // and (page-1)*size cannot overflow
		from = (page - 1) * size
	}
	to := min(from+size, total)
	s.fmu.Lock()
	short := s.shortPages && to-from == size
	s.fmu.Unlock()
	if short {
		to--
	}
	out := &jw{b: make([]byte, 0, (to-from)*4<<10+64)}
	out.obj("")
	out.arr("list")
	for i := from; i < to; i++ {
		m := matches[i]
		if !asc {
			m = matches[total-1-i]
		}
		m.writeListItem(out)
	}
	out.endArr()
	out.int("page", int64(page))
	out.int("page_size", int64(size))
	out.int("total", int64(total))
	out.end()
	s.mu.RUnlock()
	s.reply(w, EndpointList, 0, "success", out.b)
}

// matching is the orders whose field (created_time or update_time) is in [start, end],
// ascending by sortBy then id; only the order only, if set. It must be called with s.mu
// held, and the result not changed: it may be an index's own slice.
func (s *Shop) matching(field, sortBy string, start, end time.Time, only string) []*model {
	filter := s.index(field)
	if only != "" {
		m := s.orders[only]
		if m == nil {
			return nil
		}
		if t := filter.key(m); t.Before(start) || t.After(end) {
			return nil
		}
		return []*model{m}
	}
	ms := filter.within(start, end)
	if sortBy != field {
		// No index holds one time's window in the other's order, and the client never asks
		// for it: sort the window.
		ms = slices.SortedFunc(slices.Values(ms), s.index(sortBy).cmp)
	}
	return ms
}

func (s *Shop) index(field string) *index {
	if field == "update_time" {
		return &s.byUpdated
	}
	return &s.byCreated
}

// parseTime reads a Beijing time string; zero when absent.
func (s *Shop) parseTime(raw json.RawMessage) (time.Time, bool) {
	v, _ := str(raw)
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.ParseInLocation(time.DateTime, v, shanghai)
	return t, err == nil
}

func midnight(t time.Time) time.Time {
	y, m, d := t.In(shanghai).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, shanghai)
}
