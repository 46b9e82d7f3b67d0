package threadpool

import (
	"context"
	"errors"
	"fmt"
	"log"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/syncx"
)

// ErrShutdown is returned (or carried by the returned future) when work is
// submitted after Shutdown or ShutdownNow began (Python raises RuntimeError
// "cannot schedule new futures after shutdown"). It matches
// future.ErrShutdown.
var ErrShutdown = future.Sentinel("threadpool: pool is shut down", future.ErrShutdown)

// ErrBrokenPool is matched (errors.Is) by the error of every queued and later
// submit once a worker's initializer failed (Python's BrokenThreadPool). The
// error also wraps the initializer's error. It matches future.ErrBroken.
var ErrBrokenPool = future.Sentinel("threadpool: pool is broken", future.ErrBroken)

// ErrQueueFull is returned by TrySubmit when the queue bound set with
// WithQueueSize is reached. It matches syncx.ErrQueueFull (Python's
// queue.Full), the one error for a full queue across trident. Python's executor has no bounded queue.
var ErrQueueFull = future.Sentinel("threadpool: queue is full", syncx.ErrQueueFull)

// errCancelledByShutdown is the abort reason of tasks dropped by ShutdownNow.
var errCancelledByShutdown = future.CancelledError(ErrShutdown)

type brokenError struct{ cause error }

func (e *brokenError) Error() string {
	return "threadpool: pool is broken: initializer failed: " + e.cause.Error()
}
func (e *brokenError) Is(target error) bool {
	return target == ErrBrokenPool || target == future.ErrBroken
}
func (e *brokenError) Unwrap() error { return e.cause }

func nilFuncError(what string) error {
	return fmt.Errorf("threadpool: %s: task function is nil", what)
}

var errNilPool = errors.New("threadpool: pool is nil (create one with threadpool.New)")

// outcome is what running (or aborting) a task came to.
type outcome uint8

const (
	completed outcome = iota
	failed
	skipped // cancelled before it ran
)

// runner runs one kind of task. Implementations are the task's function
// under a named func type (goFunc, groupFunc, submitFunc[T]): a func value
// is pointer-shaped, so storing one in the interface allocates nothing, and
// its method carries the type parameter that the queue cannot.
type runner interface {
	// run runs the task whose other half is x, or resolves it without
	// running when abort is not nil.
	run(p *Pool, x any, abort error) outcome
}

// task is one queue entry: the function (as a runner) and what it needs
// besides, a context.Context for Go, the *Group for Group.Go, the
// future.Resolver[T] for Submit. Both are pointer-shaped, so building a task
// allocates nothing, and an entry is four words.
type task struct {
	r runner
	x any
}

type worker struct {
	wake  chan struct{} // capacity 1: one token per park
	timer *time.Timer
	// batch holds the tasks taken from the queue in one go (a field, so
	// that passing &batch[i] does not allocate), batchLen how many. The
	// worker runs batch[0] at once; every later one is claimed first by
	// moving next past it, by the worker itself or, while it is busy, by
	// an idle worker that takes it over (steal) or by ShutdownNow. A task
	// is run or aborted only by whoever claimed it, so none is lost or
	// run twice. batch and batchLen are written under Pool.mu (when the
	// batch is taken) and the tasks after the first are read by others
	// only under Pool.mu: a new batch cannot replace one being stolen.
	batch    [maxBatch]task
	batchLen int32
	next     atomic.Int32
	// parkedAt is when the worker last parked (for the idle timeout).
	parkedAt time.Time

	// counters written by this worker only, read by Stats
	completed atomic.Uint64
	failed    atomic.Uint64
	cancelled atomic.Uint64
}

