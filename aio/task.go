package aio

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime/debug"
	"strconv"
	"sync"
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
// task. It must be used only by its own coroutine while that coroutine runs.
// Awaiting with it while its coroutine is not running (from another
// goroutine, or after the coroutine returned) returns ErrNotInCoroutine; a
// call from another goroutine at the very moment the coroutine runs cannot
// be told apart and is a data race, like any unsynchronised sharing.
//
// Python has no such handle: there "await" is syntax and the current task
// is found through a thread-local. Here the handle makes it explicit which
// coroutine is suspending.
//
// Do not call runtime.Goexit (testing's FailNow, Fatal, SkipNow) inside a
// coroutine: it ends the coroutine's goroutine and, through it, the loop's.
// Return an error from the coroutine and fail the test outside Run.
type T struct {
	loop    *Loop
	impl    taskImpl
	co      *coro
	parkID  uint64
	id      uint64    // for the default name
	rare    *taskRare // what few tasks need, allocated on first use
	localCb doneHook  // the first loop-local done callback (usually the only one)

	prevT, nextT *T

	cancels    int32
	state      uint8
	mustCancel bool
	retrieved  bool
	sleeping   bool // a wake-up entry of Sleep is in the timer heap
}

// taskRare holds the parts of a task that most tasks never use, so that a
// task that is created, run and awaited stays small.
type taskRare struct {
	name      string
	named     bool
	cancelErr error      // the error the pending cancellation delivers
	localMore []doneHook // loop-local done callbacks after the first
}

func (t *T) getRare() *taskRare {
	if t.rare == nil {
		t.rare = &taskRare{}
	}
	return t.rare
}

// cancelError is the error a pending cancellation delivers.
func (t *T) cancelError() error {
	if t.rare != nil && t.rare.cancelErr != nil {
		return t.rare.cancelErr
	}
	return ErrCancelled
}

// taskImpl is the typed half of a task (Task[R]).
type taskImpl interface {
	runBody()
	setPanic(r any)
	complete()
	completeCancelled(err error)
	err() error
}

// Task is a coroutine scheduled on a loop (Python's asyncio.Task), created by
// Go or Group.Go. Inside the loop, await it with Await. From any goroutine it
// behaves like a *future.Future[R]: Done, State, Err, Value, Result(ctx) and
// OnDone are safe for concurrent use, so future.Wait and future.AsCompleted
// accept tasks, and Future returns a real *future.Future. Its Cancel is the
// loop's cooperative cancel (see Cancel).
//
// A task does not embed a future.Future: the thread-safe part (a mutex, a
// channel, callbacks) is allocated only when another goroutine asks for it,
// which keeps a task about half the size.
type Task[R any] struct {
	t   T
	fn  func(*T) (R, error)
	v   R
	e   error
	fs  atomic.Int32 // future.State
	ext atomic.Pointer[taskExt]
}

// taskExt is what a task needs only when goroutines outside the loop wait
// for it.
type taskExt struct {
	mu     sync.Mutex
	done   chan struct{}
	closed bool // done has been closed
	cbs    []func()
}

var taskCounter atomic.Uint64

func newTask[R any](l *Loop, fn func(*T) (R, error)) *Task[R] {
	// schedule, written out so that the whole of newTask is inlined into
	// Go (the create+await hot path).
	k := makeTask(l, fn)
	k.t.state = stateReady
	l.pushTask(&k.t)
	if l.closing {
		k.t.cancel(ErrCancelled)
	}
	return k
}

// makeTask creates a task of l that has not been scheduled yet.
func makeTask[R any](l *Loop, fn func(*T) (R, error)) *Task[R] {
	k := &Task[R]{fn: fn}
	k.t.id = taskCounter.Add(1)
	k.t.loop = l
	k.t.impl = k
	l.live++
	l.tasks.add(&k.t)
	return k
}

// schedule puts a task made by makeTask in the ready queue.
func (l *Loop) schedule(t *T) {
	t.state = stateReady
	l.pushTask(t)
	if l.closing {
		// Main has returned and Run is cancelling what is left: a task
		// started now (from cleanup code, say) is cancelled too, so it
		// never starts and cannot hold Run open.
		t.cancel(ErrCancelled)
	}
}

// start starts a task made by makeTask from the running coroutine: at
// once under WithEagerTasks, else at the loop's next opportunity.
func (l *Loop) start(t *T) {
	if l.cfg.eager && !l.closing {
		l.runEager(t)
		return
	}
	l.schedule(t)
}

