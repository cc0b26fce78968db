// Command syncer keeps a PostgreSQL copy of every order of a Xiaoe-tech shop.
package main

import (
	"context"
	"os"
	"runtime/debug"
)

// gcPercent is the collector's pace unless GOGC says otherwise. The live heap is small (the
// replies and batches in flight, tens of MB), and at Go's default of 100 the collector took
// a fifth of the process's CPU in a backfill; at 400 the process spends 0.87x the CPU per
// order for a heap that peaks a few times higher. The pipeline's benchmarks run at it too.
const gcPercent = 400

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}
