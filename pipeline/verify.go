package pipeline

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"ordersync/fetch"
	"ordersync/order"
	"ordersync/store"
)

// A verify compares the stored orders of a range of days with the API's, day by day, and
// checks the stored tables against the sums the API's docs promise. It writes nothing but
// its record in sync_verifications, unless asked to repair.
//
// Completeness. For each Shanghai day, one list call of the orders created that day
// (page_size 100) reads the API's total, compared with the orders stored for that day.
// The API limits calls, not their size, so the call asks for a full page: a day of at most
// 100 orders then comes whole at the price of its count, and is compared order by order.
// A larger day whose total differs from the stored count is listed in full (one call per
// 100 orders, its first page again included) to name the orders missing and extra.
//
// Currency. A stored order is stale when its update_time is older than the list's. Every
// order any of these listings shows is compared, so on a day listed whole (every day of
// at most 100 orders, and every day that differs) a stale order is found at no extra
// cost. A day of more than 100 orders whose total agrees has only its first page in hand;
// when there is such a day, a second pass makes one list call per day by update_time,
// compares the API's count of the orders changed that day with the orders stored with an
// update_time of that day, and lists the days that differ in full. A stale order moves
// its count from the day of its stored update_time to the day of its change, so this
// finds a stale order whose stored update_time is on an earlier day than the API's (and
// a missing order that an extra one hid from its created day's total), unless another
// difference of the same days offsets it; it costs the listing of the day of the change,
// one call per 100 orders changed that day. A stored order that a day listed whole does
// not show although its stored update_time is on that day, and that no other listing
// showed, is looked up by its id: one call. A stale order of a large, agreeing day whose
// stored and current update_time fall on the same day is not found: finding it for sure
// costs listing its created day in full, one call per 100 orders. So a verify of 31 days
// of an up-to-date shop of at most 100 orders a day costs 31 list calls, and of a larger
// shop 62.
//
// The horizon. A sync runs every few minutes, and an order changed since the last one is
// stale until the next. A verify holds the store to what the sync has claimed: orders
// created and changes made up to the shop's checkpoint less the sync's overlap (or up to
// now when the shop has no checkpoint). Later ones are neither counted nor reported.
//
// Consistency. store.CheckOrders checks the stored tables of the range's orders against
// the sums of the docs, in SQL; each failure is an anomaly of kind money or consistency, a
// warning that does not make the verify differ.
//
// Repair fetches the missing and stale orders again through Orders, and rebuilds the
// orders with money or consistency anomalies from their stored payloads (store.Replay,
// no API call): a row altered since it was written is restored, and an anomaly that
// survives is in the API's own data. Then it checks them again. An extra order is only
// reported, never deleted.

// ErrRepair is wrapped by the error of a verify whose repair failed: its Report holds the
// anomalies left.
var ErrRepair = errors.New("repair failed")

// VerifyDays is the days a verify covers by default, today included: the longest window
// the list API serves.
const VerifyDays = 31

// The kinds of Anomaly.
const (
	AnomalyMissing     = "missing" // at the API, not stored
	AnomalyExtra       = "extra"   // stored, not at the API on the day it was created
	AnomalyStale       = "stale"   // stored with an update_time older than the API's
	AnomalyMoney       = store.FindingMoney
	AnomalyConsistency = store.FindingConsistency
)

// AnomalyKinds are the kinds of Anomaly, in the order they are reported.
var AnomalyKinds = []string{AnomalyMissing, AnomalyExtra, AnomalyStale, AnomalyMoney, AnomalyConsistency}

// verifyWorkers is how many days a verify checks at once: the calls' latency, not the
// rate, bounds a verify that calls one by one. The client's pacer keeps the rate.
const verifyWorkers = 4

// Anomaly is one thing a verify found wrong with one order.
type Anomaly struct {
	Kind    string `json:"kind"`
	OrderID string `json:"order_id"`
	Day     string `json:"day"` // the Shanghai day the order was created, YYYY-MM-DD
	Detail  string `json:"detail"`
}

// VerifiedDay is one day of a verify: the orders created that day at the API and stored.
type VerifiedDay struct {
	Day      string `json:"day"` // YYYY-MM-DD
	APITotal int    `json:"api_total"`
	Stored   int    `json:"stored"`
}

