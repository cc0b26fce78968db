package fetchtest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
)

type envelope struct {
	Code int             `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data"`
}

// api calls a fake over HTTP: one shop's (srv), or a Multi's at url.
type api struct {
	t   *testing.T
	url string
	srv *fetchtest.Server
}

func newAPI(t *testing.T, opts fetchtest.Options) *api {
	if opts.From.IsZero() {
		opts.From, opts.To = t0, tEnd
	}
	srv := fetchtest.NewServer(t, opts)
	return &api{t: t, url: srv.URL(), srv: srv}
}

func (a *api) token(q url.Values) envelope {
	a.t.Helper()
	resp, err := http.Get(a.url + "/token?" + q.Encode())
	if err != nil {
		a.t.Fatal(err)
	}
	return a.decode(resp)
}

func (a *api) goodToken() string {
	a.t.Helper()
	return a.tokenFor(a.srv.Options())
}

func credentials(o fetchtest.Options) url.Values {
	return url.Values{"app_id": {o.AppID}, "client_id": {o.ClientID}, "secret_key": {o.SecretKey}, "grant_type": {"client_credential"}}
}

// tokenFor gets a token with the credentials of the shop of o.
func (a *api) tokenFor(o fetchtest.Options) string {
	a.t.Helper()
	env := a.token(credentials(o))
	var d struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if env.Code != 0 || json.Unmarshal(env.Data, &d) != nil || d.AccessToken == "" {
		a.t.Fatalf("token: %+v", env)
	}
	return d.AccessToken
}

func (a *api) post(ep string, body map[string]any) envelope {
	a.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(a.url+"/"+ep, "application/json", bytes.NewReader(b))
	if err != nil {
		a.t.Fatal(err)
	}
	return a.decode(resp)
}

func (a *api) decode(resp *http.Response) envelope {
	a.t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env envelope
	if resp.StatusCode != 200 || json.Unmarshal(b, &env) != nil {
		return envelope{Code: -resp.StatusCode, Msg: string(b)}
	}
	return env
}

type page struct {
	List []struct {
		OrderInfo struct {
			OrderID     string     `json:"order_id"`
			UpdateTime  order.Time `json:"update_time"`
			CreatedTime order.Time `json:"created_time"`
		} `json:"order_info"`
	} `json:"list"`
	Total int `json:"total"`
}

func (a *api) list(tok string, body map[string]any) page {
	a.t.Helper()
	body["access_token"] = tok
	env := a.post(fetchtest.EndpointList, body)
	var p page
	if env.Code != 0 || json.Unmarshal(env.Data, &p) != nil {
		a.t.Fatalf("list %v: %+v", body, env)
	}
	return p
}

func bj(t time.Time) string { return t.In(order.Shanghai).Format(time.DateTime) }

func TestTokenCodes(t *testing.T) {
	a := newAPI(t, fetchtest.Options{})
	good := credentials(a.srv.Options())
	for _, tc := range []struct {
		key, value string
		code       int
	}{
		{"app_id", "", 2001}, {"app_id", "appwrong", 2002},
		{"secret_key", "", 2003}, {"secret_key", "wrong", 2004},
		{"grant_type", "", 2005}, {"grant_type", "password", 2006},
		{"client_id", "xopwrong", 2020},
	} {
		q := url.Values{}
		for k, v := range good {
			q[k] = v
		}
		q.Set(tc.key, tc.value)
		if env := a.token(q); env.Code != tc.code {
			t.Errorf("%s=%q: code %d, want %d", tc.key, tc.value, env.Code, tc.code)
		}
	}
	if st := a.srv.Stats(); st.TokensIssued != 0 {
		t.Errorf("%d tokens issued for bad credentials", st.TokensIssued)
	}
}

