// Package future provides Future[T], the one result type returned by every
// trident executor: the thread pool, the process pool and the event loop.
//
// A Future is Python's concurrent.futures.Future in Go clothes. It starts
// pending, becomes running when an executor picks it up, and ends exactly
// once: done (a value), failed (an error, including a recovered panic as
// *PanicError) or cancelled.
//
// The main differences from Python:
//
//   - Result takes a context instead of a timeout; cancelling the context ends
//     the wait with ctx.Err() and leaves the future untouched.
//   - Cancel returns true only while the future is still pending, as in
//     Python, but it is not a no-op on a running task: the task's own context
//     (the one passed to its function) is cancelled, so cooperative code stops.
//   - The context a task was submitted with is watched while the task is
//     pending: when it ends, the future is cancelled at once rather than
//     waiting for a worker to pick it up.
//   - Errors work with errors.Is and errors.As: a cancelled future's error is
//     ErrCancelled, which also matches context.Canceled.
//
// Executors create a future with New, which also returns its Resolver: the
// executor keeps the Resolver, moves the future along with it (Start and
// Complete, or simply Run) and hands the Future to the user. A Future has no
// method that completes it, so only the executor that made it can.
package future

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// State is the life-cycle position of a Future.
type State int32

// The states of a Future. Pending and Running are transient; Done, Failed and
// Cancelled are final.
const (
	// Pending: submitted, not yet picked up by a worker.
	Pending State = iota
	// Running: a worker is executing the task.
	Running
	// Done: the task returned a value and a nil error.
	Done
	// Failed: the task returned an error or panicked.
	Failed
	// Cancelled: the future was cancelled before it ran.
	Cancelled
)

// String returns the lower-case name of the state.
func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Running:
		return "running"
	case Done:
		return "done"
	case Failed:
		return "failed"
	case Cancelled:
		return "cancelled"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Final reports whether s is one of the final states (Done, Failed, Cancelled).
func (s State) Final() bool { return s >= Done }

// ErrCancelled is the error of a future that was cancelled before it ran
// (Python's CancelledError). errors.Is(err, context.Canceled) is also true for
// it, so code that already checks for context cancellation keeps working.
// When a future is cancelled because its submit context ended, its error also
// wraps that context's error (for example context.DeadlineExceeded).
var ErrCancelled error = &cancelledError{}

type cancelledError struct{ cause error }

func (e *cancelledError) Error() string {
	if e.cause != nil {
		return "future: cancelled: " + e.cause.Error()
	}
	return "future: cancelled"
}

func (e *cancelledError) Is(target error) bool {
	return target == ErrCancelled || target == context.Canceled
}

func (e *cancelledError) Unwrap() error { return e.cause }

// CancelledError returns an error that matches ErrCancelled and context.Canceled
// and wraps cause (which may be nil). Executors use it when a task is
// cancelled for a reason worth keeping, such as a context deadline.
func CancelledError(cause error) error {
	if cause == nil {
		return ErrCancelled
	}
	return &cancelledError{cause: cause}
}

// PanicError is the error of a task that panicked. The panic is recovered in
// the worker, so it fails only the task's own future, never the pool.
// Python has no counterpart: there an exception is an ordinary error value.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the goroutine stack at the point of the panic.
	Stack []byte
}