// VerifyRange is the days of a verify, YYYY-MM-DD, both included.
type VerifyRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Report is what a verify found. Its JSON is the contract of `syncer verify --json`.
type Report struct {
	VerificationID int64       `json:"-"`
	AppID          string      `json:"-"`
	Range          VerifyRange `json:"range"`
	// Horizon is the time up to which orders and changes were checked.
	Horizon  time.Time `json:"-"`
	APICalls int64     `json:"api_calls"`
	// Days are the range's days up to the horizon; a day past it is not checked.
	Days      []VerifiedDay `json:"days"`
	Anomalies []Anomaly     `json:"anomalies"`
	// Repaired is how many anomalies the repair cleared.
	Repaired int           `json:"-"`
	Duration time.Duration `json:"-"`
}

// Counts counts the anomalies by kind, every kind included.
func (r *Report) Counts() map[string]int {
	c := make(map[string]int, len(AnomalyKinds))
	for _, k := range AnomalyKinds {
		c[k] = 0
	}
	for _, a := range r.Anomalies {
		c[a.Kind]++
	}
	return c
}

// Differs reports whether some order is missing, extra or stale: what makes `syncer
// verify` exit 4. Money and consistency anomalies are warnings.
func (r *Report) Differs() bool {
	return slices.ContainsFunc(r.Anomalies, func(a Anomaly) bool {
		return a.Kind == AnomalyMissing || a.Kind == AnomalyExtra || a.Kind == AnomalyStale
	})
}

// VerifyOptions say what to verify.
type VerifyOptions struct {
	// From and To are the first and the last day (Asia/Shanghai), both included; only
	// their dates count. Zero To is today; zero From is VerifyDays days up to To.
	From, To time.Time
	// Repair fetches the missing and stale orders again and rebuilds the orders with
	// money or consistency anomalies from their payloads, then checks them again.
	Repair bool
}

// VerifyAPI is what a verify needs of the API: the calls of a run, and counting a window.
// *fetch.Client is the real one.
type VerifyAPI interface {
	API
	CountWindow(ctx context.Context, w fetch.Window, keep int) (*fetch.WindowCount, error)
}

// VerifyDates resolves the days of a verify at now: the midnights (Asia/Shanghai) of its
// first and last day. It refuses a range that ends before it starts or after today.
func VerifyDates(from, to, now time.Time) (time.Time, time.Time, error) {
	today := midnight(now)
	if to.IsZero() {
		to = today
	}
	to = midnight(to)
	if from.IsZero() {
		from = to.AddDate(0, 0, 1-VerifyDays)
	}
	from = midnight(from)
	switch {
	case to.Before(from):
		return time.Time{}, time.Time{}, fmt.Errorf("verify: the last day %s is before the first %s", to.Format(time.DateOnly), from.Format(time.DateOnly))
	case to.After(today):
		return time.Time{}, time.Time{}, fmt.Errorf("verify: the last day %s is after today, %s", to.Format(time.DateOnly), today.Format(time.DateOnly))
	}
	return from, to, nil
}

func midnight(t time.Time) time.Time {
	y, m, d := t.In(order.Shanghai).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, order.Shanghai)
}

// Verify compares the shop's stored orders of the range's days with the API's, and
// checks the stored tables (the comment at the top of this file says what it compares and
// what that costs), records the verify in sync_verifications and logs one summary
// line. The anomalies are the Report's; the error says that the verify itself failed, or,
// wrapping ErrRepair, that its repair did (the Report then holds what is left). The
// daemon calls it per shop.
func (s *Syncer) Verify(ctx context.Context, opts VerifyOptions) (Report, error) {
	api, ok := s.api.(VerifyAPI)
	if !ok {
		return Report{}, errors.New("verify: the API client cannot count orders")
	}
	start := s.cfg.Now()
	from, to, err := VerifyDates(opts.From, opts.To, start)
	if err != nil {
		return Report{}, err
	}
	rep := Report{AppID: s.cfg.AppID, Range: VerifyRange{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly)}}
	id, err := s.store.StartVerification(ctx, s.cfg.AppID, from, to, opts.Repair)
	if err != nil {
		return rep, err
	}
	rep.VerificationID = id
	calls := s.apiCalls()
	v := &verifier{s: s, api: api, from: from, end: to.AddDate(0, 0, 1).Add(-time.Second),
		seen: map[string]fetch.ListItem{}, stored: map[string]store.StoredOrder{}}
	if err = v.run(ctx, &rep, opts.Repair); err != nil {
		err = fmt.Errorf("verify of shop %s, %s to %s: %w", s.cfg.AppID, rep.Range.From, rep.Range.To, err)
	}
	rep.APICalls = s.apiCalls() - calls
	rep.Duration = s.cfg.Now().Sub(start)
	return rep, s.finishVerify(ctx, &rep, err)
}

