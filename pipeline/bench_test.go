package pipeline_test

import (
	"context"
	"testing"
	"time"

	"ordersync/fetch"
	"ordersync/fetch/fetchtest"
	"ordersync/pipeline"
)

// BenchmarkBackfillAtRateLimit backfills a shop that enforces the real 20 calls/s per
// endpoint, and reports detail calls per second against that ceiling, the shop's 2054
// refusals, and the API calls per order of a rerun over the same range with nothing
// changed (the backfill's windows forgotten, so everything is listed again).
func BenchmarkBackfillAtRateLimit(b *testing.B) {
	const ceiling = 20.0
	for range b.N {
		bd := setupB(b, fetchtest.Options{Seed: 42, Orders: 400, Rate: ceiling})
		ctx := context.Background()
		start := time.Now()
		res, err := bd.syncer.Backfill(ctx, bd.from, bd.to)
		if err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		st := bd.shop.Stats()
		detail := st.Calls[fetch.EndpointDetail]
		b.ReportMetric(float64(detail)/elapsed.Seconds(), "detail-calls/s")
		b.ReportMetric(float64(detail)/elapsed.Seconds()/ceiling, "ratio-to-ceiling")
		b.ReportMetric(float64(st.RateLimited), "2054s")
		b.ReportMetric(float64(res.Written), "orders")

		if _, err := bd.st.Pool().Exec(ctx, "DELETE FROM sync_windows"); err != nil {
			b.Fatal(err)
		}
		bd.shop.ResetStats()
		if _, err := bd.syncer.Backfill(ctx, bd.from, bd.to); err != nil {
			b.Fatal(err)
		}
		calls := 0
		for _, n := range bd.shop.Stats().Calls {
			calls += n
		}
		b.ReportMetric(float64(calls)/float64(res.Written), "rerun-calls/order")
	}
}

func setupB(b *testing.B, opts fetchtest.Options) *bundle {
	return setupTB(b, opts, pipeline.Config{Workers: 8})
}
