package schedule

import "context"

// Locker is a lock shared by the replicas of the daemon and the one-shot commands, so that
// one of them at a time runs a job.
type Locker interface {
	// TryLock takes the lock name without waiting. When another holder has it, ok is false
	// and err nil. When ok is true, unlock releases the lock; it may be called after ctx is
	// done and more than once.
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

// RunOnce runs fn while holding the lock name, for one-shot commands. When another process
// holds the lock, fn is not called and RunOnce returns false and a nil error; otherwise it
// returns true and fn's error. The lock is released when fn returns or panics. A nil locker
// runs fn without a lock.
func RunOnce(ctx context.Context, locker Locker, name string, fn func(ctx context.Context) error) (ran bool, err error) {
	if locker == nil {
		return true, fn(ctx)
	}
	unlock, ok, err := locker.TryLock(ctx, name)
	if err != nil || !ok {
		return false, err
	}
	defer unlock()
	return true, fn(ctx)
}