// Pool runs tasks on a bounded set of worker goroutines (Python's
// concurrent.futures.ThreadPoolExecutor). Create it with New; all methods
// are safe for concurrent use. A Pool must be shut down with Shutdown or
// ShutdownNow to release its workers (Python's shutdown, or leaving a with
// block).
type Pool struct {
	cfg config

	initCtx    context.Context
	initCancel context.CancelFunc

	mu        sync.Mutex
	q         queue
	idle      []*worker // parked workers, most recent last
	all       []*worker // live workers
	nworkers  int
	waking    int         // workers woken or spawned that have not reached the queue yet
	spinning  int         // workers polling the queue before parking
	batching  int         // workers that took a batch and have not come back for more
	halt      atomic.Bool // set by ShutdownNow and breakPool: drop held tasks
	closing   bool
	broken    error
	space     chan struct{} // closed when the bounded queue frees a slot
	exited    chan struct{} // closed when closing and no worker is left
	exitedSet bool
	submitted uint64
	retired   struct{ completed, failed, cancelled uint64 } // of exited workers and of aborted tasks
}

// New returns a pool configured by opts. It starts no goroutine: workers
// start with the first submits. It returns an error naming the bad option
// when an option is invalid (for example WithWorkers(0)).
func New(opts ...Option) (*Pool, error) {
	cfg := defaultConfig()
	var errs []error
	for _, o := range opts {
		if o != nil {
			if err := o(&cfg); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, exited: make(chan struct{})}
	p.initCtx, p.initCancel = context.WithCancel(context.Background())
	return p, nil
}

// Workers returns the most workers the pool runs at once.
func (p *Pool) Workers() int { return p.cfg.workers }

// submit queues t, waiting for room in a bounded queue unless try is set.
func (p *Pool) submit(ctx context.Context, t task, try bool) error {
	p.mu.Lock()
	for {
		if p.broken != nil {
			err := p.broken
			p.mu.Unlock()
			return err
		}
		if p.closing {
			p.mu.Unlock()
			return ErrShutdown
		}
		if p.cfg.queueSize == 0 || p.q.n < p.cfg.queueSize {
			break
		}
		if try {
			p.mu.Unlock()
			return ErrQueueFull
		}
		if p.space == nil {
			p.space = make(chan struct{})
		}
		space := p.space
		p.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
	}
	p.q.push(t)
	p.submitted++
	w := p.wakeLocked()
	p.mu.Unlock()
	if w != nil {
		w.wake <- struct{}{}
	}
	return nil
}

// wakeLocked makes sure some worker is on its way to the queue: unless one
// is already spinning or being woken, it takes the most recently parked
// worker off the idle list (the caller sends it its token after unlocking)
// or starts a new one if the bound allows. Waking one worker at a time and
// letting each woken worker wake the next while work remains (see work)
// keeps wake-ups off the submitter's path. p.mu is held.
func (p *Pool) wakeLocked() *worker {
	if p.waking > 0 || p.spinning > 0 {
		return nil
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.waking++
		return w
	}
	if p.nworkers < p.cfg.workers {
		nw := &worker{wake: make(chan struct{}, 1)}
		p.nworkers++
		p.waking++
		p.all = append(p.all, nw)
		go p.work(nw)
	}
	return nil
}

// passOnLocked passes the wake-up on after a worker took work (see
// wakeLocked) while more is left: tasks in the queue, or tasks held in a
// batch (p.batching over-counts those: it includes batches whose last task
// is running). That keeps an invariant that makes a parked worker safe:
// while a worker is parked and some task waits in the queue or unclaimed in
// a batch, another worker is being woken or is spinning, and a woken worker
// claims a batched task first. p.mu is held.
func (p *Pool) passOnLocked() *worker {
	if p.q.n > 0 || p.batching > 0 {
		return p.wakeLocked()
	}
	return nil
}

// freeSpaceLocked wakes submitters blocked on a full queue.
func (p *Pool) freeSpaceLocked() {
	if p.space != nil {
		close(p.space)
		p.space = nil
	}
}

func (p *Pool) work(w *worker) {
	if p.cfg.lockThread {
		// Never unlocked: when the worker exits, its thread exits with it,
		// taking any thread-local state the initializer set up.
		runtime.LockOSThread()
	}
	if p.cfg.init != nil {
		if err := p.runInit(); err != nil {
			p.breakPool(err)
			p.mu.Lock()
			p.waking--
			p.exitLocked(w)
			p.mu.Unlock()
			return
		}
	}
	p.mu.Lock()
	p.waking--
	woken := true
	for {
		if p.batching > 0 && (woken || p.q.n == 0) {
			// A worker just woken or started, or one that found the
			// queue empty, first takes over a task that a busy worker
			// holds in a batch: it was queued before anything still in
			// the queue, and it would wait behind that worker's running
			// task while this one is free. (A worker coming back from a
			// task takes from the queue first: stealing one task at a
			// time from batches would undo what they save.)
			if t, ok := p.stealLocked(w); ok {
				woken = false
				next := p.passOnLocked()
				p.mu.Unlock()
				if next != nil {
					next.wake <- struct{}{}
				}
				w.batch[0] = t
				w.runTask(p, 0, nil)
				p.mu.Lock()
				continue
			}
		}
		woken = false
		if p.q.n > 0 {
			// Take one task, or a few when the queue holds several per
			// worker anyway: fewer trips through the lock, which is what
			// limits throughput for tiny tasks. The tasks after the first
			// stay claimable by others (stealLocked) until this worker
			// gets to them, and an idle worker is woken to claim them
			// (passOnLocked), so none waits behind a slow one while a
			// worker is idle.
			k := 1
			if p.q.n >= 2*p.cfg.workers {
				k = min(maxBatch, p.q.n/p.cfg.workers)
			}
			for i := range k {
				w.batch[i] = p.q.pop()
			}
			if k > 1 {
				// Between batches next >= batchLen: nothing to claim.
				w.batchLen = int32(k)
				w.next.Store(1)
				p.batching++
			}
			p.freeSpaceLocked()
			next := p.passOnLocked()
			p.mu.Unlock()
			if next != nil {
				next.wake <- struct{}{}
			}
			w.runTask(p, 0, nil)
			if k > 1 {
				for {
					i := int(w.next.Add(1) - 1)
					if i >= k {
						break
					}
					var abort error
					if p.halt.Load() {
						// ShutdownNow or a broken pool (which claim what
						// is left, but this one was claimed first): a
						// task still held here is pending and must not
						// run.
						abort = p.haltError()
					}
					w.runTask(p, i, abort)
				}
			}
			p.mu.Lock()
			if k > 1 {
				p.batching--
			}
			continue
		}
		if p.closing || p.broken != nil {
			break
		}
		if p.spinning == 0 {
			// One worker at a time spins briefly before parking: a burst
			// of submits then finds it awake, and nobody pays for a
			// wake-up.
			p.spinning++
			p.mu.Unlock()
			for i := 0; i < spinRounds && !p.q.nonEmpty.Load(); i++ {
				runtime.Gosched()
			}
			p.mu.Lock()
			p.spinning--
			if p.q.n > 0 || p.closing || p.broken != nil || p.stealableLocked() {
				continue
			}
		}
		// Parking: the queue is empty and no batch holds a task that is
		// not claimed yet (checked under this same hold of p.mu).
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		if !p.park(w) {
			return
		}
		p.mu.Lock()
		p.waking--
		woken = true
	}
	p.exitLocked(w)
	p.mu.Unlock()
}

// runTask runs (or aborts) w.batch[i], which w has claimed, and counts the
// outcome.
func (w *worker) runTask(p *Pool, i int, abort error) {
	o := w.batch[i].r.run(p, w.batch[i].x, abort)
	w.batch[i] = task{} // drop references to the finished task
	switch o {
	case completed:
		w.completed.Add(1)
	case failed:
		w.failed.Add(1)
	default:
		w.cancelled.Add(1)
	}
}

// claimLocked claims the next task of w's batch not claimed yet, if any.
// p.mu is held, so w cannot start a new batch meanwhile.
func (w *worker) claimLocked() (task, bool) {
	n := w.batchLen
	if w.next.Load() >= n {
		return task{}, false
	}
	i := w.next.Add(1) - 1
	if i >= n {
		return task{}, false // w claimed the last one first
	}
	t := w.batch[i]
	w.batch[i] = task{}
	return t, true
}

// held reports how many tasks of w's batch are not claimed yet.
func (w *worker) held() int {
	return max(0, int(w.batchLen-w.next.Load()))
}

// stealLocked claims for thief one task another worker holds in its batch,
// the oldest held by the worker found first. p.mu is held.
func (p *Pool) stealLocked(thief *worker) (task, bool) {
	for _, w := range p.all {
		if w == thief {
			continue
		}
		if t, ok := w.claimLocked(); ok {
			return t, true
		}
	}
	return task{}, false
}

// stealableLocked reports whether some worker holds a batched task not
// claimed yet. p.mu is held.
func (p *Pool) stealableLocked() bool {
	if p.batching == 0 {
		return false
	}
	for _, w := range p.all {
		if w.held() > 0 {
			return true
		}
	}
	return false
}

// claimAllLocked claims every task held in a batch, for ShutdownNow and a
// pool that breaks: they are pending and are aborted at once. p.mu is held.
func (p *Pool) claimAllLocked(ts []task) []task {
	if p.batching == 0 {
		return ts
	}
	for _, w := range p.all {
		for {
			t, ok := w.claimLocked()
			if !ok {
				break
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// maxBatch is the most tasks a worker takes from the queue at once. A
// worker takes several only when the queue holds at least two per worker.
// The ones after the first can be taken over by another worker
// (stealLocked): by a worker just woken, or by one that found the queue
// empty, so a task never waits behind a slow one while a worker is idle.
const maxBatch = 4

// haltError is the reason queued tasks held by a worker are dropped.
func (p *Pool) haltError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken != nil {
		return p.broken
	}
	return errCancelledByShutdown
}

// spinRounds is how many times an idle worker yields, checking the queue,
// before it parks.
const spinRounds = 32

// park waits for a wake-up token. It reports false when the worker stayed
// idle for the idle timeout and retired (it has then left the pool).
//
// The idle timer is not re-armed on every park (that would cost a timer
// heap operation per park): it runs on, and when it fires the worker
// checks how long it has really been parked and re-arms for the rest.
func (p *Pool) park(w *worker) bool {
	d := p.cfg.idleTimeout
	if d <= 0 {
		<-w.wake
		return true
	}
	w.parkedAt = time.Now()
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	}
	for {
		select {
		case <-w.wake:
			return true
		case <-w.timer.C:
		}
		p.mu.Lock()
		i := slices.Index(p.idle, w)
		if i < 0 {
			// Someone took us off the idle list and is sending a token.
			p.mu.Unlock()
			<-w.wake
			return true
		}
		if idle := time.Since(w.parkedAt); idle < d {
			w.timer.Reset(d - idle)
			p.mu.Unlock()
			continue
		}
		p.idle = slices.Delete(p.idle, i, i+1)
		if p.q.n > 0 && !p.closing && p.broken == nil {
			p.waking++ // the caller's loop undoes this
			p.mu.Unlock()
			return true
		}
		// A worker retiring for idleness means the pool has been quiet:
		// give the queue's spare memory back.
		p.q.releaseAll()
		p.exitLocked(w)
		p.mu.Unlock()
		return false
	}
}

// exitLocked removes w from the pool. p.mu is held.
func (p *Pool) exitLocked(w *worker) {
	p.nworkers--
	if i := slices.Index(p.all, w); i >= 0 {
		p.all = slices.Delete(p.all, i, i+1)
	}
	p.retired.completed += w.completed.Load()
	p.retired.failed += w.failed.Load()
	p.retired.cancelled += w.cancelled.Load()
	if p.nworkers == 0 && (p.closing || p.broken != nil) && !p.exitedSet {
		p.exitedSet = true
		close(p.exited)
	}
}

func (p *Pool) runInit() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = future.NewPanicError(r)
		}
	}()
	return p.cfg.init(p.initCtx)
}

