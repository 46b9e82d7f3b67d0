package future

import (
	"context"
	"errors"
)

// Resolver is the executor's half of a future: the only way to start and
// complete it. New returns one with every future; the executor keeps it and
// gives the user the *Future, which can be read and cancelled but not
// completed. Its methods are for executor authors; users of trident's
// executors never see a Resolver. It is a single pointer, so passing and
// storing it costs what a *Future does. The zero Resolver is not usable.
//
// Python's concurrent.futures.Future has these methods on the future itself
// (set_running_or_notify_cancel, set_result, set_exception), documented as
// "for use by Executor implementations"; here the type system keeps them
// with the executor.
type Resolver[T any] struct{ f *Future[T] }

// Future returns the future this Resolver completes.
func (r Resolver[T]) Future() *Future[T] { return r.f }

// Context returns the context the task must run with. It carries the values
// and deadline of the submit context and is cancelled when that context ends
// or when Cancel is called on the running future. It is cheap: it allocates
// nothing until its Done channel is asked for.
func (r Resolver[T]) Context() context.Context { return &r.f.tctx }

// SubmitContext returns the context the future was created with (New's
// ctx). Unlike Context, whose Err only reports a cancellation once it has
// been applied to the future, its Err is non-nil the instant the submit
// context ends: executors check it just before running a task so that a
// task whose context has just ended does not start. Python has no
// counterpart.
func (r Resolver[T]) SubmitContext() context.Context { return r.f.tctx.parent }

// Start moves a pending future to Running and reports true. It reports false
// if the future was cancelled (or is otherwise final) and must not be run:
// Python's Future.set_running_or_notify_cancel.
func (r Resolver[T]) Start() bool { return r.f.start() }

// Complete makes the future final with v (err == nil, Python's set_result)
// or err (Python's set_exception). It reports false and changes nothing if
// the future was already final (for example cancelled while pending).
func (r Resolver[T]) Complete(v T, err error) bool { return r.f.complete(v, err) }

// Run executes fn for the future if it can still start: Start, then fn with
// the task context, then Complete. A panic in fn is recovered into a
// *PanicError. It reports whether fn ran.
func (r Resolver[T]) Run(fn func(context.Context) (T, error)) bool { return r.f.run(fn) }

// CancelCause is Future.Cancel with a reason: it cancels a pending future
// and reports true, and the future's error then matches ErrCancelled (and
// context.Canceled) and wraps cause. Executors use it when they notice that
// a queued task's context has ended before the context's own watcher did.
// On a running future it cancels the task's context with cause and reports
// false, like Cancel. Python's cancel takes no reason.
func (r Resolver[T]) CancelCause(cause error) bool {
	f := r.f
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

// CompleteCancelled ends a pending or running future as Cancelled and
// reports true; it reports false and changes nothing if the future is
// already final. The future's error matches ErrCancelled and wraps cause
// (cause may be nil, or an error that already matches ErrCancelled, which is
// then kept as it is).
//
// It is for executors that run cooperative tasks (the aio event loop): there
// a running task can end because it was cancelled, and its future must say
// Cancelled, as Python's Task.cancelled() does, rather than Failed.
func (r Resolver[T]) CompleteCancelled(cause error) bool {
	f := r.f
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
