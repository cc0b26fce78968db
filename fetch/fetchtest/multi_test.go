package fetchtest_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
)

func newMulti(t *testing.T, opts ...fetchtest.Options) (*fetchtest.MultiServer, *api) {
	for i := range opts {
		if opts[i].From.IsZero() {
			opts[i].From, opts[i].To = t0, tEnd
		}
	}
	m := fetchtest.NewMultiServer(t, opts)
	return m, &api{t: t, url: m.URL()}
}

// with is q with k set to v.
func with(q url.Values, k, v string) url.Values {
	c := url.Values{}
	for key, vs := range q {
		c[key] = vs
	}
	c.Set(k, v)
	return c
}

// TestMultiKeepsShopsApart: on one server, each shop answers only its own credentials and
// tokens, serves only its own orders, and counts only its own calls.
func TestMultiKeepsShopsApart(t *testing.T) {
	t.Parallel()
	clock := fetchtest.NewClock(tEnd)
	own := fetchtest.Options{Orders: 30, Rate: -1, Now: clock.Now, AppID: "appagency000042", ClientID: "xopagency42", SecretKey: "agency-secret-42"}
	m, a := newMulti(t, fetchtest.Options{Orders: 30, Rate: -1, Now: clock.Now}, fetchtest.Options{Orders: 30, Rate: -1, Now: clock.Now}, own)
	shops := m.Shops()

	creds := map[string]bool{}
	for i, want := range []string{"appdemoshop0001", "appdemoshop0002", own.AppID} {
		o := shops[i].Options()
		if o.AppID != want || m.Shop(want) != shops[i] {
			t.Errorf("shop %d: app_id %s, want %s", i, o.AppID, want)
		}
		for _, c := range []string{o.AppID, o.ClientID, o.SecretKey} {
			if creds[c] {
				t.Errorf("shop %d shares the credential %s with another shop", i, c)
			}
			creds[c] = true
		}
	}
	if m.Shop("appnosuchshop") != nil {
		t.Errorf("Shop of an unknown app_id is not nil")
	}
	if shops[0].Orders()[0].ID == shops[1].Orders()[0].ID {
		t.Errorf("two shops have the same orders")
	}

	o0, o1 := shops[0].Options(), shops[1].Options()
	for _, tc := range []struct {
		name string
		q    url.Values
		code int
	}{
		{"another shop's client_id", with(credentials(o0), "client_id", o1.ClientID), 2020},
		{"another shop's secret_key", with(credentials(o0), "secret_key", o1.SecretKey), 2004},
		{"an app_id no shop has", with(credentials(o0), "app_id", "appnosuchshop"), 2002},
		{"no app_id", with(credentials(o0), "app_id", ""), 2001},
	} {
		if env := a.token(tc.q); env.Code != tc.code {
			t.Errorf("token with %s: code %d, want %d", tc.name, env.Code, tc.code)
		}
	}

	toks := make([]string, len(shops))
	for i, s := range shops {
		toks[i] = a.tokenFor(s.Options())
	}
	detail := func(tok, id string) envelope {
		return a.post(fetchtest.EndpointDetail, map[string]any{"access_token": tok, "order_id": id})
	}
	for i, s := range shops {
		mine, theirs := s.Orders()[0], shops[(i+1)%len(shops)].Orders()[0]
		if env := detail(toks[i], mine.ID); env.Code != 0 || !bytes.Equal(env.Data, mine.Detail) {
			t.Errorf("shop %d's token, its own order: code %d, not its ground truth", i, env.Code)
		}
		if env := detail(toks[i], theirs.ID); env.Code != 0 || string(env.Data) != "null" {
			t.Errorf("shop %d's token, another shop's order: code %d, data %.40s; want no such order", i, env.Code, env.Data)
		}
		end := t0.AddDate(0, 0, 31)
		inWindow := map[string]bool{}
		for _, o := range s.Orders() {
			if !o.Created.After(end) {
				inWindow[o.ID] = true
			}
		}
		pg := a.list(toks[i], map[string]any{"created_time_start": bj(t0), "created_time_end": bj(end)})
		if pg.Total != len(inWindow) || pg.Total == 0 {
			t.Errorf("shop %d's list: total %d, want its %d orders", i, pg.Total, len(inWindow))
		}
		for _, it := range pg.List {
			if !inWindow[it.OrderInfo.OrderID] {
				t.Errorf("shop %d's list has %s, not its order", i, it.OrderInfo.OrderID)
			}
		}
	}
	if c := detail("NoShopIssuedThisToken", shops[0].Orders()[0].ID).Code; c != 2008 {
		t.Errorf("a token no shop issued: code %d, want 2008", c)
	}
	if c := a.post(fetchtest.EndpointList, map[string]any{"page": 1}).Code; c != 2007 {
		t.Errorf("no token: code %d, want 2007", c)
	}
	for i, s := range shops {
		st := s.Stats()
		if st.TokensIssued != 1 || st.Calls[fetchtest.EndpointDetail] != 2 || st.Calls[fetchtest.EndpointList] != 1 {
			t.Errorf("shop %d counted %d tokens and calls %v, want 1 token, 2 details, 1 list", i, st.TokensIssued, st.Calls)
		}
	}

	// A new token retires the old one of its own shop only, and expiring one shop's tokens
	// leaves the others'.
	fresh := a.tokenFor(o1)
	clock.Advance(6 * time.Minute)
	id := shops[1].Orders()[0].ID
	if c := detail(toks[1], id).Code; c != 2008 {
		t.Errorf("a retired token: code %d, want 2008", c)
	}
	if c := detail(fresh, id).Code; c != 0 {
		t.Errorf("the token that retired it: code %d", c)
	}
	if c := detail(toks[0], shops[0].Orders()[0].ID).Code; c != 0 {
		t.Errorf("another shop's token retired with it: code %d", c)
	}
	shops[0].ExpireTokens()
	if c := detail(toks[0], shops[0].Orders()[0].ID).Code; c != 2008 {
		t.Errorf("after ExpireTokens: code %d, want 2008", c)
	}
	if c := detail(fresh, id).Code; c != 0 {
		t.Errorf("another shop's ExpireTokens expired this one: code %d", c)
	}
}

