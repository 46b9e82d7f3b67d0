package aio

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/trident-go/trident/future"
)

const (
	stateCreated uint8 = iota // not started yet
	stateReady                // in the ready queue
	stateRunning              // the running coroutine
	stateParked               // waiting for a wake-up
	stateDone                 // finished
)

// T is the handle a coroutine receives: everything that awaits takes it as
// its first argument, the way Go code takes a context. There is one T per
// task. It must be used only by its own coroutine while that coroutine runs;
// using it from another goroutine makes awaits return ErrNotInCoroutine.
//
// Python has no such handle: there "await" is syntax and the current task
// is found through a thread-local. Here the handle makes it explicit which
// coroutine is suspending.
type T struct {
	loop   *Loop
	impl   taskImpl
	co     *coro
	name   string
	state  uint8
	parkID uint64

	mustCancel bool
	cancels    int
	cancelErr  error
	retrieved  bool

	prevT, nextT *T
}

// taskImpl is the typed half of a task (Task[R]).
type taskImpl interface {
	runBody()
	complete()
	completeCancelled(err error)
	err() error
}

// Task is a coroutine scheduled on a loop (Python's asyncio.Task), created by
// Go or Group.Go. It embeds the *future.Future[R] that receives its result,
// so future.Wait, future.AsCompleted and Result(ctx) accept it from any
// goroutine; inside the loop, await it with Await. Its Cancel is the loop's
// cooperative cancel, not the future's (see Cancel).
type Task[R any] struct {
	*future.Future[R]
	t   T
	fn  func(*T) (R, error)
	v   R
	e   error
	run bool // the body ran (as opposed to cancelled before start)
}

var taskCounter atomic.Uint64

func newTask[R any](l *Loop, fn func(*T) (R, error)) *Task[R] {
	k := &Task[R]{Future: future.New[R](context.Background()), fn: fn}
	k.t.loop = l
	k.t.impl = k
	l.live++
	l.tasks.add(&k.t)
	k.t.state = stateReady
	l.pushTask(&k.t)
	return k
}

// Go starts fn as a new task on t's loop and returns it at once (Python's
// asyncio.create_task). The task starts running at the loop's next
// opportunity, that is when the current coroutine next awaits. Go must be
// called from a running coroutine; otherwise the returned task has already
// failed with ErrNotInCoroutine.
func Go[R any](t *T, fn func(t *T) (R, error)) *Task[R] {
	if err := t.onLoop(); err != nil {
		return failedTask[R](err)
	}
	if fn == nil {
		return failedTask[R](ErrNilFunc)
	}
	return newTask(t.loop, fn)
}

// CreateTask is Go under Python's name.
func CreateTask[R any](t *T, fn func(t *T) (R, error)) *Task[R] { return Go(t, fn) }

func failedTask[R any](err error) *Task[R] {
	var zero R
	k := &Task[R]{Future: future.Resolved(zero, err)}
	k.t.state = stateDone
	k.t.impl = k
	k.e = err
	return k
}

func (k *Task[R]) runBody() {
	k.run = true
	defer func() {
		if r := recover(); r != nil {
			k.e = future.NewPanicError(r)
		}
	}()
	k.v, k.e = k.fn(&k.t)
}

func (k *Task[R]) complete() {
	k.fn = nil
	if k.e != nil && errors.Is(k.e, future.ErrCancelled) {
		k.Future.CompleteCancelled(k.e)
		return
	}
	k.Future.Complete(k.v, k.e)
}

func (k *Task[R]) completeCancelled(err error) {
	k.fn = nil
	k.e = err
	k.Future.CompleteCancelled(err)
}

func (k *Task[R]) err() error { return k.e }

// core returns the loop-side handle of the task.
func (k *Task[R]) core() *T { return &k.t }

// Cancel asks the task to stop (Python's Task.cancel): ErrCancelled is
// delivered at its next await (at once if it is waiting). The task may clean
// up with defer or even keep going; if it returns an error matching
// ErrCancelled its future ends Cancelled. Cancel reports false if the task
// has already finished. A task cancelled before it started never runs.
// Cancel must be called from the loop (a coroutine or callback); from other
// goroutines use Loop.CallSoonThreadsafe. Unlike future.Future.Cancel, it
// also works on a running task.
func (k *Task[R]) Cancel() bool { return k.t.cancel(ErrCancelled) }

// Cancelling returns the number of pending cancellation requests (Python's
// Task.cancelling).
func (k *Task[R]) Cancelling() int { return k.t.cancels }

// Uncancel removes one cancellation request and returns the number left
// (Python's Task.uncancel). When none is left, a cancellation not yet
// delivered is dropped.
func (k *Task[R]) Uncancel() int { return k.t.Uncancel() }

