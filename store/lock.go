package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// LockClass is the first key of the two-key advisory locks that TryLock takes; the second
// is hashtext(name). Advisory locks belong to a database; in it, the holder of the lock
// of shop appX's sync is
//
//	SELECT pid FROM pg_locks WHERE locktype = 'advisory'
//	  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
//	  AND classid = 1330862414 AND objid = hashtext('ordersync:appX:sync')::oid AND objsubid = 2;
//
// All the locks of one Store have the same pid: the session of its lock connection.
const LockClass int32 = 0x4f53594e // "OSYN"

const (
	// lockTimeout bounds each use of the lock connection (connecting, taking the held
	// locks again, one lock statement), which runs apart from the caller's ctx: pgx
	// closes a connection whose statement is cancelled, and that would drop the locks of
	// every other job.
	lockTimeout = 10 * time.Second
	// unlockTimeout bounds an unlock, wait for the lock connection included; past it the
	// lock is released by whichever caller uses the connection next.
	unlockTimeout = 10 * time.Second
	// lockCheckEvery is how often the lock session is checked while it holds locks: one
	// session holds the locks of every job of the process, and a job may hold its lock for
	// hours without another lock or unlock to notice that the session died.
	lockCheckEvery = 2 * time.Second
)

var errLocksClosed = errors.New("store closed")

