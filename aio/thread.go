package aio

import (
	"context"

	"github.com/trident-go/trident/future"
)

// ToThread runs the blocking function fn on a new goroutine and awaits its
// result (Python's asyncio.to_thread). fn receives a context that is
// cancelled when the awaiting task is cancelled or the loop ends; Run waits
// for fn to return before it returns, so a fn that ignores its context
// delays Run (as Python's asyncio.run waits for its default executor). A
// panic in fn is returned as *future.PanicError.
func ToThread[R any](t *T, fn func(ctx context.Context) (R, error)) (R, error) {
	var zero R
	if err := t.enter(); err != nil {
		return zero, err
	}
	if fn == nil {
		return zero, ErrNilFunc
	}
	f, r := future.New[R](t.loop.ctx)
	t.loop.spawnGoroutine(func() { r.Run(fn) })
	return awaitStarted(t, f)
}

// awaitStarted awaits f; t.enter has been called.
func awaitStarted[R any](t *T, f *future.Future[R]) (R, error) {
	var zero R
	if err := t.await(f, false); err != nil {
		return zero, err
	}
	v, err, _ := f.Value()
	return v, err
}

// Executor is what RunInExecutor needs from a pool (Python's
// concurrent.futures.Executor, reduced to starting a function): start fn on
// one of its workers. *threadpool.Pool satisfies it (its Go method). A process pool
// runs registered functions rather than closures; await the
// *future.Future its Submit returns with Await instead.
type Executor interface {
	// Go starts fn on a worker and returns an error if it cannot (pool shut
	// down, ctx ended while the queue was full).
	Go(ctx context.Context, fn func(ctx context.Context) error) error
}

// RunInExecutor runs fn on ex and awaits its result (Python's
// loop.run_in_executor). fn's context is cancelled if the awaiting task is
// cancelled. The submission itself happens on the loop: a pool with a full
// bounded queue blocks the loop until it has room, so prefer unbounded
// queues for pools fed from a loop.
func RunInExecutor[R any](t *T, ex Executor, fn func(ctx context.Context) (R, error)) (R, error) {
	var zero R
	if err := t.enter(); err != nil {
		return zero, err
	}
	if ex == nil || fn == nil {
		return zero, ErrNilFunc
	}
	f, r := future.New[R](t.loop.ctx)
	if err := ex.Go(t.loop.ctx, func(context.Context) error {
		r.Run(fn)
		return nil
	}); err != nil {
		f.Cancel()
		return zero, err
	}
	return awaitStarted(t, f)
}

// Submit schedules fn as a new task on the running loop l from any goroutine
// and returns a future for its result (Python's
// asyncio.run_coroutine_threadsafe). Cancelling the future (or ending ctx)
// cancels the task. If the loop has finished, the future fails with
// ErrLoopClosed; if it reaches the loop while Run is shutting down (main
// has returned), the task is cancelled before it starts, like every task
// started then (see Go), and the future ends cancelled.
func Submit[R any](l *Loop, ctx context.Context, fn func(t *T) (R, error)) *future.Future[R] {
	var zero R
	if l == nil || fn == nil {
		return future.Resolved(zero, ErrNilFunc)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	f, r := future.New[R](ctx)
	ok := l.post(func() {
		if f.State().Final() { // cancelled before it reached the loop
			return
		}
		task := newTask(l, fn)
		f.OnDone(func() {
			if f.Cancelled() {
				l.post(func() { task.Cancel() })
			}
		})
		task.t.onDoneLocal(func() {
			v, err, _ := task.Value()
			task.t.retrieved = true
			if task.Cancelled() {
				r.CompleteCancelled(err)
				return
			}
			r.Complete(v, err)
		})
	})
	if !ok {
		r.Complete(zero, ErrLoopClosed)
	}
	return f
}
