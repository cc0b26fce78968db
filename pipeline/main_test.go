package pipeline_test

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestMain runs the tests and benchmarks at the collector's pace of the syncer binary
// (cmd/syncer's gcPercent), unless GOGC says otherwise, so that the benchmarks' CPU per
// order is the binary's.
func TestMain(m *testing.M) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(200)
	}
	os.Exit(m.Run())
}
