// Package storetest gives each database test a fresh PostgreSQL database of its own.
//
// The server is found in this order: TEST_DATABASE_URL; the libpq defaults (PGHOST, PGPORT,
// PGUSER, … or the local server); a container started by testcontainers-go where Docker
// runs. Where none answers the test is skipped with a message, except under CI=true, where
// it fails: CI must never pass by skipping its database tests.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
)

var server struct {
	once sync.Once
	url  string // admin URL of the server
	err  error
}

// ServerURL returns a URL of the test server that can create databases, or skips or fails
// the test when there is none.
func ServerURL(t testing.TB) string {
	t.Helper()
	server.once.Do(func() { server.url, server.err = findServer() })
	if server.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no usable PostgreSQL for tests (CI=true requires one): %v", server.err)
		}
		t.Skipf("no usable PostgreSQL for tests; set TEST_DATABASE_URL: %v", server.err)
	}
	return server.url
}

func findServer() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		if err := usable(ctx, u); err != nil {
			return "", fmt.Errorf("TEST_DATABASE_URL: %w", err)
		}
		return u, nil
	}
	var errs []error
	// pgx applies the libpq environment (PGHOST, PGUSER, …) to an empty connection string.
	for _, u := range []string{"", "postgres://127.0.0.1:5432/postgres?sslmode=disable"} {
		if err := usable(ctx, u); err == nil {
			return u, nil
		} else {
			errs = append(errs, err)
		}
	}
	u, err := startContainer(ctx)
	if err == nil {
		return u, nil
	}
	errs = append(errs, fmt.Errorf("testcontainers: %w", err))
	return "", errors.Join(errs...)
}

// usable checks that the server at u answers and that its role may create databases:
// every test gets one of its own, created beside the database u names.
func usable(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var role string
	var creates bool
	err = conn.QueryRow(ctx, "SELECT rolname, rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&role, &creates)
	if err != nil {
		return err
	}
	if !creates {
		return fmt.Errorf("role %s may not create databases, and the tests create one per test beside the database named: "+
			"grant it with ALTER ROLE %s CREATEDB, or connect as a role that has CREATEDB", role, pgx.Identifier{role}.Sanitize())
	}
	return nil
}

func startContainer(ctx context.Context) (u string, err error) {
	defer func() {
		// testcontainers panics in some setups without a Docker socket.
		if r := recover(); r != nil {
			err = fmt.Errorf("docker unavailable: %v", r)
		}
	}()
	if _, statErr := os.Stat("/var/run/docker.sock"); statErr != nil && os.Getenv("DOCKER_HOST") == "" {
		return "", errors.New("no Docker engine (no /var/run/docker.sock, DOCKER_HOST unset)")
	}
	// The container lives as long as the test binary; Ryuk removes it afterwards.
	ctr, err := postgres.Run(ctx, "postgres:16-alpine",
		postgres.WithDatabase("postgres"), postgres.WithUsername("postgres"), postgres.WithPassword("postgres"),
		postgres.BasicWaitStrategies())
	if err != nil {
		return "", err
	}
	_ = testcontainers.Container(ctr)
	return ctr.ConnectionString(ctx, "sslmode=disable")
}

// Migrator prepares a template database; it is given the template's URL.
type Migrator func(ctx context.Context, url string) error

var templates struct {
	mu    sync.Mutex
	names map[string]string
	errs  map[string]error
}

// NewDatabase creates an empty database for t, dropped when t ends, and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, "")
}

// NewDatabaseFrom creates a database for t as a copy of a template that migrate prepared
// once per test binary under the name key (put a version in the key: templates left by
// older code are not reused because the name changes). The copy is dropped when t ends.
func NewDatabaseFrom(t testing.TB, key string, migrate Migrator) string {
	t.Helper()
	admin := ServerURL(t)
	templates.mu.Lock()
	if templates.names == nil {
		templates.names, templates.errs = map[string]string{}, map[string]error{}
	}
	name, done := templates.names[key]
	if !done {
		name, templates.errs[key] = buildTemplate(admin, key, migrate)
		templates.names[key] = name
	}
	err := templates.errs[key]
	templates.mu.Unlock()
	if err != nil {
		t.Fatalf("prepare template database %s: %v", key, err)
	}
	return newDatabase(t, name)
}

// buildTemplate makes the template database once per server: test binaries of several
// packages run at once, so an advisory lock orders them and the first one builds it.
func buildTemplate(admin, key string, migrate Migrator) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "ordersync_tmpl_" + sanitize(key)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7301, hashtext($1))", name); err != nil {
		return "", err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7301, hashtext($1))", name)

	var ready bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)", name).Scan(&ready)
	if err != nil || ready {
		return name, err
	}
	ident := pgx.Identifier{name}.Sanitize()
	// A half-built template from an interrupted run is not marked as one: start it again.
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", err
	}
	if err := migrate(ctx, withDatabase(admin, name)); err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident+" WITH IS_TEMPLATE true"); err != nil {
		return "", err
	}
	return name, nil
}

func newDatabase(t testing.TB, template string) string {
	t.Helper()
	admin := ServerURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to test server: %v", err)
	}
	defer conn.Close(ctx)
	var buf [6]byte
	_, _ = rand.Read(buf[:])
	name := "ordersync_t_" + hex.EncodeToString(buf[:])
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	// CREATE DATABASE … TEMPLATE fails while another session is copying the same template
	// at that very instant on some versions; a short retry covers it.
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, sql)
		if err == nil || attempt == 20 || !strings.Contains(err.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// Logger returns a logger that writes to t.Log, shown when the test fails or runs with -v.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Pool opens a pool on url, closed when t ends.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// withDatabase returns the server URL u with its database set to name; u may be a URL or
// a libpq keyword/value string, including the empty one.
func withDatabase(u, name string) string {
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		parsed, err := url.Parse(u)
		if err == nil {
			parsed.Path = "/" + name
			return parsed.String()
		}
	}
	return strings.TrimSpace(u + " dbname=" + name)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
