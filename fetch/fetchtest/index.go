package fetchtest

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// index keeps the orders sorted by one of their times, then by id: the order the list
// serves them in. A window is then two binary searches and a page a slice of it, whatever
// the shop's size.
type index struct {
	key    func(*model) time.Time
	orders []*model
}

func keyCreated(m *model) time.Time { return m.created }
func keyUpdated(m *model) time.Time { return m.updated }

func (x *index) cmp(a, b *model) int {
	if c := x.key(a).Compare(x.key(b)); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// within is the orders whose time is in [start, end], ascending.
func (x *index) within(start, end time.Time) []*model {
	lo := sort.Search(len(x.orders), func(i int) bool { return !x.key(x.orders[i]).Before(start) })
	hi := sort.Search(len(x.orders), func(i int) bool { return x.key(x.orders[i]).After(end) })
	return x.orders[lo:max(lo, hi)]
}

// place puts orders that are new, or whose time has changed, where they now belong. It
// merges them in one pass, so that a batch of changes costs what one does.
func (x *index) place(ms []*model) {
	moved := make(map[*model]bool, len(ms))
	for _, m := range ms {
		moved[m] = true
	}
	kept := slices.DeleteFunc(x.orders, func(m *model) bool { return moved[m] })
	ms = slices.SortedFunc(slices.Values(ms), x.cmp)
	out := make([]*model, 0, len(kept)+len(ms))
	for len(kept) > 0 && len(ms) > 0 {
		if x.cmp(ms[0], kept[0]) < 0 {
			out, ms = append(out, ms[0]), ms[1:]
		} else {
			out, kept = append(out, kept[0]), kept[1:]
		}
	}
	x.orders = append(append(out, kept...), ms...)
}
