package aio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trident-go/trident/future"
)

// Errors returned for misuse. They are sentinels: test them with errors.Is.
var (
	// ErrNotInCoroutine: an await (or another loop-only call) was made with a
	// *T whose coroutine is not the one running now: from a goroutine of its
	// own, after the coroutine returned, or with a nil *T. Python raises
	// RuntimeError("no running event loop") in the like case.
	ErrNotInCoroutine = errors.New("aio: not called from the running coroutine of this handle")
	// ErrOtherLoop: a task, primitive or future of one loop was awaited or used
	// from a coroutine of another loop (Python: "attached to a different loop").
	ErrOtherLoop = errors.New("aio: task or primitive belongs to a different event loop")
	// ErrNestedRun: Run was called with a context of a loop that is running,
	// that is from inside one of its coroutines (Python: "asyncio.run() cannot
	// be called from a running event loop").
	ErrNestedRun = errors.New("aio: Run called from inside a running event loop")
	// ErrLoopClosed: work was submitted to a loop that has finished.
	ErrLoopClosed = future.Sentinel("aio: event loop is closed", future.ErrShutdown)
	// ErrNilFunc: a nil coroutine or function was passed.
	ErrNilFunc = errors.New("aio: nil function")
	// ErrAwaitSelf: a task awaited itself, which could never finish.
	ErrAwaitSelf = errors.New("aio: a task cannot await itself")
)

// ErrCancelled is the error a cancelled coroutine sees at its next await
// (Python's asyncio.CancelledError). It is future.ErrCancelled, so
// errors.Is(err, context.Canceled) is true as well.
var ErrCancelled = future.ErrCancelled

type loopKey struct{}

// Option configures a loop started by Run.
type Option func(*config)

type config struct {
	virtual bool
	debug   bool
	slow    time.Duration
	logger  *slog.Logger
	noPoll  bool
	eager   bool
}

// WithVirtualTime runs the loop on a virtual clock that starts at
// 2000-01-01 00:00:00 UTC and jumps straight to the next timer whenever every
// coroutine is waiting on the loop and nothing the loop waits for is
// outstanding outside it (no awaited foreign future, ToThread call or stream
// read). This is trio's MockClock with autojump_threshold=0; asyncio has no
// counterpart. Code full of sleeps and timeouts then runs in microseconds and
// deterministically.
func WithVirtualTime() Option { return func(c *config) { c.virtual = true } }

// WithDebug turns on debug mode (Python's loop.set_debug(True)): a warning
// is logged when a coroutine or callback holds the loop longer than the slow
// threshold (default 100 ms, asyncio's slow_callback_duration) and, when Run
// ends, for every task that failed without anybody awaiting it ("Task
// exception was never retrieved").
func WithDebug() Option { return func(c *config) { c.debug = true } }

// WithSlowThreshold sets debug mode's slow-step threshold and turns debug
// mode on.
func WithSlowThreshold(d time.Duration) Option {
	return func(c *config) { c.debug = true; c.slow = d }
}

// WithoutPoller makes socket streams read on goroutines (Go's netpoller)
// instead of the loop's own epoll instance, which Linux loops on the real
// clock use by default. The poller makes the loop wait in epoll_wait, a
// system call: inside a testing/synctest bubble use this option (or the
// virtual clock) so that the bubble sees the loop as durably blocked.
// asyncio's counterpart is choosing a selector event loop policy.
func WithoutPoller() Option { return func(c *config) { c.noPoll = true } }

// WithEagerTasks makes Go and Group.Go start the new task at once, in the
// creating coroutine's step, instead of at the loop's next opportunity
// (Python 3.12's loop.set_task_factory(asyncio.eager_task_factory)): the
// task runs until it first suspends or returns, then the creator goes on.
// A task that returns without suspending is finished when Go returns and
// never goes through the loop, which saves the switches of a task that
// often answers from a cache. As in Python, the order changes: the new
// task's first step runs before the rest of the creator's. Tasks created
// outside a coroutine (Run's main, Submit, a server's handlers) are
// scheduled as usual.
func WithEagerTasks() Option { return func(c *config) { c.eager = true } }