func TestTokenLifetime(t *testing.T) {
	clock := fetchtest.NewClock(tEnd)
	a := newAPI(t, fetchtest.Options{Orders: 5, Now: clock.Now, TokenTTL: time.Hour})
	ok := func(tok string) int {
		return a.post(fetchtest.EndpointDetail, map[string]any{"access_token": tok, "order_id": "x"}).Code
	}
	old := a.goodToken()
	if c := ok(old); c != 0 {
		t.Fatalf("a fresh token: code %d", c)
	}
	clock.Advance(10 * time.Minute)
	fresh := a.goodToken()
	clock.Advance(4 * time.Minute)
	if ok(old) != 0 || ok(fresh) != 0 {
		t.Errorf("within 5 minutes of a new token both must work")
	}
	clock.Advance(time.Minute)
	if c := ok(old); c != 2008 {
		t.Errorf("5 minutes after a new token the old one: code %d, want 2008", c)
	}
	clock.Advance(time.Hour)
	if c := ok(fresh); c != 2008 {
		t.Errorf("an expired token: code %d, want 2008", c)
	}
	newer := a.goodToken()
	a.srv.ExpireTokens()
	if c := ok(newer); c != 2008 {
		t.Errorf("after ExpireTokens: code %d, want 2008", c)
	}
	if c := a.post(fetchtest.EndpointDetail, map[string]any{"order_id": "x"}).Code; c != 2007 {
		t.Errorf("no token: code %d, want 2007", c)
	}
	if got := a.srv.Tokens(); len(got) != 3 || got[0] != old {
		t.Errorf("Tokens() = %d tokens", len(got))
	}
}

func TestTokenQuota(t *testing.T) {
	a := newAPI(t, fetchtest.Options{})
	for range 100 {
		a.goodToken()
	}
	if env := a.token(credentials(a.srv.Options())); env.Code != 2053 {
		t.Errorf("the 101st token call in 10 minutes: code %d, want 2053", env.Code)
	}
}

