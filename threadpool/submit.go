package threadpool

import (
	"context"
	"errors"
	"sync"

	"github.com/trident-go/trident/future"
)

// submitFunc is the function of a task submitted with Submit; the task's x
// is its future.Resolver[T] (pointer-shaped, so storing it in x allocates
// nothing).
type submitFunc[T any] func(context.Context) (T, error)

func (fn submitFunc[T]) run(_ *Pool, x any, abort error) outcome {
	r := x.(future.Resolver[T])
	f := r.Future()
	if abort != nil {
		if errors.Is(abort, future.ErrCancelled) {
			if f.Cancel() {
				return skipped
			}
		} else {
			var zero T
			r.Complete(zero, abort)
		}
		if f.State() == future.Cancelled {
			return skipped
		}
		return failed
	}
	// The submit context may have ended an instant ago, before its watcher
	// cancelled the future: do it here so the task does not run.
	if err := r.SubmitContext().Err(); err != nil {
		r.CancelCause(err)
		return skipped
	}
	// Run does nothing when the future was cancelled while queued (by Cancel
	// or by its context ending): the worker moves straight on.
	if !r.Run(fn) {
		return skipped
	}
	if f.State() == future.Done {
		return completed
	}
	return failed
}

// Submit queues fn to run on a worker and returns its future (Python's
// executor.submit). fn receives the future's task context: it carries ctx's
// values and deadline and is cancelled when ctx ends or the future is
// cancelled while running.
//
// While the task waits in the queue, ctx ending or Cancel resolves the
// future as cancelled at once; a worker later skips it without running it.
// A panic in fn fails only this future, with a *future.PanicError.
//
// Submit never panics and never returns nil: a submit that cannot be
// accepted comes back as an already failed future whose error says why —
// a nil fn, ErrShutdown, ErrBrokenPool, or ctx ending while Submit waited
// for room in a full bounded queue (then the future is cancelled).
func Submit[T any](p *Pool, ctx context.Context, fn func(context.Context) (T, error)) *future.Future[T] {
	f, _ := submitFuture(p, ctx, fn, false)
	return f
}

// TrySubmit is Submit that never waits for room: when the bounded queue is
// full it returns a nil future and ErrQueueFull at once. Other submit errors
// (nil fn, ErrShutdown, ErrBrokenPool, ctx already ended) are returned as the
// error too, with the already failed future. Python has no counterpart.
func TrySubmit[T any](p *Pool, ctx context.Context, fn func(context.Context) (T, error)) (*future.Future[T], error) {
	f, err := submitFuture(p, ctx, fn, true)
	if errors.Is(err, ErrQueueFull) {
		return nil, err
	}
	return f, err
}

func submitFuture[T any](p *Pool, ctx context.Context, fn func(context.Context) (T, error), try bool) (*future.Future[T], error) {
	var zero T
	if p == nil {
		return future.Resolved(zero, errNilPool), errNilPool
	}
	if fn == nil {
		err := nilFuncError("Submit")
		return future.Resolved(zero, err), err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	f, r := future.New[T](ctx)
	if f.State() != future.Pending { // ctx already ended
		return f, f.Err()
	}
	if err := p.submit(ctx, task{r: submitFunc[T](fn), x: r}, try); err != nil {
		if ctx.Err() != nil && err == ctx.Err() {
			// ctx ended while we waited for room: the future's own watcher
			// cancels it (with ctx's error as the cause); wait for that so
			// the caller gets a final future.
			<-f.Done()
			return f, f.Err()
		}
		r.Complete(zero, err)
		return f, err
	}
	return f, nil
}

// goFunc is the function of a task started with Pool.Go; the task's x is
// its context.Context.
type goFunc func(context.Context) error

func (fn goFunc) run(p *Pool, x any, abort error) outcome {
	ctx := x.(context.Context)
	var err error
	switch {
	case abort != nil && errors.Is(abort, future.ErrCancelled):
		return skipped // ShutdownNow: the task is cancelled, not failed
	case abort != nil:
		err = abort // the pool broke: the task fails with ErrBrokenPool
	case ctx.Err() != nil:
		return skipped
	default:
		if err = callGo(ctx, fn); err == nil {
			return completed
		}
	}
	if p.cfg.onError != nil {
		p.cfg.onError(err)
	} else if pe := (*future.PanicError)(nil); errors.As(err, &pe) {
		logPanic(err)
	}
	return failed
}

func callGo(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = future.NewPanicError(r)
		}
	}()
	return fn(ctx)
}