// Error returns the panic value and the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error, so errors.Is and
// errors.As see through a panic(err).
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// NewPanicError builds a *PanicError from a recovered value, capturing the
// current stack. Call it from the deferred function that recovered.
func NewPanicError(v any) *PanicError {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// Waitable is what Wait and AsCompleted accept: any *Future[T], whatever T,
// and the tasks of the other executors that embed one. A Waitable that also
// embeds a *Future lets Wait and AsCompleted withdraw their callbacks
// when they return; for the others they keep one shared OnDone registration
// per waitable, so repeated waits do not pile callbacks up either way.
type Waitable interface {
	// Done returns a channel closed when the future reaches a final state.
	Done() <-chan struct{}
	// State returns the current state.
	State() State
	// Err returns the error of a final future (nil when Done or not final).
	Err() error
	// OnDone arranges for fn to be called once the future is final; if it
	// already is, fn is called at once, in the calling goroutine.
	OnDone(fn func())
}

// Future is the eventual result of a task (Python's
// concurrent.futures.Future). The zero value is not usable; executors create
// futures with New. All methods are safe for concurrent use.
type Future[T any] struct {
	state atomic.Int32

	mu   sync.Mutex
	done chan struct{} // created lazily by Done
	val  T
	err  error
	cbs  []doneCB
	cbID uint64 // last id given to a removable callback (onDoneStop)
	tctx taskCtx
	stop func() bool // stops the parent-context watcher
}

// New returns a pending future for a task submitted with ctx, and the
// Resolver that completes it: the executor keeps the Resolver and hands the
// Future to the user (Python's executors create a Future and call its
// set_result themselves; here that half is a separate value). Neither costs
// an allocation beyond the Future itself. While the future is pending, ctx
// ending cancels it (its error wraps ctx.Err()); while it runs, ctx ending
// cancels the task's context. ctx may be nil, meaning context.Background().
func New[T any](ctx context.Context) (*Future[T], Resolver[T]) {
	f := newFuture[T](ctx)
	return f, Resolver[T]{f}
}

func newFuture[T any](ctx context.Context) *Future[T] {
	if ctx == nil {
		ctx = context.Background()
	}
	f := &Future[T]{}
	f.tctx.parent = ctx
	if ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			f.state.Store(int32(Cancelled))
			f.err = CancelledError(err)
			f.tctx.err = err
			return f
		}
		// The watcher may fire at once, in another goroutine, and read
		// f.stop in finishLocked: publish it under the lock.
		f.mu.Lock()
		f.stop = context.AfterFunc(ctx, f.parentDone)
		f.mu.Unlock()
	}
	return f
}

// Resolved returns a future that is already final: Done with v when err is
// nil, Failed with err otherwise.
func Resolved[T any](v T, err error) *Future[T] {
	f := &Future[T]{}
	f.tctx.parent = context.Background()
	if err != nil {
		f.state.Store(int32(Failed))
		f.err = err
	} else {
		f.state.Store(int32(Done))
		f.val = v
	}
	return f
}

func (f *Future[T]) parentDone() {
	err := f.tctx.parent.Err()
	f.mu.Lock()
	// The CAS (not a load-then-store) matters: Start moves Pending to Running
	// without the lock, so a plain check could cancel a task that has just
	// started running.
	if f.state.CompareAndSwap(int32(Pending), int32(Cancelled)) {
		f.finishLocked(Cancelled, CancelledError(err))
		return // finishLocked unlocks
	}
	if State(f.state.Load()) == Running {
		f.tctx.cancelLocked(err)
	}
	f.mu.Unlock()
}

// start: see Resolver.Start.
func (f *Future[T]) start() bool {
	return f.state.CompareAndSwap(int32(Pending), int32(Running))
}

// complete: see Resolver.Complete.
func (f *Future[T]) complete(v T, err error) bool {
	f.mu.Lock()
	if State(f.state.Load()).Final() {
		f.mu.Unlock()
		return false
	}
	f.val = v
	if err != nil {
		f.finishLocked(Failed, err)
	} else {
		f.finishLocked(Done, nil)
	}
	return true
}

// run: see Resolver.Run.
func (f *Future[T]) run(fn func(context.Context) (T, error)) bool {
	if !f.start() {
		return false
	}
	var v T
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = NewPanicError(r)
			}
		}()
		v, err = fn(&f.tctx)
	}()
	f.complete(v, err)
	return true
}

// finishLocked sets the final state, releases waiters and runs callbacks.
// It is called with f.mu held and releases it.
func (f *Future[T]) finishLocked(s State, err error) {
	f.err = err
	f.state.Store(int32(s))
	if f.done != nil {
		close(f.done)
	}
	f.tctx.cancelLocked(context.Canceled)
	cbs := f.cbs
	f.cbs = nil
	stop := f.stop
	f.stop = nil
	f.mu.Unlock()
	if stop != nil {
		stop()
	}
	if len(cbs) > 0 {
		runCallbacks(f, cbs)
	}
}

