package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"ordersync/fetch/fetchtest"
	"ordersync/order"
)

// fakeshopFlags are fakeshop's own flags.
type fakeshopFlags struct {
	addr          string
	orders, days  int
	shops         int
	shopsFile     string
	rate          float64
	latency       time.Duration
	busy, errors  float64
	seed          int64
	changesPerMin int
	tokenLifetime time.Duration
}

func cmdFakeshop(ctx context.Context, e *env, args []string) error {
	var f fakeshopFlags
	fs := e.flags
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "where to serve the simulated API (HOST:PORT; port 0 for any free one)")
	fs.IntVar(&f.orders, "orders", 3000, "orders of each simulated shop")
	fs.IntVar(&f.days, "days", 90, "days of history the orders were created over, up to now")
	fs.IntVar(&f.shops, "shops", 1, "how many shops to serve (each with its own credentials, orders and rate limit)")
	fs.StringVar(&f.shopsFile, "shops-file", "fakeshop-shops.toml", "with --shops above 1: where to write the shops file for syncer")
	fs.Float64Var(&f.rate, "rate", 20, "calls per second per endpoint per shop before answering 2054, as the real API; 0 for no limit")
	fs.DurationVar(&f.latency, "latency", 0, "added to every call")
	fs.Float64Var(&f.busy, "busy-rate", 0, "fraction of calls answered 1001/1002 (busy)")
	fs.Float64Var(&f.errors, "error-rate", 0, "fraction of calls answered with an HTML 502/503 page")
	fs.Int64Var(&f.seed, "seed", 2026, "the seed of the orders: the same seed, the same shops")
	fs.IntVar(&f.changesPerMin, "changes-per-min", 3, "orders each shop changes every minute (paid, shipped, refunded…); 0 for none")
	fs.DurationVar(&f.tokenLifetime, "token-lifetime", 2*time.Hour, "the expires_in of the access tokens")
	if err := e.parse(args); err != nil {
		return err
	}
	switch {
	case f.orders < 0, f.days <= 0, f.shops <= 0, f.rate < 0, f.latency < 0, f.changesPerMin < 0, f.tokenLifetime < time.Second:
		return usagef("fakeshop: --orders, --days, --shops, --rate, --latency, --changes-per-min and --token-lifetime must be positive (or 0 where the help says so)")
	case f.busy < 0 || f.busy > 1 || f.errors < 0 || f.errors > 1 || f.busy+f.errors > 1:
		return usagef("fakeshop: --busy-rate and --error-rate are fractions of the calls, 0 to 1 together")
	}
	rate := f.rate
	if rate == 0 {
		rate = -1 // fetchtest: no limit
	}
	now := time.Now().In(order.Shanghai).Truncate(time.Second)
	opts := make([]fetchtest.Options, f.shops)
	for i := range opts {
		opts[i] = fetchtest.Options{Seed: f.seed + int64(i), Orders: f.orders, From: now.AddDate(0, 0, -f.days), To: now,
			Rate: rate, Latency: f.latency, BusyRate: f.busy, ServerErrorRate: f.errors, TokenTTL: f.tokenLifetime}
	}
	if f.shops == 1 {
		// One shop keeps the single-shop defaults, so the credentials stay the same run
		// after run.
		opts[0].AppID, opts[0].ClientID, opts[0].SecretKey = fetchtest.DefaultAppID, fetchtest.DefaultClientID, fetchtest.DefaultSecretKey
	}
	multi := fetchtest.NewMulti(opts)

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return usagef("fakeshop --addr %s: %v", f.addr, err)
	}
	base := "http://" + ln.Addr().String()
	if err := printFakeshopEnv(e, f, multi, base); err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", fakeshopAdmin(multi))
	mux.Handle("/", multi.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("fakeshop listener stopped", "error", err)
		}
	}()
	e.log.Info("simulated shop serving", "addr", ln.Addr().String(), "shops", f.shops, "orders_per_shop", f.orders)
	if f.changesPerMin > 0 {
		go changeShops(ctx, multi, f.changesPerMin)
	}
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return nil
}