// runEager runs t, created by the running coroutine, right away until it
// first suspends or returns, and then goes back to the creator (Python
// 3.12's eager_task_factory). A coroutine switch from the creator's
// coroutine into t's and back: the loop is not involved, and t's later
// wake-ups go through the ready queue as usual.
func (l *Loop) runEager(t *T) {
	parent := l.current.Load()
	c := l.getCoro()
	t.co = c
	c.job = t
	c.fin = false
	t.state = stateRunning
	l.current.Store(t)
	l.eager++
	c.next()
	l.eager--
	l.current.Store(parent)
	if c.fin {
		c.fin = false
		l.recycle(c)
	}
}

// Go starts fn as a new task on t's loop and returns it at once (Python's
// asyncio.create_task). The task starts running at the loop's next
// opportunity, that is when the current coroutine next awaits. Go must be
// called from a running coroutine; otherwise the returned task has already
// failed with ErrNotInCoroutine.
//
// A task started while Run is shutting down, after main returned (from the
// cleanup code of a task that Run cancelled, for instance), is cancelled at
// once like every other task then: it never starts and awaiting it reports
// ErrCancelled, so cleanup cannot keep Run from returning. Python's
// asyncio.run leaves such a task pending and destroys it when it closes the
// loop; do cleanup work in the cleanup code itself.
func Go[R any](t *T, fn func(t *T) (R, error)) *Task[R] {
	if err := t.onLoop(); err != nil {
		return failedTask[R](err)
	}
	if fn == nil {
		return failedTask[R](ErrNilFunc)
	}
	if l := t.loop; l.cfg.eager && !l.closing {
		k := makeTask(l, fn)
		l.runEager(&k.t)
		return k
	}
	return newTask(t.loop, fn)
}

// CreateTask is Go under Python's name.
func CreateTask[R any](t *T, fn func(t *T) (R, error)) *Task[R] { return Go(t, fn) }

func failedTask[R any](err error) *Task[R] {
	k := &Task[R]{e: err}
	k.t.state = stateDone
	k.t.impl = k
	k.fs.Store(int32(future.Failed))
	return k
}

// runBody runs the task's function. A panic is recovered by the coroutine
// that runs it (see getCoro), so that this frame, which stays on the stack
// of every suspended task, sets up no defer.
func (k *Task[R]) runBody() {
	k.v, k.e = k.fn(&k.t)
}

func (k *Task[R]) setPanic(r any) {
	var zero R
	k.v, k.e = zero, future.NewPanicError(r)
}

func (k *Task[R]) complete() {
	st := future.Done
	if k.e != nil {
		st = future.Failed
		if errors.Is(k.e, future.ErrCancelled) {
			st = future.Cancelled
		}
	}
	k.finalize(st)
}

func (k *Task[R]) completeCancelled(err error) {
	if err == nil {
		err = ErrCancelled
	}
	k.e = err
	k.finalize(future.Cancelled)
}

// finalize publishes the final state (on the loop) and runs the callbacks:
// the loop-local ones first, then those of other goroutines.
func (k *Task[R]) finalize(st future.State) {
	k.fn = nil
	k.fs.Store(int32(st))
	if cb := k.t.localCb; cb != nil {
		k.t.localCb = nil
		k.t.callHook(cb)
	}
	if r := k.t.rare; r != nil && r.localMore != nil {
		more := r.localMore
		r.localMore = nil
		for _, cb := range more {
			if cb != nil { // nil: dropped by a wait that ended
				k.t.callHook(cb)
			}
		}
	}
	if x := k.ext.Load(); x != nil {
		x.mu.Lock()
		if x.done != nil && !x.closed {
			close(x.done)
		}
		x.closed = true
		ext := x.cbs
		x.cbs = nil
		x.mu.Unlock()
		for _, cb := range ext {
			k.t.callFunc(cb)
		}
	}
}

// callHook runs a loop-local done callback. Like every done callback it
// may run user code (a future completed from it runs its own callbacks),
// so a panic is logged, as asyncio logs an exception raised by a done
// callback through the loop's exception handler, and the loop goes on.
func (t *T) callHook(h doneHook) {
	defer t.callbackPanicked()
	h.taskDone()
}

// callFunc runs a done callback registered with OnDone; see callHook.
func (t *T) callFunc(fn func()) {
	defer t.callbackPanicked()
	fn()
}

func (t *T) callbackPanicked() {
	if r := recover(); r != nil {
		t.loop.cfg.logger.Error("aio: done callback panicked",
			"task", t.Name(), "panic", r, "stack", string(debug.Stack()))
	}
}

func (k *Task[R]) err() error { return k.e }

