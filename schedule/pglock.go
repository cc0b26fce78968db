package schedule

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// AdvisoryLockClass is the first key of the two-key advisory locks that PGLocker takes;
// the second is hashtext(name). Advisory locks belong to a database; in it, the holder of
// the lock of job "sync" is
//
//	SELECT pid FROM pg_locks WHERE locktype = 'advisory'
//	  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
//	  AND classid = 1330862414 AND objid = hashtext('sync')::oid AND objsubid = 2;
const AdvisoryLockClass int32 = 0x4f53594e // "OSYN"

// unlockTimeout bounds the unlock statement, which runs after the caller's ctx may be
// done; past it the session is closed, which releases its locks as well.
const unlockTimeout = 10 * time.Second

// PGLocker is a Locker over PostgreSQL session-level advisory locks
// (pg_try_advisory_lock). Each held lock keeps one connection out of the pool until
// unlock, so size the pool for it beside the job's own queries. The lock lives as long as
// that session: a holder whose connection dies loses it, and another process may then
// take it while the first still runs.
type PGLocker struct {
	pool *pgxpool.Pool
}

// NewPGLocker returns a PGLocker that takes connections from pool.
func NewPGLocker(pool *pgxpool.Pool) *PGLocker {
	return &PGLocker{pool: pool}
}

// TryLock implements Locker. Names that hash alike under hashtext share a lock.
func (l *PGLocker) TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("advisory lock %q: acquire connection: %w", name, err)
	}
	err = conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, hashtext($2))", AdvisoryLockClass, name).Scan(&ok)
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
	err := conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1, hashtext($2))", AdvisoryLockClass, name).Scan(&released)
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
