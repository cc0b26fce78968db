package fetch_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/order"
)

func TestNewValidatesConfig(t *testing.T) {
	good := fetch.Config{BaseURL: "https://api.xiaoe-tech.com", AppID: "app1", ClientID: "xop1", SecretKey: "s"}
	if _, err := fetch.New(good); err != nil {
		t.Fatalf("New(good) = %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*fetch.Config)
		want []string
	}{
		{"nothing", func(c *fetch.Config) { *c = fetch.Config{} }, []string{"XE_BASE_URL", "XE_APP_ID", "XE_CLIENT_ID", "XE_SECRET_KEY"}},
		{"no secret", func(c *fetch.Config) { c.SecretKey = "" }, []string{"XE_SECRET_KEY is not set"}},
		{"no client id", func(c *fetch.Config) { c.ClientID = "" }, []string{"XE_CLIENT_ID is not set"}},
		{"app id with a newline", func(c *fetch.Config) { c.AppID = "app1\n" }, []string{"XE_APP_ID has white space"}},
		{"base URL without scheme", func(c *fetch.Config) { c.BaseURL = "api.xiaoe-tech.com" }, []string{"XE_BASE_URL", "not an http(s) URL"}},
		{"base URL with a query", func(c *fetch.Config) { c.BaseURL = "https://api.xiaoe-tech.com/?x=1" }, []string{"XE_BASE_URL"}},
		{"negative rate", func(c *fetch.Config) { c.Rate = -1 }, []string{"must not be negative"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := fetch.New(cfg)
			if !errors.Is(err, fetch.ErrConfig) {
				t.Fatalf("New() = %v, want an ErrConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() = %q, want it to say %q", err, w)
				}
			}
		})
	}
}

// TestTokenIsSharedAndRefreshedOnce: fifty goroutines starting at once with no token cause
// one token call; expiry and 2008 each cause one refresh.
func TestTokenIsSharedAndRefreshedOnce(t *testing.T) {
	clock := fetchtest.NewClock(day1.Add(time.Hour))
	b := setup(t, setupOpts{
		shop:   fetchtest.Options{Orders: 50, Now: clock.Now},
		config: func(c *fetch.Config) { c.Now = clock.Now },
	})
	ids := orderIDs(b.srv)
	ctx := context.Background()
	burst := func(phase string) {
		t.Helper()
		errs := make([]error, len(ids))
		together(len(ids), func(i int) { _, _, errs[i] = b.client.OrderDetail(ctx, ids[i]) })
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
	}

	burst("no token yet")
	if n := b.srv.Stats().TokensIssued; n != 1 {
		t.Fatalf("50 goroutines without a token: %d token calls, want 1", n)
	}

	// Ahead of expiry (7200 s, refreshed in the last 5 minutes) all share one refresh.
	clock.Advance(7200*time.Second - 4*time.Minute)
	burst("token about to expire")
	if n := b.srv.Stats().TokensIssued; n != 2 {
		t.Fatalf("a token about to expire: %d token calls in all, want 2", n)
	}

	// The API rejects the token (2008): all 50 calls see it, one refresh serves them all.
	b.srv.ExpireTokens()
	burst("token rejected")
	st := b.srv.Stats()
	if st.TokensIssued != 3 {
		t.Fatalf("a rejected token: %d token calls in all, want 3", st.TokensIssued)
	}
	if st.Codes[fetchtest.EndpointDetail][2008] == 0 {
		t.Errorf("no call saw 2008: the test did not test the rejection")
	}
	if b.obs.refresh != 3 {
		t.Errorf("Observer.TokenRefresh: %d, want 3", b.obs.refresh)
	}

	// A token that stays rejected fails the call after one refresh, not in a loop.
	b.srv.FailWith(fetchtest.EndpointDetail, 2008)
	_, _, err := b.client.OrderDetail(ctx, ids[0])
	if !errors.Is(err, fetch.ErrTokenExpired) {
		t.Errorf("a token always rejected: %v, want ErrTokenExpired", err)
	}
	if n := b.srv.Stats().TokensIssued; n != 4 {
		t.Errorf("a token always rejected: %d token calls in all, want 4", n)
	}
}

func orderIDs(srv *fetchtest.Server) []string {
	var ids []string
	for _, o := range srv.Orders() {
		ids = append(ids, o.ID)
	}
	return ids
}

