package aio

import (
	"errors"

	"github.com/trident-go/trident/future"
)

// ErrGroupClosed is the error of a task started on a TaskGroup that has
// finished or is shutting down after a failure (Python raises RuntimeError).
var ErrGroupClosed = errors.New("aio: task group is finished or shutting down")

// Group is the handle of a running TaskGroup, used to start its children
// (the tg of Python's "async with asyncio.TaskGroup() as tg"). Loop only.
type Group struct {
	t        *T
	children int
	errs     []error
	aborting bool
	closed   bool
	// parentCancelled: we cancelled the parent task because a child failed.
	parentCancelled bool
	waiting         bool
	waitID          uint64
	live            map[*T]struct{}
}

// TaskGroup runs body, which starts child tasks with Group.Go or GoIn, and
// returns once every child has finished: children cannot outlive it
// (Python's async with asyncio.TaskGroup() as tg, trio's nursery). The first
// child that fails (with an error other than a cancellation) cancels the
// other children and the body; TaskGroup then returns every error joined
// with errors.Join, the children's in the order they failed and the body's
// last (Python raises an ExceptionGroup in the same order). If the task running TaskGroup is cancelled from outside,
// the children are cancelled, waited for, and the cancellation is returned;
// if children failed as well, their errors are returned and the outside
// cancellation stays pending, delivered at the task's next await.
func TaskGroup(t *T, body func(g *Group) error) error {
	if err := t.enter(); err != nil {
		return err
	}
	if body == nil {
		return ErrNilFunc
	}
	g := &Group{t: t, live: map[*T]struct{}{}}
	var propagate error
	berr := func() (err error) {
		panicked := true
		defer func() {
			if panicked {
				// Let the children go before the panic goes up.
				g.abort()
				g.waitChildren()
				g.closed = true
			}
		}()
		err = body(g)
		panicked = false
		return err
	}()
	if berr != nil {
		if errors.Is(berr, future.ErrCancelled) {
			if !g.parentCancelled {
				propagate = berr
			}
		}
		if !g.aborting {
			g.abort()
		}
	}
	if perr := g.waitChildren(); perr != nil && propagate == nil && !g.parentCancelled {
		propagate = perr
	}
	g.closed = true
	if g.parentCancelled {
		if t.Uncancel() == 0 {
			// Our own cancellation of the parent is consumed here.
			if propagate != nil && len(g.errs) > 0 {
				propagate = nil
			}
		}
	}
	if berr != nil && !errors.Is(berr, future.ErrCancelled) {
		g.errs = append(g.errs, berr) // last, as Python's __aexit__ appends it
	}
	if len(g.errs) > 0 {
		if t.cancels > 0 {
			// The task is also being cancelled from outside, and the
			// errors take the cancellation's place in what TaskGroup
			// returns: keep the request pending so that the next await
			// delivers it (Python 3.13 uncancels and re-cancels the
			// parent, which keeps the count and re-arms the delivery).
			t.mustCancel = true
		}
		return errors.Join(g.errs...)
	}
	return propagate
}

// waitChildren waits until no child is left; a cancellation of the parent
// meanwhile aborts the group and is returned once the children are done.
func (g *Group) waitChildren() error {
	var cancelled error
	for g.children > 0 {
		g.waitID = g.t.newPark()
		g.waiting = true
		err := g.t.park()
		g.waiting = false
		if err != nil {
			if !g.aborting {
				cancelled = err
				g.abort()
			}
		}
	}
	return cancelled
}

func (g *Group) abort() {
	g.aborting = true
	for c := range g.live {
		c.cancel(ErrCancelled)
	}
}

func (g *Group) childDone(c *T, err error) {
	g.children--
	delete(g.live, c)
	if err != nil && !errors.Is(err, future.ErrCancelled) {
		g.errs = append(g.errs, err)
		if !g.aborting {
			g.abort()
			if g.t.state != stateDone {
				g.parentCancelled = true
				g.t.cancel(ErrCancelled)
			}
		}
	}
	if g.children == 0 && g.waiting {
		g.t.loop.resume(g.t, g.waitID)
	}
}

// Go starts fn as a child task of the group (Python's tg.create_task). Its
// error, if not a cancellation, fails the group. On a finished or aborting
// group the returned task has already failed with ErrGroupClosed.
func (g *Group) Go(fn func(t *T) error) *Task[struct{}] {
	return GoIn(g, func(t *T) (struct{}, error) { return struct{}{}, fn(t) })
}

// GoIn starts fn as a child task of g and returns it, for children with a
// result (a function because Go methods cannot have type parameters).
func GoIn[R any](g *Group, fn func(t *T) (R, error)) *Task[R] {
	if g == nil || g.closed || g.aborting {
		return failedTask[R](ErrGroupClosed)
	}
	if fn == nil {
		return failedTask[R](ErrNilFunc)
	}
	if err := g.t.loop.current.Load().onLoop(); err != nil || g.t.loop.current.Load().loop != g.t.loop {
		return failedTask[R](ErrNotInCoroutine)
	}
	task := makeTask(g.t.loop, fn)
	task.t.retrieved = true // the group reports its error
	g.children++
	g.live[&task.t] = struct{}{}
	task.t.onDoneLocal(func() { g.childDone(&task.t, task.Err()) })
	// Started once the group knows it: an eager child (WithEagerTasks)
	// may finish before start returns.
	g.t.loop.start(&task.t)
	return task
}
