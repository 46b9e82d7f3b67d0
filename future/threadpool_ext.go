package future

import "context"

// CancelCause is Cancel with a reason: it cancels a pending future and
// reports true, and the future's error then matches ErrCancelled (and
// context.Canceled) and wraps cause. Executors use it when they notice that
// a queued task's context has ended before the context's own watcher did.
// On a running future it cancels the task's context with cause and reports
// false, like Cancel. Python's cancel takes no reason.
func (f *Future[T]) CancelCause(cause error) bool {
	f.mu.Lock()
	if f.state.CompareAndSwap(int32(Pending), int32(Cancelled)) {
		f.finishLocked(Cancelled, CancelledError(cause))
		return true
	}
	if State(f.state.Load()) == Running {
		if cause == nil {
			cause = ErrCancelled
		}
		f.tctx.cancelLocked(cause)
	}
	f.mu.Unlock()
	return false
}

// SubmitContext returns the context the future was created with (New's
// ctx; context.Background for Resolved). Unlike Context, whose Err only
// reports a cancellation once it has been applied to the future, its Err is
// non-nil the instant the submit context ends: executors check it just
// before running a task so that a task whose context has just ended does
// not start. Python has no counterpart.
func (f *Future[T]) SubmitContext() context.Context { return f.tctx.parent }