// WithLogger sets the logger for debug warnings and for panics in
// callbacks, both plain callbacks (CallSoon, CallLater) and done callbacks
// (Task.OnDone) (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// virtualEpoch is where virtual time starts.
var virtualEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Loop is a running event loop (Python's asyncio event loop). A Loop is
// created by Run and lives until Run returns; coroutines reach it with
// T.Loop. Methods marked "loop only" must be called from a coroutine or a
// callback of this loop; CallSoonThreadsafe and Submit may be called from any
// goroutine.
type Loop struct {
	cfg    config
	ctx    context.Context
	cancel context.CancelFunc

	ready     readyQueue
	batchLeft int // items of the current batch not yet run

	timers    timerHeap
	nDead     int // cancelled timers still in the heap
	timerSeq  uint64
	base      time.Time
	vnow      int64
	realTimer *time.Timer

	live     int // tasks not yet finished
	tasks    taskList
	external int // foreign things a coroutine waits for
	closing  bool
	current  atomic.Pointer[T]
	running  atomic.Bool

	mu      sync.Mutex
	tsq     []func()
	tsSpare []func()
	tsFlag  atomic.Bool
	closed  bool
	wake    chan struct{}
	wg      sync.WaitGroup

	closers map[io.Closer]struct{} // connections and listeners closed at the end

	// poll is the loop's epoll instance (Linux, real clock), created when
	// the first socket stream starts reading. Written by the loop with mu
	// held; post reads it with mu held.
	poll    *poller
	flushq  []*StreamWriter // writers to send for at the end of the step
	flushSp []*StreamWriter
	noPoll  bool // creating it failed once

	failed []*T // debug: failed tasks, checked for retrieval at the end
	pool   []*coro
	eager  int // depth of eager starts in progress (WithEagerTasks)
}

type item struct {
	t *T
	h *Handle
}

// Run runs main as the first task of a new event loop and returns its
// result once it and every task it left behind have finished (Python's
// asyncio.run). When main returns, the remaining tasks are cancelled and Run
// waits for their cleanup. When ctx ends, every task is cancelled; their
// cancellation error wraps context.Cause(ctx). Goroutines started by the loop
// (ToThread, streams) are waited for, so none outlives Run.
//
// Run returns ErrNestedRun if ctx belongs to a running loop (a coroutine
// passing t.Context()). Unlike Python it cannot detect a nested Run made
// with an unrelated context; such a call blocks the outer loop until it
// returns, which debug mode reports as a slow step.
func Run[R any](ctx context.Context, main func(t *T) (R, error), opts ...Option) (R, error) {
	var zero R
	if ctx == nil {
		ctx = context.Background()
	}
	if main == nil {
		return zero, fmt.Errorf("aio.Run: %w", ErrNilFunc)
	}
	if l, ok := ctx.Value(loopKey{}).(*Loop); ok && l.running.Load() {
		return zero, ErrNestedRun
	}
	l := newLoop(ctx, opts)
	task := newTask(l, main)
	stop := context.AfterFunc(ctx, func() {
		cause := future.CancelledError(context.Cause(ctx))
		l.CallSoonThreadsafe(func() { l.cancelAll(cause) })
	})
	l.run(&task.t)
	stop()
	v, err, _ := task.Value()
	return v, err
}

func newLoop(ctx context.Context, opts []Option) *Loop {
	l := &Loop{wake: make(chan struct{}, 1)}
	l.cfg.slow = 100 * time.Millisecond
	for _, o := range opts {
		if o != nil {
			o(&l.cfg)
		}
	}
	if l.cfg.logger == nil {
		l.cfg.logger = slog.Default()
	}
	if l.cfg.virtual {
		l.base = virtualEpoch
	} else {
		l.base = time.Now()
	}
	l.ctx, l.cancel = context.WithCancel(context.WithValue(ctx, loopKey{}, l))
	return l
}

func (l *Loop) run(main *T) {
	l.running.Store(true)
	l.runUntil(main)
	l.shutdown()
}

// runUntil runs the loop until main has finished (Python's
// run_until_complete).
func (l *Loop) runUntil(main *T) {
	for main.state != stateDone {
		l.runOnce()
	}
}

// shutdown cancels every task left, runs the loop until they have finished
// and closes it: goroutines waited for, poller and pooled coroutines
// stopped. l.running is cleared at the end.
func (l *Loop) shutdown() {
	l.closing = true
	l.cancelAll(ErrCancelled)
	for l.live != 0 || !l.closeIfIdle() {
		l.runOnce()
	}
	l.cancel()
	l.closeTracked()
	l.wg.Wait()
	l.stopPoller()
	for _, c := range l.pool {
		c.stop()
	}
	l.pool = nil
	if l.realTimer != nil {
		l.realTimer.Stop()
	}
	if l.cfg.debug {
		for _, t := range l.failed {
			if !t.retrieved {
				l.cfg.logger.Warn("aio: task failed and its error was never retrieved",
					"task", t.Name(), "error", t.impl.err())
			}
		}
	}
	l.failed = nil
	l.running.Store(false)
}

// closeIfIdle marks the loop closed unless thread-safe calls are queued:
// those were accepted (CallSoonThreadsafe returned nil, Submit returned a
// pending future), so they must run before the loop ends.
func (l *Loop) closeIfIdle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.tsq) > 0 {
		return false
	}
	l.closed = true
	return true
}