// Go queues fn to run on a worker without a future: the cheapest way to run
// a task (no allocation by the pool). It returns an error only when the task
// could not be queued: nil fn, ErrShutdown, ErrBrokenPool, or ctx ended
// (before queueing or while waiting for room in a full queue). If ctx ends
// while the task is queued, the task is skipped (ShutdownNow skips it too).
// fn's error, or its panic as a *future.PanicError, goes to the
// WithErrorHandler function and is counted in Stats.Failed; so does the
// ErrBrokenPool error of a task still queued when the pool breaks. Use a Group to wait for tasks and collect their first
// error. Python's executor has no fire-and-forget submit.
func (p *Pool) Go(ctx context.Context, fn func(context.Context) error) error {
	if p == nil {
		return errNilPool
	}
	if fn == nil {
		return nilFuncError("Go")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return p.submit(ctx, task{r: goFunc(fn), x: ctx}, false)
}

// Group runs tasks on a pool and waits for them all, keeping the first error
// (like golang.org/x/sync/errgroup, but on the pool's bounded workers and
// with no goroutine per task). Its context is cancelled by the first
// error, so queued tasks of the group are then skipped and running ones can
// stop early. Create it with Pool.NewGroup. Python's closest counterpart is
// concurrent.futures.wait(fs, return_when=FIRST_EXCEPTION).
type Group struct {
	p      *Pool
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

// NewGroup returns a group whose tasks run on p with a context derived from
// ctx.
func (p *Pool) NewGroup(ctx context.Context) *Group {
	if ctx == nil {
		ctx = context.Background()
	}
	gctx, cancel := context.WithCancelCause(ctx)
	return &Group{p: p, ctx: gctx, cancel: cancel}
}

// Context returns the group's context, the one its tasks receive.
func (g *Group) Context() context.Context { return g.ctx }

func (g *Group) fail(err error) {
	g.once.Do(func() {
		g.err = err
		g.cancel(err)
	})
}

// Go queues fn in the group. If it cannot be queued (nil fn, pool shut down
// or broken, group context ended while waiting for room) that error becomes
// the group's error if it is the first. Go blocks only while a bounded queue
// is full.
func (g *Group) Go(fn func(context.Context) error) {
	if fn == nil {
		g.fail(nilFuncError("Group.Go"))
		return
	}
	if g.p == nil {
		g.fail(errNilPool)
		return
	}
	if err := g.ctx.Err(); err != nil {
		g.fail(future.CancelledError(context.Cause(g.ctx)))
		return
	}
	g.wg.Add(1)
	if err := g.p.submit(g.ctx, task{r: groupFunc(fn), x: g}, false); err != nil {
		g.fail(err)
		g.wg.Done()
	}
}

// Wait waits for every task queued with Go and returns the first error, or
// nil. It then cancels the group's context.
func (g *Group) Wait() error {
	g.wg.Wait()
	g.cancel(context.Canceled)
	return g.err
}

// groupFunc is the function of a task queued with Group.Go; the task's x
// is the *Group.
type groupFunc func(context.Context) error

func (fn groupFunc) run(_ *Pool, x any, abort error) outcome {
	g := x.(*Group)
	defer g.wg.Done()
	if abort != nil {
		g.fail(abort)
		if errors.Is(abort, future.ErrCancelled) {
			return skipped
		}
		return failed
	}
	if g.ctx.Err() != nil {
		g.fail(future.CancelledError(context.Cause(g.ctx)))
		return skipped
	}
	if err := callGo(g.ctx, fn); err != nil {
		g.fail(err)
		return failed
	}
	return completed
}