// breakPool marks the pool broken and fails every queued task.
func (p *Pool) breakPool(cause error) {
	p.mu.Lock()
	if p.broken != nil {
		p.mu.Unlock()
		return
	}
	p.broken = &brokenError{cause: cause}
	p.halt.Store(true)
	abort := p.broken
	drained := p.claimAllLocked(p.q.drain())
	idle := p.idle
	p.idle = nil
	p.waking += len(idle)
	p.freeSpaceLocked()
	p.mu.Unlock()
	for _, w := range idle {
		w.wake <- struct{}{}
	}
	p.abortAll(drained, abort)
}

func (p *Pool) abortAll(ts []task, abort error) {
	var c, f, s uint64
	for i := range ts {
		switch ts[i].r.run(p, ts[i].x, abort) {
		case completed:
			c++
		case failed:
			f++
		default:
			s++
		}
	}
	p.mu.Lock()
	p.retired.completed += c
	p.retired.failed += f
	p.retired.cancelled += s
	p.mu.Unlock()
}

func (p *Pool) close(cancelPending bool) {
	p.mu.Lock()
	var drained []task
	if cancelPending {
		p.halt.Store(true)
		drained = p.claimAllLocked(p.q.drain())
	}
	p.closing = true
	idle := p.idle
	p.idle = nil
	p.waking += len(idle)
	p.freeSpaceLocked()
	if p.nworkers == 0 && !p.exitedSet {
		p.exitedSet = true
		close(p.exited)
	}
	p.mu.Unlock()
	for _, w := range idle {
		w.wake <- struct{}{}
	}
	if cancelPending {
		p.initCancel()
		p.abortAll(drained, errCancelledByShutdown)
	}
}