func TestList(t *testing.T) {
	a := newAPI(t, fetchtest.Options{Orders: 600, Rate: -1, Now: func() time.Time { return tEnd }})
	tok := a.goodToken()
	truth := a.srv.Orders()

	want := func(field string, start, end time.Time) []string {
		var ids []string
		for _, o := range truth {
			v := o.Created
			if field == "update_time" {
				v = o.Updated
			}
			if !v.Before(start) && !v.After(end) {
				ids = append(ids, o.ID)
			}
		}
		return ids
	}

	for _, field := range []string{"update_time", "created_time"} {
		// Bounds on an order's own time: both ends are inclusive.
		start, end := truth[10].Created, truth[10].Created.Add(20*24*time.Hour)
		if field == "update_time" {
			start, end = truth[10].Updated, truth[10].Updated.Add(20*24*time.Hour)
		}
		wantIDs := want(field, start, end)
		var got []string
		var prev time.Time
		orderBy := map[string]string{"update_time": "updated_at", "created_time": "created_at"}[field]
		for p := 1; ; p++ {
			pg := a.list(tok, map[string]any{"page": p, "page_size": 100, field + "_start": bj(start),
				field + "_end": bj(end), "order_by": orderBy, "order_asc": "asc"})
			if pg.Total != len(wantIDs) {
				t.Fatalf("%s: total %d, want %d", field, pg.Total, len(wantIDs))
			}
			for _, it := range pg.List {
				v := it.OrderInfo.CreatedTime.Time
				if field == "update_time" {
					v = it.OrderInfo.UpdateTime.Time
				}
				if v.Before(prev) {
					t.Errorf("%s: not ascending at %s", field, it.OrderInfo.OrderID)
				}
				prev = v
				got = append(got, it.OrderInfo.OrderID)
			}
			if len(pg.List) < 100 {
				break
			}
		}
		if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(wantIDs)) {
			t.Errorf("%s window: got %d orders, want %d", field, len(got), len(wantIDs))
		}
	}

	// Over 31 days: cut to one month from the start, silently.
	pg := a.list(tok, map[string]any{"page_size": 100, "created_time_start": bj(t0), "created_time_end": bj(tEnd)})
	if w := len(want("created_time", t0, t0.AddDate(0, 1, 0))); pg.Total != w {
		t.Errorf("a 60-day window: total %d, want %d (one month)", pg.Total, w)
	}
	// No time: created from 00:00 a month ago to 00:00 tomorrow.
	today := time.Date(tEnd.Year(), tEnd.Month(), tEnd.Day(), 0, 0, 0, 0, order.Shanghai)
	pg = a.list(tok, map[string]any{"page": 1})
	if w := len(want("created_time", today.AddDate(0, -1, 0), today.AddDate(0, 0, 1))); pg.Total != w {
		t.Errorf("no window: total %d, want %d", pg.Total, w)
	}
	// By order id: the default window still applies.
	recent, old := truth[len(truth)-1], truth[0]
	for _, o := range truth {
		if o.Created.After(recent.Created) {
			recent = o
		}
		if o.Created.Before(old.Created) {
			old = o
		}
	}
	if pg = a.list(tok, map[string]any{"order_id": recent.ID}); pg.Total != 1 || pg.List[0].OrderInfo.OrderID != recent.ID {
		t.Errorf("order_id %s: %+v", recent.ID, pg)
	}
	if pg = a.list(tok, map[string]any{"order_id": old.ID}); pg.Total != 0 {
		t.Errorf("order_id %s, created %v, outside the default window: total %d", old.ID, old.Created, pg.Total)
	}
	if pg = a.list(tok, map[string]any{"page_size": "500", "created_time_start": bj(t0), "created_time_end": bj(t0.AddDate(0, 0, 20))}); len(pg.List) != 100 {
		t.Errorf("page_size 500: %d items, want 100", len(pg.List))
	}
	if env := a.post(fetchtest.EndpointList, map[string]any{"access_token": tok, "update_time_start": "2026/03/01"}); env.Code != 40001 {
		t.Errorf("a malformed time: code %d, want 40001", env.Code)
	}

	a.srv.SetShortPages(true)
	pg = a.list(tok, map[string]any{"page_size": 100, "created_time_start": bj(t0), "created_time_end": bj(t0.AddDate(0, 0, 20))})
	if len(pg.List) != 99 || pg.Total < 100 {
		t.Errorf("short pages: %d items of %d", len(pg.List), pg.Total)
	}
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestDetail(t *testing.T) {
	a := newAPI(t, fetchtest.Options{Orders: 20, Rate: -1})
	tok := a.goodToken()
	truth := a.srv.Orders()
	o := truth[3]
	env := a.post(fetchtest.EndpointDetail, map[string]any{"access_token": tok, "order_id": o.ID})
	if env.Code != 0 || !bytes.Equal(env.Data, o.Detail) {
		t.Errorf("detail of %s is not its ground truth", o.ID)
	}
	if env = a.post(fetchtest.EndpointDetail, map[string]any{"access_token": tok, "order_id": "E20990101000000zzzzzzV2"}); env.Code != 0 || string(env.Data) != "null" {
		t.Errorf("unknown order: %+v", env)
	}
	if env = a.post(fetchtest.EndpointDetail, map[string]any{"access_token": tok}); env.Code != 40001 {
		t.Errorf("no order_id: code %d", env.Code)
	}

	var ids []string
	for _, o := range truth[:6] {
		ids = append(ids, o.ID)
	}
	a.srv.SetBroken(ids...)
	kinds := map[string]int{}
	for _, id := range ids {
		resp, err := http.Post(a.srv.URL()+"/"+fetchtest.EndpointDetail, "application/json",
			strings.NewReader(`{"access_token":"`+tok+`","order_id":"`+id+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var env envelope
		if err := json.Unmarshal(body, &env); err != nil {
			kinds["invalid JSON"]++
			if !bytes.HasPrefix(body, []byte(`{"code":0,`)) {
				t.Errorf("%s: a corrupt payload must still say code 0 first: %.40s", id, body)
			}
			continue
		}
		if _, err := order.Decode(env.Data); err == nil {
			t.Errorf("%s: broken, but its detail decodes", id)
		}
		kinds["wrong type"]++
	}
	if kinds["invalid JSON"] == 0 || kinds["wrong type"] == 0 {
		t.Errorf("broken payloads: %v, want both kinds", kinds)
	}
	if o, _ := a.srv.Order(ids[0]); !o.Broken {
		t.Errorf("Order(%s).Broken = false", ids[0])
	}
	st := a.srv.Stats()
	if st.DetailCalls[ids[0]] != 1 || st.DetailServed[truth[3].ID] != 2 {
		t.Errorf("detail stats: %v / %v", st.DetailCalls, st.DetailServed)
	}
}

func TestFaults(t *testing.T) {
	a := newAPI(t, fetchtest.Options{Orders: 5, Rate: -1, BusyRate: 1})
	tok := a.goodToken()
	id := a.srv.Orders()[0].ID
	detail := func() envelope {
		return a.post(fetchtest.EndpointDetail, map[string]any{"access_token": tok, "order_id": id})
	}
	if c := detail().Code; c != 1001 && c != 1002 {
		t.Errorf("busy: code %d", c)
	}
	a.srv.SetFaults(0, 1)
	env := detail()
	if env.Code != -502 && env.Code != -503 || !strings.Contains(env.Msg, "<html>") {
		t.Errorf("server error: %+v", env)
	}
	a.srv.SetFaults(0, 0)
	a.srv.FailWith(fetchtest.EndpointDetail, 2051)
	if c := detail().Code; c != 2051 {
		t.Errorf("FailWith 2051: code %d", c)
	}
	a.srv.FailWith(fetchtest.EndpointDetail, 0)
	if c := detail().Code; c != 0 {
		t.Errorf("after FailWith(0): code %d", c)
	}
	resp, err := http.Get(a.srv.URL() + "/" + fetchtest.EndpointDetail)
	if err != nil {
		t.Fatal(err)
	}
	if env := a.decode(resp); env.Code != 2055 {
		t.Errorf("GET on a POST API: code %d, want 2055", env.Code)
	}
	st := a.srv.Stats()
	if st.Calls[fetchtest.EndpointDetail] != 5 || st.Codes[fetchtest.EndpointDetail][0] != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestRateLimit(t *testing.T) {
	a := newAPI(t, fetchtest.Options{Orders: 5, Rate: 5})
	tok := a.goodToken()
	codes := map[int]int{}
	for range 12 {
		codes[a.post(fetchtest.EndpointDetail, map[string]any{"access_token": tok, "order_id": "x"}).Code]++
	}
	// 12 quick calls fall into one or two one-second windows: at most 10 pass.
	if codes[2054] < 2 || codes[0]+codes[2054] != 12 {
		t.Errorf("12 quick calls at 5/s: %v", codes)
	}
	if st := a.srv.Stats(); st.RateLimited != codes[2054] || st.MaxPerSecond[fetchtest.EndpointDetail] < 6 {
		t.Errorf("stats: %d rate limited, %v per second", st.RateLimited, st.MaxPerSecond)
	}
}

// recordingTB records Errorf instead of failing, to show that unknown paths fail a test.
type recordingTB struct {
	mu     sync.Mutex
	errors []string
	*testing.T
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestUnknownPathFailsTheTest(t *testing.T) {
	tb := &recordingTB{T: t}
	srv := fetchtest.NewServer(tb, fetchtest.Options{})
	resp, err := http.Post(srv.URL()+"/xe.order.detail/1.0.0", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || json.Valid(body) {
		t.Errorf("unknown path: HTTP %d %q, want a 404 that is not JSON", resp.StatusCode, body)
	}
	if len(tb.errors) != 1 || !strings.Contains(tb.errors[0], "/xe.order.detail/1.0.0") {
		t.Errorf("the test was told %q", tb.errors)
	}
}
