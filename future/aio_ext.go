package future

import "errors"

// CompleteCancelled ends a pending or running future as Cancelled and
// reports true; it reports false and changes nothing if the future is
// already final. The future's error matches ErrCancelled and wraps cause
// (cause may be nil, or an error that already matches ErrCancelled, which is
// then kept as it is).
//
// It exists for executors that run cooperative tasks (the aio event loop):
// there a running task can end because it was cancelled, and its future must
// say Cancelled, as Python's Task.cancelled() does, rather than Failed.
func (f *Future[T]) CompleteCancelled(cause error) bool {
	f.mu.Lock()
	if State(f.state.Load()).Final() {
		f.mu.Unlock()
		return false
	}
	err := cause
	if err == nil {
		err = ErrCancelled
	} else if !errors.Is(err, ErrCancelled) {
		err = CancelledError(err)
	}
	f.finishLocked(Cancelled, err)
	return true
}