func (s *Syncer) apiCalls() int64 {
	if s.cfg.APICalls == nil {
		return 0
	}
	return s.cfg.APICalls()
}

// finishVerify records how the verify ended and logs its summary line.
func (s *Syncer) finishVerify(ctx context.Context, rep *Report, err error) error {
	status := store.VerifyOK
	switch {
	case ctx.Err() != nil:
		status, err = store.StatusInterrupted, ctx.Err()
	case err != nil:
		status = store.StatusFailed
	case rep.Differs():
		status = store.VerifyDiffers
	}
	anomalies, jerr := json.Marshal(nonNilAnomalies(rep.Anomalies))
	if jerr != nil {
		return errors.Join(err, jerr)
	}
	var msg *string
	if err != nil {
		m := err.Error()
		msg = &m
	}
	counts := rep.Counts()
	if ferr := s.store.FinishVerification(ctx, store.Verification{
		VerificationID: rep.VerificationID, Status: status, Horizon: rep.Horizon,
		APICalls: int(rep.APICalls), Counts: counts, Repaired: rep.Repaired,
		Anomalies: anomalies, Error: msg,
	}); ferr != nil {
		err = errors.Join(err, ferr)
	}
	attrs := []any{"verification_id", rep.VerificationID, "status", status, "from", rep.Range.From, "to", rep.Range.To,
		"horizon", beijing(rep.Horizon), "days", len(rep.Days), "api_calls", rep.APICalls}
	for _, k := range AnomalyKinds {
		attrs = append(attrs, k, counts[k])
	}
	attrs = append(attrs, "repaired", rep.Repaired, "duration_ms", rep.Duration.Milliseconds())
	switch status {
	case store.VerifyOK:
		s.log.Info("verify finished", attrs...)
	case store.VerifyDiffers:
		s.log.Warn("verify found orders missing, extra or stale", attrs...)
	case store.StatusInterrupted:
		s.log.Warn("verify interrupted", attrs...)
	default:
		s.log.Error("verify failed", append(attrs, "error", err)...)
	}
	return err
}

func nonNilAnomalies(as []Anomaly) []Anomaly {
	if as == nil {
		return []Anomaly{}
	}
	return as
}

// verifier is the state of one verify.
type verifier struct {
	s          *Syncer
	api        VerifyAPI
	from, end  time.Time // the first second of the range, and its last
	horizon    time.Time
	days       []time.Time                  // the midnights of the days checked
	seen       map[string]fetch.ListItem    // every order a listing showed, as last listed
	stored     map[string]store.StoredOrder // the range's stored orders, created up to the horizon
	partial    bool                         // some created day was not listed whole
	missing    map[string]bool
	extra      map[string]bool
	storedDays []int // by day: the orders stored
	apiDays    []int // by day: the API's total
}

func (v *verifier) run(ctx context.Context, rep *Report, repair bool) error {
	s := v.s
	now := s.cfg.Now().Truncate(time.Second)
	v.horizon = now
	cp, ok, err := s.store.Checkpoint(ctx, s.cfg.AppID, order.UpdateTime)
	if err != nil {
		return err
	}
	if h := cp.Add(-s.cfg.Overlap); ok && h.Before(now) {
		v.horizon = h
	}
	rep.Horizon = v.horizon
	for d := v.from; d.Before(v.end) && !d.After(v.horizon); d = d.AddDate(0, 0, 1) {
		v.days = append(v.days, d)
	}
	if err := v.compare(ctx); err != nil {
		return err
	}
	if err := v.report(ctx, rep); err != nil {
		return err
	}
	if !repair {
		return nil
	}
	return v.repair(ctx, rep)
}

