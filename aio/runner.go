package aio

import (
	"context"
	"fmt"

	"github.com/trident-go/trident/future"
)

// Runner keeps one event loop for several calls (Python's asyncio.Runner):
// each Run or RunOn runs a main coroutine on it until that returns, and
// Close ends the loop. Tasks a call leaves running are not cancelled when
// it returns: they are suspended with the loop and go on during the next
// call, as in Python, so state built by one call (tasks, connections,
// primitives, caches held by coroutines) serves the next. Close cancels
// whatever is left and waits for its cleanup, as Run does when its main
// returns. Create it with NewRunner; use it from one goroutine at a time.
//
// Python's Runner.run takes a coroutine and a contextvars context; here
// RunOn takes the coroutine function and a context.Context whose end
// cancels that call's main task (Python cancels it on Ctrl-C). The loop's
// options (WithVirtualTime, WithDebug, ...) are given once, to NewRunner,
// as Python gives debug and loop_factory to the Runner.
type Runner struct {
	l      *Loop
	stop   func() bool
	closed bool
}

// NewRunner creates a loop for several Run calls. When ctx ends, every task
// of the loop is cancelled, as with Run, and so is the main task of every
// later call, before it starts; the loop stays usable until Close,
// which must be called to release it (Python: "with asyncio.Runner() as
// runner", whose exit closes it).
func NewRunner(ctx context.Context, opts ...Option) *Runner {
	if ctx == nil {
		ctx = context.Background()
	}
	l := newLoop(ctx, opts)
	r := &Runner{l: l}
	r.stop = context.AfterFunc(ctx, func() {
		cause := future.CancelledError(context.Cause(ctx))
		l.CallSoonThreadsafe(func() { l.cancelAll(cause) })
	})
	return r
}

// Loop returns the runner's loop (Python's Runner.get_loop), for
// CallSoonThreadsafe and Submit from other goroutines between and during
// calls.
func (r *Runner) Loop() *Loop { return r.l }

// Run runs main as a new task on the runner's loop until it returns, and
// returns its error (Python's Runner.run). See RunOn.
func (r *Runner) Run(ctx context.Context, main func(t *T) error) error {
	if main == nil {
		return fmt.Errorf("aio.Runner.Run: %w", ErrNilFunc)
	}
	_, err := RunOn(r, ctx, func(t *T) (struct{}, error) { return struct{}{}, main(t) })
	return err
}

// RunOn runs main as a new task on r's loop until it returns, and returns
// its result (Python's Runner.run). Other tasks of the loop, started by
// this call or an earlier one, run meanwhile; those still running when
// main returns are suspended until the next call or Close. When ctx ends,
// main's task is cancelled (its error wraps context.Cause(ctx)); the other
// tasks are not. RunOn returns ErrLoopClosed after Close, and ErrNestedRun
// when called while the loop runs (from one of its coroutines, or from
// another goroutine during a call: a Runner serves one call at a time).
func RunOn[R any](r *Runner, ctx context.Context, main func(t *T) (R, error)) (R, error) {
	var zero R
	if ctx == nil {
		ctx = context.Background()
	}
	if main == nil {
		return zero, fmt.Errorf("aio.RunOn: %w", ErrNilFunc)
	}
	l := r.l
	if !l.running.CompareAndSwap(false, true) {
		return zero, ErrNestedRun
	}
	if r.closed {
		l.running.Store(false)
		return zero, ErrLoopClosed
	}
	task := newTask(l, main)
	if l.ctx.Err() != nil {
		// The runner's context has ended: its tasks were cancelled, and
		// so is a call made afterwards, before it starts.
		task.t.cancel(future.CancelledError(context.Cause(l.ctx)))
	}
	stop := context.AfterFunc(ctx, func() {
		cause := future.CancelledError(context.Cause(ctx))
		l.CallSoonThreadsafe(func() { task.t.cancel(cause) })
	})
	l.runUntil(&task.t)
	stop()
	l.running.Store(false)
	v, err, _ := task.Value()
	return v, err
}

// Close cancels the tasks still running on the loop, waits for their
// cleanup and for the loop's goroutines, and closes the loop (Python's
// Runner.close). Calls after the first return nil. It returns
// ErrNestedRun when called while the loop runs (from one of its
// coroutines, or during a call from another goroutine).
func (r *Runner) Close() error {
	l := r.l
	if !l.running.CompareAndSwap(false, true) {
		return ErrNestedRun
	}
	if r.closed {
		l.running.Store(false)
		return nil
	}
	r.closed = true
	r.stop()
	l.shutdown()
	return nil
}