func (l *Loop) runOnce() {
	if l.poll != nil {
		l.pollIO()
	}
	if l.tsFlag.Load() {
		l.drainThreadsafe()
	}
	l.fireTimers(l.nowNanos())
	if len(l.flushq) > 0 {
		l.flushWrites()
	}
	if l.ready.len() == 0 {
		if l.poll == nil {
			l.block()
		}
		return
	}
	l.batchLeft = l.ready.len()
	for l.batchLeft > 0 {
		l.batchLeft--
		it := l.ready.pop()
		if it.t != nil {
			l.step(it.t)
		} else if !it.h.cancelled {
			l.runHandle(it.h)
		}
	}
	if len(l.flushq) > 0 {
		l.flushWrites()
	}
}

// flushWrites sends what the last step wrote, one system call per writer
// (asyncio's transports send at once in write).
func (l *Loop) flushWrites() {
	q := l.flushq
	l.flushq = l.flushSp[:0]
	for i, w := range q {
		w.kick()
		q[i] = nil
	}
	l.flushSp = q[:0]
}

func (l *Loop) runHandle(h *Handle) {
	var t0 time.Time
	if l.cfg.debug {
		t0 = time.Now()
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				l.cfg.logger.Error("aio: callback panicked", "panic", r)
			}
		}()
		h.fn()
	}()
	if l.cfg.debug {
		if el := time.Since(t0); el > l.cfg.slow {
			l.cfg.logger.Warn("aio: callback held the loop too long", "duration", el, "threshold", l.cfg.slow)
		}
	}
}

// block waits for the next thing to do: a timer, a thread-safe call, or (on
// the virtual clock) jumps to the next timer.
func (l *Loop) block() {
	next, ok := l.nextTimer()
	if l.cfg.virtual {
		if ok && l.external == 0 && !l.tsFlag.Load() {
			if next > l.vnow {
				l.vnow = next
			}
			return
		}
		<-l.wake
		return
	}
	if !ok {
		<-l.wake
		return
	}
	d := time.Duration(next - l.nowNanos())
	if d <= 0 {
		return
	}
	if l.realTimer == nil {
		l.realTimer = time.NewTimer(d)
	} else {
		l.realTimer.Reset(d)
	}
	select {
	case <-l.wake:
		l.realTimer.Stop()
	case <-l.realTimer.C:
	}
}

// pollIO waits in epoll_wait, as asyncio's selector does at the top of
// every iteration: without a timeout when callbacks or coroutines are
// ready, else until the next timer or an event. Readable sockets are read
// here, on the loop, and their waiting coroutines made ready.
func (l *Loop) pollIO() {
	p := l.poll
	timeout := time.Duration(0)
	if l.ready.len() == 0 && !l.tsFlag.Load() {
		timeout = -1
		if next, ok := l.nextTimer(); ok {
			timeout = max(time.Duration(next-l.nowNanos()), 0)
		}
	}
	if timeout != 0 {
		p.Arm()
		if l.tsFlag.Load() {
			timeout = 0
		}
	}
	var t0 time.Time
	evs := p.wait(timeout)
	if l.cfg.debug {
		t0 = time.Now()
	}
	p.dispatch(evs)
	if l.cfg.debug && len(evs) > 0 {
		if el := time.Since(t0); el > l.cfg.slow {
			l.cfg.logger.Warn("aio: reading sockets held the loop too long", "duration", el, "threshold", l.cfg.slow)
		}
	}
}