// TestMultiRatesEachShop: every shop has its own budget per endpoint, 20/s by default.
func TestMultiRatesEachShop(t *testing.T) {
	t.Parallel()
	m, a := newMulti(t, fetchtest.Options{Orders: 5, Rate: 5}, fetchtest.Options{Orders: 5, Rate: 5}, fetchtest.Options{Orders: 5})
	shops := m.Shops()
	if r := shops[2].Options().Rate; r != 20 {
		t.Errorf("default rate %v, want 20", r)
	}
	detail := func(s *fetchtest.Shop, tok string) int {
		return a.post(fetchtest.EndpointDetail, map[string]any{"access_token": tok, "order_id": s.Orders()[0].ID}).Code
	}
	toks := []string{a.tokenFor(shops[0].Options()), a.tokenFor(shops[1].Options())}
	// Five quick calls to each fit its budget whatever second they fall in; had the shops
	// one budget, the ten calls would exceed it.
	for i := range 2 {
		for range 5 {
			if c := detail(shops[i], toks[i]); c != 0 {
				t.Errorf("shop %d, within its rate: code %d", i, c)
			}
		}
	}
	// Seven more to the first: twelve calls in at most two seconds, at most ten pass.
	for range 7 {
		detail(shops[0], toks[0])
	}
	if st := shops[0].Stats(); st.RateLimited < 2 {
		t.Errorf("shop 0: %d calls refused, want at least 2", st.RateLimited)
	}
	if st := shops[1].Stats(); st.RateLimited != 0 || st.Calls[fetchtest.EndpointDetail] != 5 {
		t.Errorf("shop 1 counted another's calls: %v, %d refused", st.Calls, st.RateLimited)
	}
}

func TestMultiUnknownPathFailsTheTest(t *testing.T) {
	tb := &recordingTB{T: t}
	m := fetchtest.NewMultiServer(tb, []fetchtest.Options{{Orders: 1}, {Orders: 1}})
	resp, err := http.Post(m.URL()+"/xe.order.detail/1.0.0", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || len(tb.errors) != 1 {
		t.Errorf("unknown path: HTTP %d, the test was told %q", resp.StatusCode, tb.errors)
	}
}
