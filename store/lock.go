package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// LockClass is the first key of the two-key advisory locks that TryLock takes; the second
// is hashtext(name). Advisory locks belong to a database; in it, the holder of the lock
// of shop appX's sync is
//
//	SELECT pid FROM pg_locks WHERE locktype = 'advisory'
//	  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
//	  AND classid = 1330862414 AND objid = hashtext('ordersync:appX:sync')::oid AND objsubid = 2;
const LockClass int32 = 0x4f53594e // "OSYN"

// unlockTimeout bounds the unlock statement, which runs after the caller's ctx may be
// done; past it the session is closed, which releases its locks as well.
const unlockTimeout = 10 * time.Second

// TryLock takes the session-level advisory lock name without waiting, so that among the
// processes sharing the database one at a time does the work it guards. ok is false (and
// err nil) when another session holds it. unlock releases it; it may be called after ctx
// is done, and more than once.
//
// The lock keeps one connection out of the pool until unlock, and lives as long as that
// session: a holder whose connection dies loses it, and another process may take it then.
// Names that hash alike under hashtext share a lock.
func (s *Store) TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("advisory lock %q: acquire connection: %w", name, err)
	}
	err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, hashtext($2))", LockClass, name).Scan(&ok)
	if err != nil {
		// The server may have granted the lock before the failure (a cancelled ctx, a
		// broken connection); ending the session is the one way to be sure it is not kept.
		closeConn(conn)
		return nil, false, fmt.Errorf("advisory lock %q: %w", name, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	var once sync.Once
	return func() { once.Do(func() { unlockConn(conn, name) }) }, true, nil
}

// unlockConn releases the lock name held by conn's session and returns conn to the pool.
func unlockConn(conn *pgxpool.Conn, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	var released bool
	err := conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1, hashtext($2))", LockClass, name).Scan(&released)
	if err != nil || !released {
		// A dead connection took the lock with it. Otherwise the session's state is not
		// what we think, and a pooled session must not keep a lock: close it.
		closeConn(conn)
		return
	}
	conn.Release()
}

// closeConn takes conn out of the pool and closes it, ending its session and any locks.
func closeConn(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	_ = conn.Hijack().Close(ctx)
}