// window is day i's window of field, cut at the horizon.
func (v *verifier) window(field order.Cursor, i int) fetch.Window {
	d := v.days[i]
	end := d.AddDate(0, 0, 1).Add(-time.Second)
	if end.After(v.horizon) {
		end = v.horizon
	}
	return fetch.Window{Field: field, Start: d, End: end}
}

// compare lists what it must of the API, with the shop's share of its rate.
func (v *verifier) compare(ctx context.Context) error {
	if v.s.cfg.Budget != nil {
		leave, err := v.s.cfg.Budget(ctx)
		if err != nil {
			return err
		}
		defer leave()
	}
	if err := v.createdDays(ctx); err != nil {
		return err
	}
	if !v.partial {
		return nil
	}
	return v.updateDays(ctx)
}

// dayListing is what one day's window gave.
type dayListing struct {
	total  int
	items  []fetch.ListItem
	whole  bool // items are every order of the window
	stored []store.StoredOrder
}

// listDay counts window w at the API, reads the stored orders of the same window, and
// lists the window in full when the count is not whole and differs from the store's.
func (v *verifier) listDay(ctx context.Context, w fetch.Window) (dayListing, error) {
	c, err := v.api.CountWindow(ctx, w, fetch.MaxPageSize)
	if err != nil {
		return dayListing{}, err
	}
	stored, err := v.s.store.OrdersIn(ctx, v.s.cfg.AppID, w.Field, w.Start, w.End)
	if err != nil {
		return dayListing{}, err
	}
	l := dayListing{total: c.Total, items: c.First, whole: c.Complete(), stored: stored}
	if !l.whole && c.Total != len(stored) {
		if l.items, err = v.listAll(ctx, w); err != nil {
			return dayListing{}, err
		}
		l.whole = true
	}
	return l, nil
}

// listAll lists every order of w, each as last listed.
func (v *verifier) listAll(ctx context.Context, w fetch.Window) ([]fetch.ListItem, error) {
	at := map[string]int{}
	var items []fetch.ListItem
	err := v.api.ListWindow(ctx, w, 0, func(page []fetch.ListItem) error {
		for _, it := range page {
			if i, ok := at[it.OrderID]; ok {
				items[i] = it // a listing that started over: the later is the newer
				continue
			}
			at[it.OrderID] = len(items)
			items = append(items, it)
		}
		return nil
	})
	return items, err
}

// see records an order a listing showed, keeping the latest update_time seen.
func (v *verifier) see(it fetch.ListItem) {
	if old, ok := v.seen[it.OrderID]; !ok || it.UpdateTime.After(old.UpdateTime) {
		v.seen[it.OrderID] = it
	}
}

// createdDays compares each day's created orders: its totals, and order by order when
// the day is listed whole.
func (v *verifier) createdDays(ctx context.Context) error {
	ls := make([]dayListing, len(v.days))
	err := eachDay(ctx, len(v.days), func(ctx context.Context, i int) error {
		l, err := v.listDay(ctx, v.window(order.CreatedTime, i))
		ls[i] = l
		return err
	})
	if err != nil {
		return err
	}
	v.apiDays, v.storedDays = make([]int, len(ls)), make([]int, len(ls))
	v.missing, v.extra = map[string]bool{}, map[string]bool{}
	for i, l := range ls {
		v.partial = v.partial || !l.whole
		v.apiDays[i], v.storedDays[i] = l.total, len(l.stored)
		for _, o := range l.stored {
			v.stored[o.OrderID] = o
		}
		for _, it := range l.items {
			v.see(it)
		}
	}
	for _, l := range ls {
		if l.whole {
			v.compareWhole(l, v.extra)
		}
	}
	return nil
}

// compareWhole compares a window listed whole with the orders stored in it: a listed
// order of the range that is not stored is missing; a stored order not listed is put in
// unlisted.
func (v *verifier) compareWhole(l dayListing, unlisted map[string]bool) {
	listed := make(map[string]bool, len(l.items))
	for _, it := range l.items {
		listed[it.OrderID] = true
		if _, ok := v.stored[it.OrderID]; !ok && v.inRange(it.CreatedTime) {
			v.missing[it.OrderID] = true
		}
	}
	for _, o := range l.stored {
		if !listed[o.OrderID] {
			unlisted[o.OrderID] = true
		}
	}
}