// TestFaultsLoseNothing: with 10% busy answers and 5% HTML 5xx answers, every call
// eventually succeeds and nothing is lost or duplicated.
func TestFaultsLoseNothing(t *testing.T) {
	b := setup(t, setupOpts{shop: fetchtest.Options{Seed: 7, Orders: 400, BusyRate: 0.10, ServerErrorRate: 0.05}})
	ctx := context.Background()
	truth := b.srv.Orders()

	items, err := b.client.ListAll(ctx, fetch.Window{Field: order.UpdateTime, Start: day0, End: day1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]fetch.ListItem{}
	for _, it := range items {
		if _, dup := listed[it.OrderID]; dup {
			t.Errorf("%s listed twice", it.OrderID)
		}
		listed[it.OrderID] = it
	}
	ids := make([]string, 0, len(truth))
	for _, o := range truth {
		it, ok := listed[o.ID]
		if !ok {
			t.Errorf("%s not listed", o.ID)
			continue
		}
		if !bytes.Equal(it.Raw, o.ListItem) || !it.UpdateTime.Equal(o.Updated) || !it.CreatedTime.Equal(o.Created) {
			t.Errorf("%s: list item differs from the ground truth", o.ID)
		}
		ids = append(ids, o.ID)
	}
	if len(listed) != len(truth) {
		t.Errorf("listed %d orders, the shop has %d", len(listed), len(truth))
	}

	got, errs := pool(ctx, b.client, ids, 8)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	st := b.srv.Stats()
	for _, o := range truth {
		if !bytes.Equal(got[o.ID], o.Detail) {
			t.Errorf("%s: detail differs from the ground truth", o.ID)
		}
		if n := st.DetailServed[o.ID]; n != 1 {
			t.Errorf("%s: served %d times, want once", o.ID, n)
		}
	}
	codes := st.Codes[fetchtest.EndpointDetail]
	if codes[1001]+codes[1002] == 0 || codes[-502]+codes[-503] == 0 {
		t.Errorf("the faults did not happen: %v", codes)
	}
	if attempts := st.Calls[fetchtest.EndpointToken] + st.Calls[fetchtest.EndpointDetail] + st.Calls[fetchtest.EndpointList]; b.obs.waits != attempts {
		t.Errorf("Observer.RateWait told %d times for %d attempts", b.obs.waits, attempts)
	}
	t.Logf("detail answers %v; list answers %v; retries by kind %v", codes, st.Codes[fetchtest.EndpointList], b.obs.retries)
}

// TestConfigErrorsFailAtOnce: each configuration error fails at once with a clear message
// and no retries.
func TestConfigErrorsFailAtOnce(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		code     int
		sentinel error
		says     string
	}{
		{fetchtest.EndpointToken, 2001, fetch.ErrConfig, "XE_APP_ID"},
		{fetchtest.EndpointToken, 2002, fetch.ErrConfig, "XE_APP_ID"},
		{fetchtest.EndpointToken, 2003, fetch.ErrConfig, "XE_SECRET_KEY"},
		{fetchtest.EndpointToken, 2004, fetch.ErrConfig, "XE_SECRET_KEY"},
		{fetchtest.EndpointToken, 2005, fetch.ErrConfig, "bug"},
		{fetchtest.EndpointToken, 2006, fetch.ErrConfig, "bug"},
		{fetchtest.EndpointToken, 2020, fetch.ErrConfig, "XE_CLIENT_ID"},
		{fetchtest.EndpointToken, 2051, fetch.ErrConfig, "whitelist this server's public IP"},
		{fetchtest.EndpointDetail, 2051, fetch.ErrConfig, "whitelist this server's public IP"},
		{fetchtest.EndpointDetail, 2017, fetch.ErrConfig, "permission set"},
		{fetchtest.EndpointDetail, 2052, fetch.ErrConfig, "XE_BASE_URL"},
		{fetchtest.EndpointDetail, 2055, fetch.ErrConfig, "XE_BASE_URL"},
		{fetchtest.EndpointDetail, 40004, fetch.ErrInvalid, "refused a request parameter"},
		{fetchtest.EndpointList, 40001, fetch.ErrInvalid, "refused a request parameter"},
	} {
		t.Run(tc.endpoint+"/"+itoa(tc.code), func(t *testing.T) {
			b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 1}})
			b.srv.FailWith(tc.endpoint, tc.code)
			var err error
			if tc.endpoint == fetchtest.EndpointList {
				_, err = b.client.ListOrders(context.Background(), fetch.ListRequest{Window: fetch.Window{Field: order.UpdateTime, Start: day0, End: day1}})
			} else {
				_, _, err = b.client.OrderDetail(context.Background(), b.srv.Orders()[0].ID)
			}
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want %v", err, tc.sentinel)
			}
			var ae *fetch.APIError
			if !errors.As(err, &ae) || ae.Code != tc.code {
				t.Errorf("err = %#v, want an *APIError with code %d", err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), itoa(tc.code)) {
				t.Errorf("err = %q, want it to say %q", err, tc.says)
			}
			if n := b.srv.Stats().Calls[tc.endpoint]; n != 1 {
				t.Errorf("%d calls to %s, want 1: no retries", n, tc.endpoint)
			}
			if n := b.obs.totalRetries(); n != 0 {
				t.Errorf("%d retries, want none", n)
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 1}, config: func(c *fetch.Config) { c.SecretKey = "not-the-secret" }})
		_, _, err := b.client.OrderDetail(context.Background(), "E20260301000000abcdefV2")
		if !errors.Is(err, fetch.ErrConfig) || !strings.Contains(err.Error(), "XE_SECRET_KEY") {
			t.Errorf("err = %v", err)
		}
		if st := b.srv.Stats(); st.Calls[fetchtest.EndpointToken] != 1 || st.Calls[fetchtest.EndpointDetail] != 0 {
			t.Errorf("calls: %v", st.Calls)
		}
	})

	t.Run("no such path", func(t *testing.T) {
		// A server that serves the token but not the business path: its 404 page says
		// the base URL is wrong, at once.
		shop := fetchtest.New(fetchtest.Options{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/token" {
				shop.Handler().ServeHTTP(w, r)
				return
			}
			http.NotFound(w, r)
		}))
		defer srv.Close()
		obs := &recorder{}
		o := shop.Options()
		c, err := fetch.New(fetch.Config{BaseURL: srv.URL, AppID: o.AppID, ClientID: o.ClientID,
			SecretKey: fetch.Secret(o.SecretKey), Observer: obs})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListOrders(context.Background(), fetch.ListRequest{OrderID: "x"})
		if !errors.Is(err, fetch.ErrConfig) || !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), "XE_BASE_URL") {
			t.Errorf("err = %v", err)
		}
		if n := obs.calls[fetch.EndpointList][-404]; n != 1 || obs.totalRetries() != 0 {
			t.Errorf("%d calls answered 404, %d retries; want 1 and none", n, obs.totalRetries())
		}
	})

	t.Run("token path not found", func(t *testing.T) {
		// The token path has been seen to answer 404 for a while (api-notes §1): retried,
		// then reported with a hint.
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		obs := &recorder{}
		c, err := fetch.New(fetch.Config{BaseURL: srv.URL, AppID: "a", ClientID: "b", SecretKey: "c",
			MaxAttempts: 3, BackoffMin: time.Millisecond, Observer: obs})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c.OrderDetail(context.Background(), "x")
		if !errors.Is(err, fetch.ErrTransient) || !strings.Contains(err.Error(), "XE_BASE_URL") || !strings.Contains(err.Error(), "3 attempts") {
			t.Errorf("err = %v", err)
		}
		if n := obs.calls[fetch.EndpointToken][-404]; n != 3 {
			t.Errorf("%d token calls, want 3", n)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestTransientFaultsAreRetried: each kind of passing fault is retried, as its kind, and the
// call then succeeds.
func TestTransientFaultsAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault http.HandlerFunc
		kind  fetch.Kind
		code  int // what the Observer is told of the failed attempt
	}{
		{"HTML page with 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html><body>maintenance</body></html>")
		}, fetch.KindTransient, -200},
		{"no reply in time", func(w http.ResponseWriter, r *http.Request) {
			io.ReadAll(r.Body) // then net/http notices the client giving up
			<-r.Context().Done()
		}, fetch.KindTransient, -1},
		{"connection cut", func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, fetch.KindTransient, -1},
		{"HTTP 429", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}, fetch.KindRateLimited, -429},
		{"quota reached", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"code":"2053","msg":"API的调用次数达到上线","data":null}`) // a code as a string, too
		}, fetch.KindRateLimited, 2053},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shop := fetchtest.New(fetchtest.Options{Orders: 1, Rate: -1})
			var faulted atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/token" && faulted.CompareAndSwap(false, true) {
					tc.fault(w, r)
					return
				}
				shop.Handler().ServeHTTP(w, r)
			}))
			defer srv.Close()
			obs := &recorder{}
			o := shop.Options()
			c, err := fetch.New(fetch.Config{BaseURL: srv.URL, AppID: o.AppID, ClientID: o.ClientID, SecretKey: fetch.Secret(o.SecretKey),
				RequestTimeout: 200 * time.Millisecond, BackoffMin: time.Millisecond, Observer: obs, Logger: newTestLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			id := shop.Orders()[0].ID
			if _, _, err := c.OrderDetail(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			if obs.retriesOf(tc.kind) != 1 || obs.totalRetries() != 1 {
				t.Errorf("retries %v, want one %s", obs.retries, tc.kind)
			}
			if obs.calls[fetch.EndpointDetail][tc.code] != 1 || obs.calls[fetch.EndpointDetail][0] != 1 {
				t.Errorf("attempts seen by the Observer: %v", obs.calls[fetch.EndpointDetail])
			}
		})
	}
}

func TestOrderDetail(t *testing.T) {
	b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 12}})
	ctx := context.Background()
	truth := b.srv.Orders()
	data, reply, err := b.client.OrderDetail(ctx, truth[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, truth[0].Detail) || !bytes.Contains(reply, truth[0].Detail) {
		t.Errorf("detail of %s: data equal to the truth: %t, reply holds it: %t", truth[0].ID, bytes.Equal(data, truth[0].Detail), bytes.Contains(reply, truth[0].Detail))
	}

	// Corrupt payloads, of both kinds. Wrong types are the decoder's to find: the data
	// comes back as received, once. Data that is not JSON is a malformed reply: tried a
	// few times, then returned as an error with the reply's bytes.
	var broken []string
	for _, o := range truth[1:9] {
		broken = append(broken, o.ID)
	}
	b.srv.SetBroken(broken...)
	b.srv.ResetStats()
	kinds := map[string]int{}
	for _, id := range broken {
		data, reply, err := b.client.OrderDetail(ctx, id)
		calls := b.srv.Stats().DetailCalls[id]
		switch {
		case err == nil:
			kinds["decode"]++
			_, perr := order.Prepare(order.Payload{OrderID: id, Detail: data})
			var de *order.DecodeError
			if !errors.As(perr, &de) || calls != 1 {
				t.Errorf("%s: Prepare = %v after %d calls, want a decode error after 1", id, perr, calls)
			}
		case errors.Is(err, fetch.ErrMalformed):
			kinds["malformed"]++
			if len(reply) == 0 || !strings.Contains(err.Error(), id) || calls != 3 {
				t.Errorf("%s: reply %d bytes, err %q, %d calls; want the bytes, the id, 3 calls", id, len(reply), err, calls)
			}
		default:
			t.Errorf("%s: err = %v", id, err)
		}
	}
	if kinds["decode"] == 0 || kinds["malformed"] == 0 {
		t.Errorf("broken payloads seen: %v, want both kinds", kinds)
	}

	_, _, err = b.client.OrderDetail(ctx, "E20260301000000nonexiV2")
	if !errors.Is(err, fetch.ErrNotFound) {
		t.Errorf("unknown order: %v, want ErrNotFound", err)
	}
}

func TestListItem(t *testing.T) {
	now := day0.AddDate(0, 3, 0) // the shop's orders are all older than its default window
	b := setup(t, setupOpts{shop: fetchtest.Options{Orders: 100, Now: func() time.Time { return now }}})
	ctx := context.Background()
	var newStyle, oldStyle *fetchtest.Order
	truth := b.srv.Orders()
	for i, o := range truth {
		if strings.HasPrefix(o.ID, "E") && newStyle == nil {
			newStyle = &truth[i]
		}
		if strings.HasPrefix(o.ID, "o_") && oldStyle == nil {
			oldStyle = &truth[i]
		}
	}
	if newStyle == nil || oldStyle == nil {
		t.Fatal("the shop lacks an order id of one of the two forms")
	}
	for _, o := range []*fetchtest.Order{newStyle, oldStyle} {
		b.srv.ResetStats()
		it, err := b.client.ListItem(ctx, o.ID)
		if err != nil {
			t.Fatalf("%s: %v", o.ID, err)
		}
		if it.OrderID != o.ID || !it.UpdateTime.Equal(o.Updated) || !bytes.Equal(it.Raw, o.ListItem) {
			t.Errorf("%s: got %+v", o.ID, it)
		}
		if n := b.srv.Stats().Calls[fetchtest.EndpointList]; n != 1 {
			t.Errorf("%s: %d list calls, want 1", o.ID, n)
		}
	}
	_, err := b.client.ListItem(ctx, "E20260301000000nonexiV2")
	if !errors.Is(err, fetch.ErrNotFound) {
		t.Errorf("unknown order: %v, want ErrNotFound", err)
	}
}