// TryLock takes the session-level advisory lock name without waiting, so that among the
// processes sharing the database one at a time does the work it guards. ok is false (and
// err nil) when another session holds it, and when this Store holds it already (or a
// name that hashes alike: such names share a lock). unlock releases it; it may be called
// after ctx is done, and more than once, and returns within unlockTimeout.
//
// Every lock of a Store is held by one connection of its own, outside the pool, so that
// a job holding its lock for hours keeps no pool connection from the work. A lock lives
// as long as that session: when the session dies its locks go with it, and another
// process may take them. The Store notices within a few seconds (it pings the session
// while it holds locks) or at its next TryLock or unlock, connects again and takes the
// locks it holds again; a lock that another session took meanwhile
// is logged at error level with its name, and the job that held it carries on unguarded
// until it unlocks.
func (s *Store) TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	l := s.locks
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("advisory lock %q: %w", name, err)
	}
	if err := l.acquire(ctx); err != nil {
		return nil, false, fmt.Errorf("advisory lock %q: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
	defer cancel()
	defer l.done(ctx)
	key, ok, err := l.try(ctx, name)
	if err != nil {
		return nil, false, fmt.Errorf("advisory lock %q: %w", name, err)
	}
	if !ok {
		return nil, false, nil
	}
	var once sync.Once
	return func() { once.Do(func() { l.unlock(key) }) }, true, nil
}

// sessionLocks holds a Store's advisory locks on one connection. Its statements are
// tiny, so the callers take turns.
type sessionLocks struct {
	connect func(context.Context) (*pgx.Conn, error)
	log     *slog.Logger
	// turn is the right to use conn and closed: a channel, so that waiting for it
	// honours a context.
	turn   chan struct{}
	conn   *pgx.Conn // nil before the first lock and once the session is lost
	closed bool

	// mu guards held and release, which an unlock changes without its turn.
	mu   sync.Mutex
	held map[int32]*heldLock // by hashtext(name): the server's key
	// release are keys unlocked while another caller had the turn; whoever has the turn
	// releases them when it ends.
	release []int32
}

type heldLock struct {
	name string
	// lost: another session took the lock while this Store's session was gone.
	lost bool
}

func newSessionLocks(connect func(context.Context) (*pgx.Conn, error), log *slog.Logger) *sessionLocks {
	return &sessionLocks{connect: connect, log: log, turn: make(chan struct{}, 1), held: map[int32]*heldLock{}}
}

func (l *sessionLocks) acquire(ctx context.Context) error {
	select {
	case l.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// done releases the keys unlocked meanwhile and ends the caller's turn.
func (l *sessionLocks) done(ctx context.Context) {
	l.flush(ctx)
	<-l.turn
}

// try takes name's lock unless this Store holds its key already.
func (l *sessionLocks) try(ctx context.Context, name string) (key int32, ok bool, err error) {
	l.mu.Lock()
	keys := make([]int32, 0, len(l.held))
	for k := range l.held {
		keys = append(keys, k)
	}
	l.mu.Unlock()
	// The session's locks are re-entrant, so the keys held are checked in the same
	// statement: a second job of the same name in this process must be refused, as it
	// was when each lock had a session of its own.
	const sql = `SELECT k, CASE WHEN k = ANY($3::int[]) THEN false ELSE pg_try_advisory_lock($1, k) END
		FROM hashtext($2) AS k`
	// A second attempt when the first finds the session dead: its locks went with it,
	// so nothing of the first can be left over on the new one.
	for attempt := 0; ; attempt++ {
		conn, err := l.session(ctx)
		if err != nil {
			return 0, false, err
		}
		err = conn.QueryRow(ctx, sql, LockClass, name, keys).Scan(&key, &ok)
		if err == nil {
			if ok {
				l.mu.Lock()
				l.held[key] = &heldLock{name: name}
				l.mu.Unlock()
			}
			return key, ok, nil
		}
		// The server may have granted the lock before the failure; ending the session is
		// the one way to be sure that it is not kept.
		l.end(ctx)
		if attempt > 0 || ctx.Err() != nil {
			return 0, false, err
		}
	}
}

// unlock releases key's lock, or leaves it to the caller whose turn it is.
func (l *sessionLocks) unlock(key int32) {
	l.mu.Lock()
	h := l.held[key]
	delete(l.held, key)
	if h != nil && !h.lost {
		l.release = append(l.release, key)
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	if l.acquire(ctx) != nil {
		return
	}
	l.done(ctx)
}

// flush releases the keys in release. It runs in a turn.
func (l *sessionLocks) flush(ctx context.Context) {
	l.mu.Lock()
	keys := l.release
	l.release = nil
	l.mu.Unlock()
	if len(keys) == 0 || l.closed {
		return
	}
	if l.conn != nil && !l.conn.IsClosed() {
		rows, err := l.conn.Query(ctx, `SELECT pg_advisory_unlock($1, k) FROM unnest($2::int[]) AS k`, LockClass, keys)
		var released []bool
		if err == nil {
			released, err = pgx.CollectRows(rows, pgx.RowTo[bool])
		}
		if err == nil {
			for i, ok := range released {
				if !ok {
					// The session did not hold what this Store counted as held.
					l.log.Warn("released an advisory lock this process did not hold", slog.Int("lock_key", int(keys[i])))
				}
			}
			return
		}
		l.end(ctx)
	}
	// The session is gone with the locks unlocked here; the others must be taken again.
	l.mu.Lock()
	others := len(l.held)
	l.mu.Unlock()
	if others > 0 {
		_, _ = l.session(ctx)
	}
}

// session returns the lock connection, after connecting and taking the held locks again
// if the session was lost. It runs in a turn.
func (l *sessionLocks) session(ctx context.Context) (*pgx.Conn, error) {
	if l.closed {
		return nil, errLocksClosed
	}
	if l.conn != nil && !l.conn.IsClosed() {
		return l.conn, nil
	}
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect for advisory locks: %w", err)
	}
	l.conn = conn
	l.mu.Lock()
	l.release = nil // released with the old session
	keys := make([]int32, 0, len(l.held))
	for k := range l.held {
		keys = append(keys, k)
	}
	l.mu.Unlock()
	if len(keys) == 0 {
		return conn, nil
	}
	slices.Sort(keys)
	rows, err := conn.Query(ctx, `SELECT pg_try_advisory_lock($1, k) FROM unnest($2::int[]) AS k`, LockClass, keys)
	var taken []bool
	if err == nil {
		taken, err = pgx.CollectRows(rows, pgx.RowTo[bool])
	}
	if err != nil {
		l.end(ctx)
		return nil, fmt.Errorf("take the advisory locks again: %w", err)
	}
	l.log.Warn("lost the database session holding this process's advisory locks; took them again on a new one", slog.Int("locks", len(keys)))
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, ok := range taken {
		h := l.held[keys[i]]
		if h == nil {
			if ok {
				// Unlocked while the lock was taken again.
				l.release = append(l.release, keys[i])
			}
			continue
		}
		switch {
		case !ok && !h.lost:
			h.lost = true
			l.log.Error("another session took an advisory lock while this process had lost it; the job holding it runs unguarded",
				slog.String("lock", h.name))
		case ok && h.lost:
			h.lost = false
			l.log.Info("took a lost advisory lock again", slog.String("lock", h.name))
		}
	}
	return conn, nil
}

// keep checks the lock session every lockCheckEvery while it holds locks, until ctx
// ends: a session that died is replaced, and its locks taken again, before another
// process finds them free for long.
func (l *sessionLocks) keep(ctx context.Context) {
	t := time.NewTicker(lockCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l.mu.Lock()
		held := len(l.held)
		l.mu.Unlock()
		if held == 0 || l.acquire(ctx) != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, lockTimeout)
		l.check(cctx)
		l.done(cctx)
		cancel()
	}
}

// check pings the lock session, and replaces it if it is gone. It runs in a turn.
func (l *sessionLocks) check(ctx context.Context) {
	if l.closed {
		return
	}
	if l.conn != nil && !l.conn.IsClosed() {
		if l.conn.Ping(ctx) == nil {
			return
		}
		l.end(ctx)
	}
	if _, err := l.session(ctx); err != nil && ctx.Err() == nil {
		l.log.Warn("could not connect again for this process's advisory locks; retrying", slog.String("error", err.Error()))
	}
}

// end closes the lock connection: its locks are released by the server.
func (l *sessionLocks) end(ctx context.Context) {
	if l.conn != nil {
		_ = l.conn.Close(ctx)
		l.conn = nil
	}
}

// close ends the session for good; later TryLocks fail.
func (l *sessionLocks) close() {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	if l.acquire(ctx) != nil {
		return
	}
	defer func() { <-l.turn }()
	l.closed = true
	l.end(ctx)
}