// Name returns the task's name ("Task-N" unless set with SetName).
func (k *Task[R]) Name() string { return k.t.Name() }

// SetName names the task for logs (Python's Task.set_name).
func (k *Task[R]) SetName(name string) { k.t.name = name }

// String describes the task for logs.
func (k *Task[R]) String() string {
	return fmt.Sprintf("aio.Task[%s %s]", k.t.Name(), k.State())
}

// Loop returns the loop the coroutine runs on.
func (t *T) Loop() *Loop { return t.loop }

// Context returns the loop's context (see Loop.Context): pass it to
// blocking calls made from the coroutine so that they end with the loop.
func (t *T) Context() context.Context { return t.loop.ctx }

// Now returns the loop's clock (see Loop.Now).
func (t *T) Now() time.Time { return t.loop.Now() }

// Name returns the task's name ("Task-N" unless set).
func (t *T) Name() string {
	if t.name == "" {
		t.name = "Task-" + strconv.FormatUint(taskCounter.Add(1), 10)
	}
	return t.name
}

// Cancelling returns the number of pending cancellation requests of the
// coroutine's own task (Python's Task.cancelling).
func (t *T) Cancelling() int { return t.cancels }

// Uncancel removes one cancellation request from the coroutine's own task
// and returns the number left (Python's Task.uncancel). When none is left a
// cancellation not yet delivered is dropped.
func (t *T) Uncancel() int {
	if t.cancels > 0 {
		t.cancels--
		if t.cancels == 0 {
			t.mustCancel = false
		}
	}
	return t.cancels
}

// Cancel requests cancellation of the coroutine's own task; it is delivered
// at its next await.
func (t *T) Cancel() bool { return t.cancel(ErrCancelled) }

func (t *T) cancel(err error) bool {
	if t.state == stateDone {
		return false
	}
	t.cancels++
	t.cancelErr = err
	t.mustCancel = true
	if t.state == stateParked {
		t.state = stateReady
		t.loop.pushTask(t)
	}
	return true
}

// onLoop checks that t is the running coroutine.
func (t *T) onLoop() error {
	if t == nil || t.loop == nil || t.loop.current.Load() != t {
		return ErrNotInCoroutine
	}
	return nil
}

// enter is called at the start of every await: it checks the caller and
// delivers a pending cancellation.
func (t *T) enter() error {
	if err := t.onLoop(); err != nil {
		return err
	}
	if t.mustCancel {
		t.mustCancel = false
		return t.cancelErr
	}
	return nil
}

// newPark starts a new wait and returns its id; wake-ups carrying an older
// id are ignored.
func (t *T) newPark() uint64 {
	t.parkID++
	return t.parkID
}

// park suspends the coroutine until resume(t, id) or a cancellation, which
// it returns.
func (t *T) park() error {
	t.state = stateParked
	t.co.yield(struct{}{})
	if t.mustCancel {
		t.mustCancel = false
		return t.cancelErr
	}
	return nil
}

// resume makes a parked coroutine ready if it still waits for wait id.
func (l *Loop) resume(t *T, id uint64) {
	if t.state == stateParked && t.parkID == id {
		t.state = stateReady
		l.pushTask(t)
	}
}

// coro is a pooled coroutine: a goroutine switched to and from with
// runtime coroutine switches (iter.Pull), reused for task after task.
type coro struct {
	next  func() (struct{}, bool)
	stop  func()
	yield func(struct{}) bool
	job   *T
	fin   bool
}

const maxPool = 1024

func (l *Loop) getCoro() *coro {
	if n := len(l.pool); n > 0 {
		c := l.pool[n-1]
		l.pool[n-1] = nil
		l.pool = l.pool[:n-1]
		return c
	}
	c := &coro{}
	c.next, c.stop = iter.Pull(func(yield func(struct{}) bool) {
		c.yield = yield
		for {
			c.job.impl.runBody()
			c.fin = true
			if !yield(struct{}{}) {
				return
			}
		}
	})
	return c
}

// step runs t until it parks or returns.
func (l *Loop) step(t *T) {
	if t.state == stateDone {
		return
	}
	if t.co == nil {
		if t.mustCancel {
			l.finish(t, true)
			return
		}
		t.co = l.getCoro()
		t.co.job = t
		t.co.fin = false
	}
	t.state = stateRunning
	l.current.Store(t)
	var t0 time.Time
	if l.cfg.debug {
		t0 = time.Now()
	}
	c := t.co
	c.next()
	l.current.Store(nil)
	if l.cfg.debug {
		if el := time.Since(t0); el > l.cfg.slow {
			l.cfg.logger.Warn("aio: coroutine held the loop too long (blocking call?)",
				"task", t.Name(), "duration", el, "threshold", l.cfg.slow)
		}
	}
	if c.fin {
		c.job = nil
		c.fin = false
		t.co = nil
		if len(l.pool) < maxPool {
			l.pool = append(l.pool, c)
		} else {
			c.stop()
		}
		l.finish(t, false)
	}
}