// printFakeshopEnv prints, on stdout, the environment that points syncer at the shops:
// the XE_* of the one shop, or a shops file and its secrets for several.
func printFakeshopEnv(e *env, f fakeshopFlags, multi *fetchtest.Multi, base string) error {
	w := e.stdout
	fmt.Fprintf(w, "# the simulated shop serves the Xiaoe API at %s until SIGINT or SIGTERM;\n", base)
	fmt.Fprintf(w, "# its admin endpoints: GET %s/admin/stats, POST %s/admin/change?n=5\n", base, base)
	fmt.Fprintf(w, "export XE_BASE_URL=%s\n", base)
	shops := multi.Shops()
	if len(shops) == 1 {
		o := shops[0].Options()
		fmt.Fprintf(w, "export XE_APP_ID=%s\nexport XE_CLIENT_ID=%s\nexport XE_SECRET_KEY=%s\n", o.AppID, o.ClientID, o.SecretKey)
		return nil
	}
	var file strings.Builder
	fmt.Fprintf(&file, "# %d simulated shops of syncer fakeshop at %s; their secrets are in the environment.\n", len(shops), base)
	for i, s := range shops {
		o := s.Options()
		name := fmt.Sprintf("FAKESHOP_SECRET_%d", i+1)
		fmt.Fprintf(&file, "\n[[shop]]\napp_id = %q\nclient_id = %q\nsecret_key_env = %q\n", o.AppID, o.ClientID, name)
		fmt.Fprintf(w, "export %s=%s\n", name, o.SecretKey)
	}
	if err := os.WriteFile(f.shopsFile, []byte(file.String()), 0o600); err != nil {
		return fmt.Errorf("fakeshop: write the shops file: %w", err)
	}
	fmt.Fprintf(w, "export SYNC_SHOPS_FILE=%s\n", f.shopsFile)
	return nil
}

// changeShops changes perMin orders of every shop each minute, spread over the minute, as
// a shop's orders are paid, shipped and refunded.
func changeShops(ctx context.Context, multi *fetchtest.Multi, perMin int) {
	t := time.NewTicker(time.Minute / time.Duration(perMin))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, s := range multi.Shops() {
				s.Mutate(1, now)
			}
		}
	}
}

// fakeshopAdmin serves the simulated shops' admin endpoints:
//
//	GET  /admin/stats                      calls, answers and orders of every shop (JSON)
//	POST /admin/change?n=N[&app_id=A]      change N orders of every shop (or of A) now
//	POST /admin/orders?n=N[&app_id=A]      add N new orders created now
//	POST /admin/fault?kind=K&order_id=ID[&app_id=A]
//	                                       break an order's detail reply: truncated,
//	                                       not_json, no_envelope, refused, http_error,
//	                                       broken, or none to mend it
func fakeshopAdmin(multi *fetchtest.Multi) http.Handler {
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	}
	// shopsOf is the shops a request names: app_id, or all.
	shopsOf := func(w http.ResponseWriter, r *http.Request) ([]*fetchtest.Shop, bool) {
		app := r.URL.Query().Get("app_id")
		if app == "" {
			return multi.Shops(), true
		}
		if s := multi.Shop(app); s != nil {
			return []*fetchtest.Shop{s}, true
		}
		http.Error(w, "no shop "+app, http.StatusNotFound)
		return nil, false
	}
	count := func(w http.ResponseWriter, r *http.Request) (int, bool) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n <= 0 || n > 100000 {
			http.Error(w, "n: want a number of orders from 1 to 100000", http.StatusBadRequest)
			return 0, false
		}
		return n, true
	}
	mux.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, r *http.Request) {
		type shopStats struct {
			Orders int `json:"orders"`
			fetchtest.Stats
		}
		out := map[string]shopStats{}
		for _, s := range multi.Shops() {
			st := s.Stats()
			st.DetailCalls, st.DetailServed = nil, nil // per order: too long to read
			out[s.Options().AppID] = shopStats{Orders: s.Len(), Stats: st}
		}
		answer(w, out)
	})
	for path, do := range map[string]func(s *fetchtest.Shop, n int) []string{
		"POST /admin/change": func(s *fetchtest.Shop, n int) []string { return s.Mutate(n, time.Now()) },
		"POST /admin/orders": func(s *fetchtest.Shop, n int) []string { return s.AddOrders(n, time.Now()) },
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			shops, ok := shopsOf(w, r)
			if !ok {
				return
			}
			n, ok := count(w, r)
			if !ok {
				return
			}
			out := map[string][]string{}
			for _, s := range shops {
				out[s.Options().AppID] = do(s, n)
			}
			answer(w, out)
		})
	}
	faults := map[string]fetchtest.Fault{"none": fetchtest.FaultNone, "broken": fetchtest.FaultBroken,
		"truncated": fetchtest.FaultTruncated, "not_json": fetchtest.FaultNotJSON, "no_envelope": fetchtest.FaultNoEnvelope,
		"refused": fetchtest.FaultRefused, "http_error": fetchtest.FaultHTTPError}
	mux.HandleFunc("POST /admin/fault", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		fault, ok := faults[q.Get("kind")]
		if !ok || q.Get("order_id") == "" {
			http.Error(w, "want kind=none|broken|truncated|not_json|no_envelope|refused|http_error and order_id", http.StatusBadRequest)
			return
		}
		shops, ok := shopsOf(w, r)
		if !ok {
			return
		}
		for _, s := range shops {
			if _, known := s.Order(q.Get("order_id")); known {
				s.SetFault(fault, q.Get("order_id"))
				answer(w, map[string]string{"app_id": s.Options().AppID, "order_id": q.Get("order_id"), "fault": q.Get("kind")})
				return
			}
		}
		http.Error(w, "no shop has order "+q.Get("order_id"), http.StatusNotFound)
	})
	return mux
}