// Cancel cancels a pending future and reports true (Python's cancel). It
// reports false when the future is running or final. On a running future it
// still cancels the task's context, so a task that watches its context stops
// early; the future then ends with whatever the task returns.
func (f *Future[T]) Cancel() bool {
	f.mu.Lock()
	// CAS, not load-then-store: Start takes Pending to Running without the
	// lock, and a task that has started must never be reported cancelled.
	if f.state.CompareAndSwap(int32(Pending), int32(Cancelled)) {
		f.finishLocked(Cancelled, ErrCancelled)
		return true
	}
	if State(f.state.Load()) == Running {
		f.tctx.cancelLocked(context.Canceled)
	}
	f.mu.Unlock()
	return false
}

// State returns the current state. It is a single atomic load.
func (f *Future[T]) State() State { return State(f.state.Load()) }

// Cancelled reports whether the future was cancelled (Python's cancelled()).
func (f *Future[T]) Cancelled() bool { return f.State() == Cancelled }

// Finished reports whether the future is final (Python's done(); the name
// Done is taken by the channel).
func (f *Future[T]) Finished() bool { return f.State().Final() }

// Done returns a channel that is closed when the future becomes final.
func (f *Future[T]) Done() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done == nil {
		if State(f.state.Load()).Final() {
			f.done = closedChan // no allocation for an already final future
		} else {
			f.done = make(chan struct{})
		}
	}
	return f.done
}

// Err returns the error of a final future: nil when it is Done, the task's
// error when Failed, an ErrCancelled error when Cancelled. It returns nil for
// a future that is not final yet (Python's exception() without waiting).
func (f *Future[T]) Err() error {
	if !f.State().Final() {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Result waits for the future and returns its value and error (Python's
// result()). If ctx ends first it returns ctx.Err() and the future is left
// as it is: waiting is not owning, so the task is not cancelled.
func (f *Future[T]) Result(ctx context.Context) (T, error) {
	if !f.State().Final() {
		if ctx == nil {
			ctx = context.Background()
		}
		select {
		case <-f.Done():
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.val, f.err
}

// Value returns the value and error of a final future without waiting; ok is
// false if the future is not final yet.
func (f *Future[T]) Value() (v T, err error, ok bool) {
	if !f.State().Final() {
		return v, nil, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.val, f.err, true
}

// OnDone arranges for fn to be called once the future is final. If it already
// is, fn is called at once in the caller's goroutine; otherwise it is called
// in the goroutine that completes the future. fn must not block for long.
// A panic in fn is recovered and logged (see SetLogger), as with
// AddDoneCallback.
func (f *Future[T]) OnDone(fn func()) {
	f.mu.Lock()
	if State(f.state.Load()).Final() {
		f.mu.Unlock()
		callSafely(f, fn)
		return
	}
	f.cbs = append(f.cbs, doneCB{fn: fn})
	f.mu.Unlock()
}

// AddDoneCallback arranges for fn to be called with the future once it is
// final (Python's add_done_callback). Callbacks run in registration order, in
// the goroutine that completed the future, or at once if it is already final.
// A panic in fn is handled as Python handles an exception raised by a
// callback: it is recovered and logged (see SetLogger), the callbacks after
// fn still run, and the future's result and its waiters are not affected.
func (f *Future[T]) AddDoneCallback(fn func(*Future[T])) {
	f.OnDone(func() { fn(f) })
}

// String describes the future for logs.
func (f *Future[T]) String() string {
	return fmt.Sprintf("future[%s]", f.State())
}

// taskCtx is the context handed to a running task. It is embedded in the
// Future so that it costs no allocation, and it creates its Done channel only
// when asked.
type taskCtx struct {
	parent context.Context
	mu     sync.Mutex
	done   chan struct{}
	err    error
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c *taskCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *taskCtx) Value(key any) any           { return c.parent.Value(key) }

func (c *taskCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.err != nil {
			c.done = closedChan
		} else {
			c.done = make(chan struct{})
		}
	}
	return c.done
}

func (c *taskCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// cancelLocked cancels the task context; the future's lock is held by the
// caller, the context's own lock is taken here.
func (c *taskCtx) cancelLocked(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		if c.done != nil {
			close(c.done)
		}
	}
	c.mu.Unlock()
}

func (c *taskCtx) String() string { return "future.taskCtx" }

// IsCancelled reports whether err says a task was cancelled: it matches
// ErrCancelled or context.Canceled.
func IsCancelled(err error) bool {
	return errors.Is(err, ErrCancelled) || errors.Is(err, context.Canceled)
}
