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