// updateDays compares each day's changed orders: the API's count with the store's, and
// order by order when the day is listed whole. The range's stored orders that a whole
// day does not list although their stored update_time is on it have moved: the API
// holds them with another update_time, or not at all. Those no listing showed are looked
// up by id, one list call each.
func (v *verifier) updateDays(ctx context.Context) error {
	ls := make([]dayListing, len(v.days))
	err := eachDay(ctx, len(v.days), func(ctx context.Context, i int) error {
		l, err := v.listDay(ctx, v.window(order.UpdateTime, i))
		ls[i] = l
		return err
	})
	if err != nil {
		return err
	}
	for _, l := range ls {
		for _, it := range l.items {
			v.see(it)
		}
	}
	moved := map[string]bool{}
	for _, l := range ls {
		if l.whole {
			v.compareWhole(l, moved)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(moved)) {
		if _, ok := v.stored[id]; !ok {
			continue // created outside the range
		}
		if _, ok := v.seen[id]; ok {
			continue
		}
		it, err := v.api.ListItem(ctx, id)
		switch {
		case errors.Is(err, fetch.ErrNotFound):
			v.extra[id] = true
		case err != nil:
			return err
		default:
			v.see(*it)
		}
	}
	return nil
}

// inRange reports whether an order created at t is one of the range's.
func (v *verifier) inRange(t time.Time) bool {
	return !t.Before(v.from) && !t.After(v.end) && !t.After(v.horizon)
}

// report turns what compare found, and the stored tables' checks, into rep.
func (v *verifier) report(ctx context.Context, rep *Report) error {
	// An order listed for a day but stored with another order_create_time is neither
	// missing nor extra: its stored row disagrees with the API's.
	elsewhere := map[string]time.Time{}
	if len(v.missing) > 0 {
		var err error
		if elsewhere, err = v.s.store.StoredUpdateTimes(ctx, slices.Collect(maps.Keys(v.missing))); err != nil {
			return err
		}
	}
	var as []Anomaly
	for _, id := range slices.Sorted(maps.Keys(v.missing)) {
		it := v.seen[id]
		if _, ok := elsewhere[id]; ok {
			delete(v.extra, id)
			as = append(as, Anomaly{Kind: AnomalyConsistency, OrderID: id, Day: dayOf(it.CreatedTime),
				Detail: fmt.Sprintf("listed by the API as created %s, but stored with another order_create_time", beijing(it.CreatedTime))})
			continue
		}
		as = append(as, Anomaly{Kind: AnomalyMissing, OrderID: id, Day: dayOf(it.CreatedTime),
			Detail: fmt.Sprintf("listed by the API (created %s, update_time %s), not stored", beijing(it.CreatedTime), beijing(it.UpdateTime))})
	}
	for id := range v.extra {
		o := v.stored[id]
		as = append(as, Anomaly{Kind: AnomalyExtra, OrderID: id, Day: dayOf(o.CreateTime),
			Detail: fmt.Sprintf("stored (created %s, update_time %s), not listed by the API", beijing(o.CreateTime), beijing(o.UpdateTime))})
	}
	for id, o := range v.stored {
		if a, ok := v.stale(id, o.UpdateTime); ok {
			as = append(as, a)
		}
	}
	checks, err := v.checks(ctx)
	if err != nil {
		return err
	}
	rep.Anomalies = sortAnomalies(append(as, checks...))
	rep.Days = make([]VerifiedDay, len(v.days))
	for i, d := range v.days {
		rep.Days[i] = VerifiedDay{Day: dayOf(d), APITotal: v.apiDays[i], Stored: v.storedDays[i]}
	}
	return nil
}

// stale is the anomaly of stored order id if the API lists it changed after updated and
// not after the horizon.
func (v *verifier) stale(id string, updated time.Time) (Anomaly, bool) {
	it, ok := v.seen[id]
	if !ok || !it.UpdateTime.After(updated) || it.UpdateTime.After(v.horizon) {
		return Anomaly{}, false
	}
	return Anomaly{Kind: AnomalyStale, OrderID: id, Day: dayOf(it.CreatedTime),
		Detail: fmt.Sprintf("stored update_time %s, the API's %s", beijing(updated), beijing(it.UpdateTime))}, true
}

// checks are the stored tables' checks of the range's orders.
func (v *verifier) checks(ctx context.Context) ([]Anomaly, error) {
	fs, err := v.s.store.CheckOrders(ctx, v.s.cfg.AppID, v.from, v.end)
	if err != nil {
		return nil, err
	}
	as := make([]Anomaly, len(fs))
	for i, f := range fs {
		as[i] = Anomaly{Kind: f.Kind, OrderID: f.OrderID, Day: dayOf(f.CreateTime), Detail: f.Detail}
	}
	return as, nil
}

// repair fetches the missing and stale orders again, rebuilds those with money or
// consistency anomalies from their payloads, and checks them again.
func (v *verifier) repair(ctx context.Context, rep *Report) error {
	var fetchIDs, replayIDs []string
	for _, a := range rep.Anomalies {
		switch a.Kind {
		case AnomalyMissing, AnomalyStale:
			fetchIDs = append(fetchIDs, a.OrderID)
		case AnomalyMoney, AnomalyConsistency:
			replayIDs = append(replayIDs, a.OrderID)
		}
	}
	replayIDs = slices.Compact(slices.Sorted(slices.Values(replayIDs)))
	if len(fetchIDs) == 0 && len(replayIDs) == 0 {
		return nil
	}
	var errs []error
	if len(fetchIDs) > 0 {
		// An order the API could not give is queued as a failure: it stays missing or stale.
		if _, err := v.s.Orders(ctx, fetchIDs); err != nil && !errors.Is(err, ErrPartial) {
			errs = append(errs, fmt.Errorf("%w: %w", ErrRepair, err))
		}
	}
	if len(replayIDs) > 0 {
		if _, err := v.s.store.Replay(ctx, replayIDs); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrRepair, err))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := v.recheck(ctx, rep, fetchIDs); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrRepair, err))
	}
	return errors.Join(errs...)
}