func (k *Task[R]) getExt() *taskExt {
	if x := k.ext.Load(); x != nil {
		return x
	}
	k.ext.CompareAndSwap(nil, &taskExt{})
	return k.ext.Load()
}

// State returns the task's state as a future.State: Pending before it
// starts and while it runs, then Done, Failed or Cancelled.
func (k *Task[R]) State() future.State { return future.State(k.fs.Load()) }

// Finished reports whether the task has finished (Python's Task.done()).
func (k *Task[R]) Finished() bool { return k.State().Final() }

// Cancelled reports whether the task ended cancelled (Python's
// Task.cancelled()).
func (k *Task[R]) Cancelled() bool { return k.State() == future.Cancelled }

// Err returns the task's error once it has finished, nil before (Python's
// Task.exception() without raising).
func (k *Task[R]) Err() error {
	if !k.State().Final() {
		return nil
	}
	return k.e
}

// Value returns the result once the task has finished; ok is false before.
func (k *Task[R]) Value() (v R, err error, ok bool) {
	if !k.State().Final() {
		return v, nil, false
	}
	return k.v, k.e, true
}

// Done returns a channel closed when the task finishes.
func (k *Task[R]) Done() <-chan struct{} {
	x := k.getExt()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		x.done = make(chan struct{})
		// The final state is published before finalize takes the lock, so
		// this may see it first: then close here, and finalize will not.
		if k.State().Final() || x.closed {
			close(x.done)
			x.closed = true
		}
	}
	return x.done
}

// OnDone arranges for fn to run once the task has finished: at once if it
// has (in the caller's goroutine), otherwise on the loop right after it
// finishes (Python's add_done_callback). Safe from any goroutine; fn must
// not block. A panic in fn run by the loop is logged through the loop's
// logger (see WithLogger) and the loop goes on, as asyncio's exception
// handler does; a panic in fn run at once goes to the caller.
func (k *Task[R]) OnDone(fn func()) {
	x := k.getExt()
	x.mu.Lock()
	if k.State().Final() {
		x.mu.Unlock()
		fn()
		return
	}
	x.cbs = append(x.cbs, fn)
	x.mu.Unlock()
}

// doneHook is a loop-local done callback. A wait registers a pointer into
// its own registrations (no allocation per awaited task); other callers
// register a plain function as a funcHook.
type doneHook interface{ taskDone() }

// funcHook adapts a function to doneHook.
type funcHook func()

func (f funcHook) taskDone() { f() }

// onDoneLocal registers fn to run on the loop when the task finishes; the
// caller is on the loop and the task is not final.
func (t *T) onDoneLocal(fn func()) int { return t.addHook(funcHook(fn)) }

// addHook registers h like onDoneLocal. It returns the slot h went to, for
// dropLocal; slots freed by dropLocal are reused, so a task waited on again
// and again holds only the callbacks of the waits still on.
func (t *T) addHook(h doneHook) int {
	if t.localCb == nil {
		t.localCb = h
		return -1
	}
	r := t.getRare()
	for i, cb := range r.localMore {
		if cb == nil {
			r.localMore[i] = h
			return i
		}
	}
	r.localMore = append(r.localMore, h)
	return len(r.localMore) - 1
}

// dropLocal removes the callback registered in slot by onDoneLocal (Python's
// remove_done_callback) if the task has not finished and run it yet.
func (t *T) dropLocal(slot int) {
	if t.state == stateDone {
		return
	}
	if slot < 0 {
		t.localCb = nil
	} else if t.rare != nil && slot < len(t.rare.localMore) {
		t.rare.localMore[slot] = nil
	}
}

// Result waits for the task from any goroutine and returns its value and
// error; if ctx ends first it returns ctx.Err(). Do not call it from a
// coroutine of the same loop (it would block the loop): use Await.
func (k *Task[R]) Result(ctx context.Context) (R, error) {
	if !k.State().Final() {
		if ctx == nil {
			ctx = context.Background()
		}
		select {
		case <-k.Done():
		case <-ctx.Done():
			var zero R
			return zero, ctx.Err()
		}
	}
	return k.v, k.e
}

// Future returns a *future.Future[R] that completes with the task, for APIs
// that need that exact type (future.Results, for instance).
func (k *Task[R]) Future() *future.Future[R] {
	f, r := future.New[R](context.Background())
	k.OnDone(func() {
		if k.State() == future.Cancelled {
			r.CompleteCancelled(k.e)
			return
		}
		r.Complete(k.v, k.e)
	})
	return f
}

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
func (k *Task[R]) Cancelling() int { return int(k.t.cancels) }