// pollable is what the poller reports readiness to: a stream's reader or a
// server's listener.
type pollable interface{ pollReady(events uint32) }

// startPoller creates the loop's poller on first use; it reports whether
// the loop has one.
func (l *Loop) startPoller() bool {
	if l.poll != nil {
		return true
	}
	if !pollSupported || l.noPoll || l.cfg.noPoll || l.cfg.virtual {
		return false
	}
	p, err := newPoller()
	if err != nil {
		l.noPoll = true
		return false
	}
	l.mu.Lock()
	l.poll = p
	l.mu.Unlock()
	return true
}

// stopPoller closes the poller once no goroutine can post any more.
func (l *Loop) stopPoller() {
	l.mu.Lock()
	p := l.poll
	l.poll = nil
	l.mu.Unlock()
	if p != nil {
		p.Close()
	}
}

func (l *Loop) pushTask(t *T) {
	l.ready.push(item{t: t})
}

func (l *Loop) nowNanos() int64 {
	if l.cfg.virtual {
		return l.vnow
	}
	return int64(time.Since(l.base))
}

// Now returns the loop's clock (Python's loop.time(), as a time.Time): the
// wall clock, or the virtual clock under WithVirtualTime. Loop only when
// the clock is virtual.
func (l *Loop) Now() time.Time { return l.base.Add(time.Duration(l.nowNanos())) }

// Context returns the loop's context: it carries the values of the context
// given to Run and is cancelled when Run's context ends or the loop finishes.
func (l *Loop) Context() context.Context { return l.ctx }

// Virtual reports whether the loop runs on the virtual clock.
func (l *Loop) Virtual() bool { return l.cfg.virtual }

// CallSoonThreadsafe schedules fn to run on the loop at its next iteration
// (Python's call_soon_threadsafe). It may be called from any goroutine. It
// returns ErrLoopClosed if the loop has finished; fn then never runs.
func (l *Loop) CallSoonThreadsafe(fn func()) error {
	if fn == nil {
		return ErrNilFunc
	}
	if !l.post(fn) {
		return ErrLoopClosed
	}
	return nil
}

func (l *Loop) post(fn func()) bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.tsq = append(l.tsq, fn)
	l.tsFlag.Store(true)
	if p := l.poll; p != nil {
		p.Wakeup()
		l.mu.Unlock()
		return true
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

func (l *Loop) drainThreadsafe() {
	l.mu.Lock()
	q := l.tsq
	l.tsq = l.tsSpare[:0]
	l.tsFlag.Store(false)
	l.mu.Unlock()
	for i, fn := range q {
		fn()
		q[i] = nil
	}
	l.mu.Lock()
	l.tsSpare = q[:0]
	l.mu.Unlock()
}

// cancelAll cancels every live task with err.
func (l *Loop) cancelAll(err error) {
	for t := l.tasks.head; t != nil; t = t.nextT {
		t.cancel(err)
	}
}

// spawnGoroutine runs fn on a goroutine that Run waits for before it
// returns.
func (l *Loop) spawnGoroutine(fn func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn()
	}()
}

// taskList is an intrusive doubly linked list of live tasks.
type taskList struct{ head *T }

func (s *taskList) add(t *T) {
	t.nextT = s.head
	if s.head != nil {
		s.head.prevT = t
	}
	s.head = t
}

func (s *taskList) remove(t *T) {
	if t.prevT != nil {
		t.prevT.nextT = t.nextT
	} else if s.head == t {
		s.head = t.nextT
	}
	if t.nextT != nil {
		t.nextT.prevT = t.prevT
	}
	t.prevT, t.nextT = nil, nil
}
