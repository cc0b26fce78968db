package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"runtime/debug"
	"sync"
	"testing"

	"ordersync/migrations"
	"ordersync/store"
)

// Migrated creates a database for t with ordersync's schema and returns its URL. The schema
// is migrated once into a template named after the migrations' contents, then copied.
func Migrated(t testing.TB) string {
	t.Helper()
	return NewDatabaseFrom(t, "schema_"+migrationsKey(), func(ctx context.Context, url string) error {
		s, err := store.New(ctx, url, Logger(t))
		if err != nil {
			return err
		}
		defer s.Close()
		return s.Migrate(ctx)
	})
}

// Store opens a store on a fresh migrated database, closed when t ends.
func Store(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.New(context.Background(), Migrated(t), Logger(t))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// migrationsKey names the schema: the migration files, and the version of River, whose
// migrations ordersync's Go migration runs.
var migrationsKey = sync.OnceValue(func() string {
	h := sha256.New()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/riverqueue/river" {
				h.Write([]byte(dep.Path + "@" + dep.Version))
			}
		}
	}
	_ = fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:16]
})