// Uncancel removes one cancellation request and returns the number left
// (Python's Task.uncancel). When none is left, a cancellation not yet
// delivered is dropped.
func (k *Task[R]) Uncancel() int { return k.t.Uncancel() }

// Name returns the task's name ("Task-N" unless set with SetName).
func (k *Task[R]) Name() string { return k.t.Name() }

// SetName names the task for logs (Python's Task.set_name).
// Loop only, or before the task is shared with other goroutines.
func (k *Task[R]) SetName(name string) {
	r := k.t.getRare()
	r.name, r.named = name, true
}

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
	if t.rare != nil && t.rare.named {
		return t.rare.name
	}
	return "Task-" + strconv.FormatUint(t.id, 10)
}

// Cancelling returns the number of pending cancellation requests of the
// coroutine's own task (Python's Task.cancelling).
func (t *T) Cancelling() int { return int(t.cancels) }

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
	return int(t.cancels)
}

// Cancel requests cancellation of the coroutine's own task; it is delivered
// at its next await.
func (t *T) Cancel() bool { return t.cancel(ErrCancelled) }

func (t *T) cancel(err error) bool {
	if t.state == stateDone {
		return false
	}
	t.cancels++
	t.getRare().cancelErr = err
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
		return t.cancelError()
	}
	return nil
}

// newPark starts a new wait and returns its id; wake-ups carrying an older
// id are ignored. Ids come from the loop's timer sequence, so they never
// repeat on a loop and a sleep's timer entry can use its id as its
// sequence number (see sleepUntil).
func (t *T) newPark() uint64 {
	l := t.loop
	l.timerSeq++
	t.parkID = l.timerSeq
	return t.parkID
}

// park suspends the coroutine until resume(t, id) or a cancellation, which
// it returns.
func (t *T) park() error {
	t.suspend()
	return t.takeCancel()
}

// suspend parks the coroutine without looking for a cancellation. It is
// small enough to be inlined, so that a coroutine parked in Sleep has one
// frame less on its stack for the garbage collector to walk.
func (t *T) suspend() {
	t.state = stateParked
	t.co.yield(struct{}{})
}

