package gil

import (
	"context"
	"errors"
	"time"
)

// Thread is one thread's state under a GIL, like CPython's PyThreadState.
// A Thread is meant to be used by one goroutine at a time; the GIL it belongs
// to is safe for concurrent use.
type Thread struct {
	g       *GIL
	id      int
	name    string
	holding bool
	since   time.Duration // start of the current Held/Run span
}

// ID returns the thread's number (1, 2, 3... in order of NewThread), like
// threading.get_ident but small and stable.
func (t *Thread) ID() int { return t.id }

// Name returns the thread's name, like threading.Thread.name.
func (t *Thread) Name() string { return t.name }

// Holding reports whether the thread holds the lock (for a free-threaded GIL:
// whether it is between Acquire and Release).
func (t *Thread) Holding() bool { return t.holding }

// Acquire takes the lock, waiting as CPython's take_gil does: every switch
// interval without a switch, the waiter sets a drop request that the holder
// honours at its next slice boundary. If ctx ends first, Acquire returns
// ctx.Err() without the lock. Acquiring a lock the thread already holds is a
// no-op.
func (t *Thread) Acquire(ctx context.Context) error {
	if t.holding {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	g := t.g
	if g.free {
		t.holding = true
		t.since = g.Since()
		return nil
	}
	g.mu.Lock()
	if !g.locked {
		g.takeLocked(t)
		t.holding = true
		t.since = g.Since()
		g.mu.Unlock()
		return nil
	}
	waitStart := g.Since()
	g.waiters++
	g.broadcastLocked()
	saved := g.switchNumber
	deadline := time.Now().Add(g.SwitchInterval())
	for g.locked {
		if g.switchNumber != saved {
			// Someone switched: a new interval starts (CPython's waiter
			// compares switch numbers across its timed wait).
			saved = g.switchNumber
			deadline = time.Now().Add(g.SwitchInterval())
		}
		ch := g.changed
		g.mu.Unlock()
		timer := time.NewTimer(time.Until(deadline))
		timedOut := false
		select {
		case <-ch:
		case <-timer.C:
			timedOut = true
		case <-ctx.Done():
			timer.Stop()
			g.mu.Lock()
			g.waiters--
			g.broadcastLocked()
			g.recordLocked(Span{Thread: t.id, Kind: Wait, Start: waitStart, End: g.Since()})
			g.mu.Unlock()
			return ctx.Err()
		}
		timer.Stop()
		g.mu.Lock()
		if timedOut && g.locked && g.switchNumber == saved {
			// Nobody switched during a whole interval: ask the holder to
			// drop the lock (SET_GIL_DROP_REQUEST).
			if !g.drop.Swap(true) {
				g.stats.DropRequests++
			}
			deadline = time.Now().Add(g.SwitchInterval())
		}
	}
	g.waiters--
	g.takeLocked(t)
	now := g.Since()
	g.recordLocked(Span{Thread: t.id, Kind: Wait, Start: waitStart, End: now})
	t.holding = true
	t.since = now
	g.mu.Unlock()
	return nil
}

// Release drops the lock, like CPython's drop_gil at the end of a thread or
// around a blocking call. Releasing a lock the thread does not hold is a
// no-op.
func (t *Thread) Release() {
	if !t.holding {
		return
	}
	t.holding = false
	g := t.g
	if g.free {
		g.record(Span{Thread: t.id, Kind: Run, Start: t.since, End: g.Since()})
		return
	}
	g.mu.Lock()
	g.releaseLocked(t)
	g.mu.Unlock()
}

func (g *GIL) releaseLocked(t *Thread) {
	g.recordLocked(Span{Thread: t.id, Kind: Held, Start: t.since, End: g.Since()})
	g.locked = false
	g.holder = nil
	g.broadcastLocked()
}

// DropRequested reports whether a waiter has asked the holder to drop the
// lock (CPython's gil_drop_request). It is cheap: one atomic load.
func (g *GIL) DropRequested() bool { return g.drop.Load() }

// Tick is the check CPython's eval loop makes between bytecodes (the eval
// breaker). If ctx has ended it returns ctx.Err(). If a waiter has asked for
// the lock and t holds it, t drops it, waits until another thread has taken
// it (FORCE_SWITCHING) and then waits to take it back. Call it between
// slices of CPU work; Run does so for you. A thread that does not hold the
// lock gets ErrNotHeld.
func (t *Thread) Tick(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !t.holding {
		return ErrNotHeld
	}
	g := t.g
	if g.free || !g.drop.Load() {
		return nil
	}
	g.mu.Lock()
	if !g.drop.Load() || g.holder != t {
		g.mu.Unlock()
		return nil
	}
	g.stats.ForcedDrops++
	t.holding = false
	g.releaseLocked(t)
	// FORCE_SWITCHING: do not race the waiter for the lock we just dropped;
	// wait until someone else has taken it (or no one is left to take it).
	saved := g.switchNumber
	for g.switchNumber == saved && g.waiters > 0 {
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		g.mu.Lock()
	}
	g.mu.Unlock()
	return t.Acquire(ctx)
}

// Run runs CPU work as bytecode: it takes the lock (if the thread does not
// hold it yet) and calls slice(0), slice(1), ... until slice returns false,
// checking between slices for a drop request as the eval loop does (see
// Tick). The thread still holds the lock when Run returns, as a Python thread
// that goes on running; call Release when the thread ends. Keep each slice
// short (tens of microseconds) so that drop requests are honoured promptly.
// If ctx ends, Run stops between slices and returns ctx.Err().
func (t *Thread) Run(ctx context.Context, slice func(i int) bool) error {
	if slice == nil {
		return errors.New("gil: nil slice function")
	}
	if err := t.Acquire(ctx); err != nil {
		return err
	}
	for i := 0; ; i++ {
		if !slice(i) {
			return nil
		}
		if err := t.Tick(ctx); err != nil {
			return err
		}
	}
}

// Blocking runs fn with the lock released, as CPython's C code does around a
// blocking system call (Py_BEGIN_ALLOW_THREADS ... Py_END_ALLOW_THREADS), and
// takes the lock back afterwards if the thread held it before. The time in fn
// is recorded as an IO span. fn's error is returned; if ctx ends while
// waiting to take the lock back, ctx.Err() is returned (joined with fn's
// error, if any) and the thread does not hold the lock.
func (t *Thread) Blocking(ctx context.Context, fn func(ctx context.Context) error) error {
	if fn == nil {
		return errors.New("gil: nil blocking function")
	}
	held := t.holding
	t.Release()
	g := t.g
	start := g.Since()
	err := fn(ctx)
	g.record(Span{Thread: t.id, Kind: IO, Start: start, End: g.Since()})
	if held {
		if aerr := t.Acquire(ctx); aerr != nil {
			return errors.Join(err, aerr)
		}
	}
	return err
}

// Sleep is time.sleep: it releases the lock for d (or until ctx ends) and
// takes it back. It returns ctx.Err() if ctx ended.
func (t *Thread) Sleep(ctx context.Context, d time.Duration) error {
	return t.Blocking(ctx, func(ctx context.Context) error {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}
