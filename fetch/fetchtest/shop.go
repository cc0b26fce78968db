// Package fetchtest is a fake Xiaoe Open API for tests, benchmarks and `syncer demo`: the
// token, the order list 2.0 and the order detail 2.0 of a simulated shop, with the API's
// rate limits and faults.
//
// A Shop holds deterministic, realistic orders (a seed gives the same orders every time),
// serves them over HTTP, changes them on request (Mutate, AddOrders), and counts every
// call (Stats), so that end-to-end tests can compare what a client stored with what the
// shop served (Orders). NewServer starts one on a local port for a test; New and Handler
// serve it anywhere else. NewMulti serves many shops on one server, as an agency reaches
// them (NewMultiServer and StartMulti start it). SetFault makes the detail reply of chosen
// orders bad in the ways a sync must survive.
//
// What it does like the real API (shared/xiaoe/api-notes.md): list windows filter
// inclusively on update_time or created_time in Beijing time, sort by it, page with
// page/page_size (at most 100), report total, silently cut a window longer than 31 days to
// one month, and fall back to the orders created in the last month without a time filter;
// list items have the real seven-section shape; details have every documented section, with
// the documented quirks; tokens expire (2008), and a new token retires the old one 5
// minutes later; more than Rate calls to an endpoint within one second are refused (2054);
// the token call is limited to 100 per 10 minutes (2053).
//
// What it assumes where the API's behaviour is unknown: a detail of an unknown order is
// code 0 with data null; a malformed parameter is code 40001; the rate limit counts every
// call that arrives in a calendar second, refused ones included, per shop and endpoint.
package fetchtest

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"ordersync/order"
)

// Endpoints, as paths under the base URL and as the keys of Stats.
const (
	EndpointToken  = "token"
	EndpointList   = "xe.ecommerce.order.list/1.0.0"
	EndpointDetail = "xe.ecommerce.order.detail/1.0.0"
)

// Default credentials the shop accepts.
const (
	DefaultAppID     = "appdemoshop0001"
	DefaultClientID  = "xopdemoclient01"
	DefaultSecretKey = "fakeshop-secret-9c41e07b5d"
)

// Options configure a Shop. Zero values take the defaults.
type Options struct {
	Seed   int64 // the same seed gives the same orders
	Orders int   // how many orders to generate

	// From and To bound the created_time of generated orders (default: the 30 days before
	// Now). Their update_time falls between their created_time and To: orders live through
	// payment, shipping, refunds and settlement up to To.
	From, To time.Time

	AppID, ClientID, SecretKey string // credentials it accepts; defaults Default* (NewMulti's differ)

	// Rate is the calls/s per endpoint beyond which the shop answers 2054; default 20,
	// negative for no limit. Rate windows are calendar seconds of the real clock (whatever
	// Now says), because clients pace by it.
	Rate float64

	// BusyRate and ServerErrorRate are the fractions of list and detail calls answered
	// with code 1001/1002, and with HTTP 502/503 and an HTML page.
	BusyRate, ServerErrorRate float64
	// Latency is added to every call (and cut short if the client goes away).
	Latency time.Duration

	// TokenTTL is the expires_in of the tokens it issues; default 7200s.
	TokenTTL time.Duration

	// Broken are order ids whose detail payload is corrupt, as SetFault(FaultBroken, …)
	// makes them.
	Broken []string

	// Now is the shop's clock, for token lifetimes, the token quota and the default list
	// window; default time.Now.
	Now func() time.Time
}

// Order is the ground truth of one order: what the shop serves for it now.
type Order struct {
	ID               string
	Created, Updated time.Time
	// Detail is the data object of its detail, as served: corrupt if Broken. The other
	// faults (SetFault) serve no data object; Detail is then the order's true one.
	Detail   json.RawMessage
	ListItem json.RawMessage // its list item, as served
	Broken   bool
}

// Stats count the calls a Shop has answered.
type Stats struct {
	Calls        map[string]int         // calls answered, per endpoint (unknown paths under "404")
	Codes        map[string]map[int]int // answers per endpoint: API code, or -HTTP status without a JSON envelope
	TokensIssued int
	RateLimited  int            // 2054 answers
	Abandoned    int            // calls whose client went away during Latency (not in Calls)
	DetailCalls  map[string]int // detail calls per order id
	DetailServed map[string]int // detail answers with the order's data, per order id
	// MaxPerSecond is the most calls that arrived at an endpoint within one calendar
	// second, refused ones included.
	MaxPerSecond map[string]int
}