// takeCancel returns (and clears) a cancellation pending for t.
func (t *T) takeCancel() error {
	if t.mustCancel {
		t.mustCancel = false
		return t.cancelError()
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
	next   func() (struct{}, bool)
	stop   func()
	yield  func(struct{}) bool
	job    *T
	fin    bool
	exited bool // the goroutine has returned (not pooled)
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
		// A task that panics fails alone: the panic is recovered here,
		// the task completes with a *future.PanicError, and this
		// goroutine ends (it is not pooled). Recovering here rather than
		// in runBody keeps the defer off the per-task path.
		defer func() {
			r := recover()
			if r == nil {
				return // a normal end, or runtime.Goexit
			}
			t := c.job
			if t == nil {
				// Not from a task body (done callbacks recover their
				// own panics): a bug of the loop, which must not be
				// hidden.
				panic(r)
			}
			t.impl.setPanic(r)
			t.co = nil
			c.job = nil
			c.fin = true
			c.exited = true
			l.finish(t, false)
		}()
		for {
			t := c.job
			t.impl.runBody()
			t.co = nil
			c.job = nil
			l.finish(t, false)
			// Run the next fresh task of this batch right here, without
			// switching back to the loop and out again.
			if nt := l.chainable(); nt != nil {
				nt.co = c
				c.job = nt
				nt.state = stateRunning
				l.current.Store(nt)
				continue
			}
			c.fin = true
			if len(l.pool) >= maxPool {
				// The pool is full: end the goroutine now rather than
				// switch back and be stopped (one round trip less).
				c.exited = true
				return
			}
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
		c.fin = false
		l.recycle(c)
	}
}

// recycle pools a coroutine whose task has finished.
func (l *Loop) recycle(c *coro) {
	if c.exited {
		// Its goroutine has ended; nothing to stop.
	} else if len(l.pool) < maxPool {
		l.pool = append(l.pool, c)
	} else {
		c.stop()
	}
}

// chainable pops the next item of the current batch if it is a task that
// has not started yet, so that a coroutine that just finished can run it
// in place (debug mode keeps one task per step for its timing).
func (l *Loop) chainable() *T {
	if l.cfg.debug || l.batchLeft <= 0 || l.ready.len() == 0 || l.eager > 0 {
		return nil
	}
	nt := l.ready.peek().t
	if nt == nil || nt.co != nil || nt.state != stateReady || nt.mustCancel {
		return nil
	}
	l.ready.pop()
	l.batchLeft--
	return nt
}

func (l *Loop) finish(t *T, cancelledBeforeStart bool) {
	t.state = stateDone
	l.live--
	l.tasks.remove(t)
	if cancelledBeforeStart {
		t.impl.completeCancelled(t.cancelError())
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
// behind. Use Shield to keep aw running. A task of this loop that catches
// the cancellation and returns a value (or another error) decides the
// outcome, as in Python: Await returns what it returned and the awaiting
// task is not cancelled, although its Cancelling count keeps the request.
// Await returns ErrOtherLoop for a task of another loop and
// ErrNotInCoroutine when t is not running.
func Await[R any](t *T, aw Awaitable[R]) (R, error) {
	var zero R
	if err := t.enter(); err != nil {
		return zero, err
	}
	if k, ok := aw.(*Task[R]); ok && k.t.state == stateDone && k.t.loop == t.loop {
		k.t.retrieved = true // fast path: a finished task of this loop
		return k.v, k.e
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
		// Python's Task.cancel passes the request on to the task it
		// waits for and does not cancel the awaiting task itself: what
		// the awaited task ends with decides. Wait for its cleanup, and
		// pass on further cancellations meanwhile, as Python does (the
		// awaiting task's _fut_waiter is still that task).
		other.cancel(err)
		for other.state != stateDone {
			if e := t.park(); e != nil {
				other.cancel(e)
			}
		}
		ws.close()
		if w.State() == future.Cancelled {
			return err
		}
		// It caught the cancellation and returned a value or another
		// error: the awaiting task gets that, is not cancelled (the
		// request was consumed) and keeps its Cancelling count.
		return nil
	}
	ws.close()
	if c, ok := w.(interface{ Cancel() bool }); ok {
		c.Cancel()
	}
	return err
}

// watch parks one coroutine on a set of waitables.
type watch struct {
	t       *T
	onEvent func(i, left int) bool
	id      uint64
	// The done callbacks this watch put on loop tasks: the first inline
	// (Await has just one), the others in one slice allocated at once, so
	// that waiting on n tasks costs no allocation per task.
	reg0       watchReg
	regs       []watchReg
	left       int32 // registered waitables not yet reported
	pendingExt int32
	active     bool
	fired      bool
}

// watchReg is the done callback of one loop task of a watch, and where it
// went on that task (see addHook), for close.
type watchReg struct {
	w    *watch
	o    *T
	i    int32
	slot int32
}

func (r *watchReg) taskDone() { r.w.event(int(r.i)) }

// newWatch registers the waitables of ws that are not final yet; as each
// becomes final, onEvent(i, left) runs on the loop with the number still
// outstanding, and when it returns true the coroutine is woken (fired is
// set). Callbacks that arrive after close are ignored.
func newWatch[W future.Waitable](t *T, ws []W, onEvent func(i, left int) bool) *watch {
	l := t.loop
	w := &watch{t: t, onEvent: onEvent, id: t.newPark(), active: true}
	nLocal := 0
	for i, f := range ws {
		if f.State().Final() {
			continue
		}
		w.left++
		if lt, ok := any(f).(loopTask); ok && lt.core().loop == l {
			o := lt.core()
			var r *watchReg
			if nLocal == 0 {
				r = &w.reg0
			} else {
				if w.regs == nil {
					w.regs = make([]watchReg, 0, len(ws)-i)
				}
				// Never beyond the capacity: the tasks hold pointers
				// into the slice.
				w.regs = append(w.regs, watchReg{})
				r = &w.regs[len(w.regs)-1]
			}
			nLocal++
			*r = watchReg{w: w, o: o, i: int32(i)}
			r.slot = int32(o.addHook(r))
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
				w.event(i)
			})
		})
	}
	if w.left == 0 {
		w.fired = true
	}
	return w
}

// event reports that waitable i has become final; on the loop.
func (w *watch) event(i int) {
	if !w.active {
		return
	}
	w.left--
	if w.onEvent(i, int(w.left)) {
		w.fired = true
		w.t.loop.resume(w.t, w.id)
	}
}

func (w *watch) close() {
	w.active = false
	w.t.loop.external -= int(w.pendingExt)
	w.pendingExt = 0
	// Take the callbacks off the tasks that are still running, so that
	// waiting on a long-lived task repeatedly (Wait or AsCompleted in a
	// loop, a timed-out Shield) does not pile them up on it.
	if w.reg0.o != nil {
		w.reg0.o.dropLocal(int(w.reg0.slot))
		w.reg0.o = nil
		for j := range w.regs {
			w.regs[j].o.dropLocal(int(w.regs[j].slot))
			w.regs[j].o = nil
		}
		w.regs = nil
	}
}