func (l *Loop) finish(t *T, cancelledBeforeStart bool) {
	t.state = stateDone
	l.live--
	l.tasks.remove(t)
	if cancelledBeforeStart {
		t.impl.completeCancelled(t.cancelErr)
	} else {
		t.impl.complete()
	}
	if l.cfg.debug {
		if err := t.impl.err(); err != nil && !errors.Is(err, future.ErrCancelled) && !t.retrieved {
			l.failed = append(l.failed, t)
		}
	}
}

// Awaitable is anything Await accepts: a *Task[R], a *future.Future[R] from
// any executor (thread pool, process pool), or any type with the same
// methods. Python's awaitables are coroutines, tasks and futures; here a
// coroutine is awaited by calling it (see the package example).
type Awaitable[R any] interface {
	future.Waitable
	// Value returns the result once final; ok is false before.
	Value() (v R, err error, ok bool)
}

type loopTask interface{ core() *T }

// Await suspends the coroutine until aw is final and returns its value and
// error (Python's await). Awaiting something already final does not
// suspend. If the awaiting task is cancelled meanwhile, the cancellation is
// passed on to aw, as in Python: a task of this loop is cancelled and
// awaited until its cleanup is over; a foreign future is cancelled
// (future.Future.Cancel, which cancels a running task's context) and left
// behind. Use Shield to keep aw running. Await returns ErrOtherLoop for a
// task of another loop and ErrNotInCoroutine when t is not running.
func Await[R any](t *T, aw Awaitable[R]) (R, error) {
	var zero R
	if err := t.enter(); err != nil {
		return zero, err
	}
	if err := t.await(aw, false); err != nil {
		return zero, err
	}
	v, err, _ := aw.Value()
	return v, err
}

// await waits for w; t.enter has been called.
func (t *T) await(w future.Waitable, shield bool) error {
	var other *T
	if lt, ok := w.(loopTask); ok {
		other = lt.core()
		if other.loop != nil && other.loop != t.loop {
			return ErrOtherLoop
		}
		if other == t {
			return ErrAwaitSelf
		}
		other.retrieved = true
	}
	if w.State().Final() {
		return nil
	}
	ws := newWatch(t, []future.Waitable{w}, func(int, int) bool { return true })
	if ws.fired {
		ws.close()
		return nil
	}
	err := t.park()
	if err == nil {
		ws.close()
		return nil
	}
	if shield {
		ws.close()
		return err
	}
	if other != nil {
		other.cancel(err)
		// Wait for the cancelled task's cleanup, as Python does.
		for other.state != stateDone {
			t.park()
		}
		ws.close()
		return err
	}
	ws.close()
	if c, ok := w.(interface{ Cancel() bool }); ok {
		c.Cancel()
	}
	return err
}

// watch parks one coroutine on a set of waitables.
type watch struct {
	t          *T
	id         uint64
	active     bool
	fired      bool
	left       int // registered waitables not yet reported
	pendingExt int
}

// newWatch registers the waitables of ws that are not final yet; as each
// becomes final, onEvent(i, left) runs on the loop with the number still
// outstanding, and when it returns true the coroutine is woken (fired is
// set). Callbacks that arrive after close are ignored.
func newWatch(t *T, ws []future.Waitable, onEvent func(i, left int) bool) *watch {
	l := t.loop
	w := &watch{t: t, id: t.newPark(), active: true}
	for i, f := range ws {
		if f.State().Final() {
			continue
		}
		w.left++
		if lt, ok := f.(loopTask); ok && lt.core().loop == l {
			f.OnDone(func() {
				if w.active {
					w.left--
					if onEvent(i, w.left) {
						w.fired = true
						l.resume(t, w.id)
					}
				}
			})
			continue
		}
		w.pendingExt++
		l.external++
		f.OnDone(func() {
			l.post(func() {
				if !w.active {
					return
				}
				w.pendingExt--
				l.external--
				w.left--
				if onEvent(i, w.left) {
					w.fired = true
					l.resume(t, w.id)
				}
			})
		})
	}
	if w.left == 0 {
		w.fired = true
	}
	return w
}

func (w *watch) close() {
	w.active = false
	w.t.loop.external -= w.pendingExt
	w.pendingExt = 0
}