func newStats() Stats {
	return Stats{Calls: map[string]int{}, Codes: map[string]map[int]int{}, DetailCalls: map[string]int{},
		DetailServed: map[string]int{}, MaxPerSecond: map[string]int{}}
}

func (st *Stats) clone() Stats {
	c := *st
	c.Calls = cloneMap(st.Calls)
	c.DetailCalls = cloneMap(st.DetailCalls)
	c.DetailServed = cloneMap(st.DetailServed)
	c.MaxPerSecond = cloneMap(st.MaxPerSecond)
	c.Codes = make(map[string]map[int]int, len(st.Codes))
	for k, v := range st.Codes {
		c.Codes[k] = cloneMap(v)
	}
	return c
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Shop is a simulated shop and the API that serves it. It is safe for concurrent use.
type Shop struct {
	opts Options
	now  func() time.Time

	// Orders are kept as models and rendered for each request, never cached: rendered, 100k
	// orders hold 1.5 GB of heap; as models, 0.2 GB.
	mu        sync.RWMutex // guards the orders and the generator
	gen       *gen
	all       []*model // in creation order
	orders    map[string]*model
	byCreated index
	byUpdated index

	fmu        sync.Mutex // guards the faults and their dice
	dice       *rand.Rand
	rate       float64
	busy       float64
	serverErr  float64
	latency    time.Duration
	faults     map[string]Fault // by order id
	failWith   map[string]int
	shortPages bool

	tmu         sync.Mutex // guards the tokens
	tokens      map[string]*tokenState
	tokenList   []string
	quotaStart  time.Time
	quotaCalls  int
	windows     map[string]*rateWindow
	tokenSerial int

	smu   sync.Mutex
	stats Stats

	tb TB // set by NewServer: unknown paths fail the test
}

type tokenState struct {
	expires time.Time
	retires time.Time // zero until a newer token is issued
}

type rateWindow struct {
	sec int64
	n   int
}

// New makes a shop and its orders.
func New(opts Options) *Shop {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.To.IsZero() {
		opts.To = opts.Now()
	}
	opts.To = opts.To.Truncate(time.Second)
	if opts.From.IsZero() || !opts.From.Before(opts.To) {
		opts.From = opts.To.AddDate(0, 0, -30)
	}
	opts.AppID = orDefault(opts.AppID, DefaultAppID)
	opts.ClientID = orDefault(opts.ClientID, DefaultClientID)
	opts.SecretKey = orDefault(opts.SecretKey, DefaultSecretKey)
	if opts.Rate == 0 {
		opts.Rate = 20
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 7200 * time.Second
	}
	s := &Shop{
		opts:      opts,
		now:       opts.Now,
		gen:       newGen(opts.Seed, opts.AppID),
		orders:    make(map[string]*model, opts.Orders),
		byCreated: index{key: keyCreated},
		byUpdated: index{key: keyUpdated},
		dice:      rand.New(rand.NewPCG(uint64(opts.Seed), 0xda3e39cb94b95bdb)),
		rate:      opts.Rate,
		busy:      opts.BusyRate,
		serverErr: opts.ServerErrorRate,
		latency:   opts.Latency,
		faults:    make(map[string]Fault),
		failWith:  make(map[string]int),
		tokens:    make(map[string]*tokenState),
		windows:   make(map[string]*rateWindow),
		stats:     newStats(),
	}
	for _, id := range opts.Broken {
		s.faults[id] = FaultBroken
	}
	span := opts.To.Sub(opts.From)
	created := make([]time.Time, opts.Orders)
	for i := range created {
		created[i] = opts.From.Add(time.Duration(s.gen.rng.Int64N(int64(span) + 1)))
	}
	slices.SortFunc(created, func(a, b time.Time) int { return a.Compare(b) })
	ms := make([]*model, len(created))
	for i, c := range created {
		ms[i] = s.gen.newOrder(c, opts.To)
	}
	s.add(ms)
	return s
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// add must be called with s.mu held.
func (s *Shop) add(ms []*model) {
	for _, m := range ms {
		s.orders[m.id] = m
	}
	s.all = append(s.all, ms...)
	s.byCreated.place(ms)
	s.byUpdated.place(ms)
}

// Options are the shop's options, defaults filled in.
func (s *Shop) Options() Options { return s.opts }

// Orders is the ground truth: every order as the shop serves it now, sorted by id. It
// renders every order, which takes seconds for a hundred thousand.
func (s *Shop) Orders() []Order {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Order, 0, len(s.all))
	for _, m := range s.all {
		out = append(out, s.order(m))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Len is the number of orders the shop has.
func (s *Shop) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.orders)
}

// Order is the ground truth of one order.
func (s *Shop) Order(id string) (Order, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.orders[id]
	if m == nil {
		return Order{}, false
	}
	return s.order(m), true
}

// order must be called with s.mu held.
func (s *Shop) order(m *model) Order {
	return Order{ID: m.id, Created: m.created, Updated: m.updated, Detail: s.detail(m),
		ListItem: m.renderListItem(), Broken: s.fault(m.id) == FaultBroken}
}

// detail is the data object of an order's detail as served. It must be called with s.mu
// held.
func (s *Shop) detail(m *model) []byte {
	d := m.renderDetail()
	if s.fault(m.id) == FaultBroken {
		d = corrupt(m.id, d)
	}
	return d
}

// Mutate changes n orders created by at, as shops change them: payment, closing, shipping
// (a package and its traces), a new trace, receipt, settlement, a verification, a partial
// or full refund (refund records, refunded goods, after-sale records), a new address, a
// goods line taken out. Each change moves the order's update_time to at. It returns the
// ids changed: fewer than n if fewer orders can change.
func (s *Shop) Mutate(n int, at time.Time) []string {
	at = at.Truncate(time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	var changed []*model
	for _, i := range s.gen.rng.Perm(len(s.all)) {
		if len(changed) == n {
			break
		}
		m := s.all[i]
		if m.created.After(at) || !s.gen.mutate(m, at) {
			continue
		}
		changed = append(changed, m)
	}
	s.byUpdated.place(changed)
	ids := make([]string, len(changed))
	for i, m := range changed {
		ids[i] = m.id
	}
	return ids
}

// AddOrders adds n new orders created at created (unpaid, as new orders are), and returns
// their ids.
func (s *Shop) AddOrders(n int, created time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := make([]*model, n)
	ids := make([]string, n)
	for i := range ms {
		ms[i] = s.gen.newOrder(created, created)
		ids[i] = ms[i].id
	}
	s.add(ms)
	return ids
}

// Stats returns a copy of the call counts.
func (s *Shop) Stats() Stats {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.stats.clone()
}

// ResetStats sets the call counts to zero.
func (s *Shop) ResetStats() {
	s.smu.Lock()
	s.stats = newStats()
	s.smu.Unlock()
}

// SetFaults changes the fractions of business calls answered busy (1001/1002) and with an
// HTML 502/503.
func (s *Shop) SetFaults(busy, serverErr float64) {
	s.fmu.Lock()
	s.busy, s.serverErr = busy, serverErr
	s.fmu.Unlock()
}

// SetRate changes the calls/s per endpoint beyond which calls are refused with 2054
// (negative: no limit).
func (s *Shop) SetRate(r float64) {
	s.fmu.Lock()
	s.rate = r
	s.fmu.Unlock()
}

// SetLatency changes the time added to every call.
func (s *Shop) SetLatency(d time.Duration) {
	s.fmu.Lock()
	s.latency = d
	s.fmu.Unlock()
}

// FailWith makes every call to endpoint (EndpointToken, EndpointList, EndpointDetail)
// answer code until FailWith(endpoint, 0): to show how a client meets 2051 (IP not
// whitelisted), 2017 (no permission), 4xxxx and the like.
func (s *Shop) FailWith(endpoint string, code int) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	if code == 0 {
		delete(s.failWith, endpoint)
		return
	}
	s.failWith[endpoint] = code
}

// SetShortPages makes every full list page leave out its last item while total stays the
// same, as an index that counts what it cannot serve would.
func (s *Shop) SetShortPages(on bool) {
	s.fmu.Lock()
	s.shortPages = on
	s.fmu.Unlock()
}

// ExpireTokens makes every token issued so far expired: calls with them get 2008.
func (s *Shop) ExpireTokens() {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	now := s.now()
	for _, t := range s.tokens {
		t.expires = now
	}
}

// Tokens are the tokens issued so far, oldest first: tests check that none leaks.
func (s *Shop) Tokens() []string {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	return slices.Clone(s.tokenList)
}

// shanghai is for the window arithmetic.
var shanghai = order.Shanghai