// Shutdown stops the pool accepting work, lets the queued and running tasks
// finish, and waits until every worker has exited (Python's
// shutdown(wait=True)). If ctx ends first it returns ctx.Err(); the work goes
// on and a later Shutdown can wait again. Submits after Shutdown began fail
// with ErrShutdown. It is safe to call more than once.
func (p *Pool) Shutdown(ctx context.Context) error {
	if p == nil {
		return errNilPool
	}
	if ctx == nil {
		ctx = context.Background()
	}
	p.close(false)
	select {
	case <-p.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ShutdownNow stops the pool accepting work and cancels every queued task
// (Python's shutdown(wait=False, cancel_futures=True)): their futures end
// Cancelled before ShutdownNow returns, including those a worker took in a
// batch behind the task it runs, and their Group records the cancellation.
// Running tasks are not interrupted and finish on their own; ShutdownNow
// does not wait for them: call Shutdown afterwards to wait. The
// initializer's context is cancelled.
func (p *Pool) ShutdownNow() {
	if p == nil {
		return
	}
	p.close(true)
}

// Stats is a snapshot of a pool's counters. Python's executor exposes none.
type Stats struct {
	Submitted uint64 // tasks accepted into the queue
	Queued    int    // tasks waiting for a worker
	Running   int    // tasks being run now
	Completed uint64 // tasks that ran and succeeded
	Failed    uint64 // tasks that ran and failed (error or panic), or failed because the pool broke
	Cancelled uint64 // tasks that never ran: cancelled while queued
	Workers   int    // live worker goroutines
	Idle      int    // workers parked waiting for work
}

// Stats returns the pool's counters. It is cheap (one short lock and a few
// atomic loads per worker) and fine to call often; the figures are a
// consistent-enough snapshot, not an atomic one.
func (p *Pool) Stats() Stats {
	if p == nil {
		return Stats{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{
		Submitted: p.submitted,
		Queued:    p.q.n,
		Completed: p.retired.completed,
		Failed:    p.retired.failed,
		Cancelled: p.retired.cancelled,
		Workers:   p.nworkers,
		Idle:      len(p.idle),
	}
	for _, w := range p.all {
		s.Queued += w.held()
		s.Completed += w.completed.Load()
		s.Failed += w.failed.Load()
		s.Cancelled += w.cancelled.Load()
	}
	if r := int(s.Submitted-s.Completed-s.Failed-s.Cancelled) - s.Queued; r > 0 {
		s.Running = r
	}
	return s
}

// String describes the pool for logs.
func (p *Pool) String() string {
	s := p.Stats()
	return fmt.Sprintf("threadpool.Pool{workers: %d/%d, queued: %d, running: %d}", s.Workers, p.cfg.workers, s.Queued, s.Running)
}

// logPanic reports a panic of a fire-and-forget task that has no handler.
func logPanic(err error) {
	log.Printf("threadpool: task started with Go panicked: %v", err)
}
