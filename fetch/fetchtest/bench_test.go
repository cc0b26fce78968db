package fetchtest_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"ordersync/fetch/fetchtest"
)

// benchSizes are a test's shop, a big agency's shop and one beyond it.
var benchSizes = []int{3_000, 100_000, 300_000}

func benchShop(n int) *fetchtest.Shop {
	return fetchtest.New(fetchtest.Options{Seed: 1, Orders: n, From: t0, To: tEnd, Rate: -1,
		Now: func() time.Time { return tEnd }})
}

// BenchmarkNew measures generating a shop, and what the shop keeps: heap-MB is the heap in
// use once it has rendered every order (as a full sync has it do), less the heap before.
func BenchmarkNew(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint("orders=", n), func(b *testing.B) {
			before := heapInUse()
			var s *fetchtest.Shop
			for b.Loop() {
				s = benchShop(n)
			}
			s.Orders()
			b.ReportMetric(float64(heapInUse()-before)/(1<<20), "heap-MB")
			runtime.KeepAlive(s)
		})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkServe measures one list page and one detail, answered by the shop's handler (no
// network, so that the shop's own cost shows): a page of a day's update_time window, as a
// sync pages it; a page anywhere in a month's created_time window, as a backfill pages it.
func BenchmarkServe(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint("orders=", n), func(b *testing.B) {
			s := benchShop(n)
			h := s.Handler()
			tok := benchToken(b, h, s.Options())
			var ids []string
			for _, o := range s.Orders() {
				ids = append(ids, o.ID)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			page := func(b *testing.B, body string) { benchPost(b, h, fetchtest.EndpointList, body) }
			b.Run("list-day", func(b *testing.B) {
				for b.Loop() {
					day := t0.AddDate(0, 0, rng.IntN(60))
					page(b, fmt.Sprintf(`{"access_token":%q,"update_time_start":%q,"update_time_end":%q,"page":%d,"page_size":100}`,
						tok, bj(day), bj(day.Add(24*time.Hour-time.Second)), 1+rng.IntN(3)))
				}
			})
			b.Run("list-month", func(b *testing.B) {
				for b.Loop() {
					page(b, fmt.Sprintf(`{"access_token":%q,"created_time_start":%q,"created_time_end":%q,"page":%d,"page_size":100}`,
						tok, bj(t0), bj(t0.AddDate(0, 0, 31)), 1+rng.IntN(max(1, n/2/100))))
				}
			})
			b.Run("detail", func(b *testing.B) {
				for b.Loop() {
					id := ids[rng.IntN(len(ids))]
					benchPost(b, h, fetchtest.EndpointDetail, `{"access_token":"`+tok+`","order_id":"`+id+`"}`)
				}
			})
		})
	}
}

func benchPost(b *testing.B, h http.Handler, ep, body string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+ep, strings.NewReader(body)))
	if !strings.HasPrefix(rec.Body.String(), `{"code":0,`) {
		b.Fatalf("%s: HTTP %d %.80s", ep, rec.Code, rec.Body)
	}
}

func benchToken(b *testing.B, h http.Handler, o fetchtest.Options) string {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/token?app_id="+o.AppID+"&client_id="+o.ClientID+
		"&secret_key="+o.SecretKey+"&grant_type=client_credential", nil))
	tok, ok := strings.CutPrefix(rec.Body.String(), `{"code":0,"msg":"success","data":{"access_token":"`)
	if !ok {
		b.Fatalf("token: %s", rec.Body)
	}
	return tok[:strings.IndexByte(tok, '"')]
}