// recheck checks the fetched orders against what the API listed, and the stored tables
// again, without calling the API.
func (v *verifier) recheck(ctx context.Context, rep *Report, fetched []string) error {
	now, err := v.s.store.StoredUpdateTimes(ctx, fetched)
	if err != nil {
		return err
	}
	before := len(rep.Anomalies)
	var left []Anomaly
	for _, a := range rep.Anomalies {
		switch a.Kind {
		case AnomalyMissing, AnomalyStale:
			if t, ok := now[a.OrderID]; ok && !t.Before(v.seen[a.OrderID].UpdateTime) {
				continue
			}
			left = append(left, a)
		case AnomalyExtra:
			left = append(left, a)
		}
	}
	checks, err := v.checks(ctx)
	if err != nil {
		return err
	}
	rep.Anomalies = sortAnomalies(append(left, checks...))
	rep.Repaired = max(0, before-len(rep.Anomalies))
	if len(v.days) == 0 {
		return nil
	}
	counts, err := v.s.store.CountByDay(ctx, v.s.cfg.AppID, v.from, v.window(order.CreatedTime, len(v.days)-1).End)
	if err != nil {
		return err
	}
	for i := range rep.Days {
		rep.Days[i].Stored = counts[rep.Days[i].Day]
	}
	return nil
}

// sortAnomalies orders anomalies by day, kind (as AnomalyKinds lists them) and order.
func sortAnomalies(as []Anomaly) []Anomaly {
	slices.SortFunc(as, func(a, b Anomaly) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day),
			cmp.Compare(slices.Index(AnomalyKinds, a.Kind), slices.Index(AnomalyKinds, b.Kind)),
			cmp.Compare(a.OrderID, b.OrderID), cmp.Compare(a.Detail, b.Detail))
	})
	return as
}

// eachDay runs fn for days 0 to n-1, verifyWorkers at once, and returns the first error;
// the first error cancels the calls of the others.
func eachDay(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(verifyWorkers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// dayOf is t's Shanghai day, YYYY-MM-DD; "" for no time.
func dayOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(order.Shanghai).Format(time.DateOnly)
}

// beijing is t in Beijing time, as the API writes it.
func beijing(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.In(order.Shanghai).Format(time.DateTime)
}
