package syncx

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Timer runs a function once after a delay, in its own goroutine, unless it
// is cancelled first. Create it with AfterFunc.
//
// Python: threading.Timer. Differences: it starts at once (no start());
// Cancel reports whether it stopped the function before it started, so the
// caller knows for certain whether the function runs; Reset re-arms it, even
// after it fired or was cancelled; Wait (Python: join) takes a context.
//
// Cancel, Reset and the firing are serialised by one lock, so there is no
// window in which Cancel returns true and the function still runs, and no
// stale expiry of an earlier arming runs the function after Reset: the
// races that time.Timer's Stop and Reset document do not exist here.
//
// A panic in the function is not recovered: like a panic in any goroutine
// (or in time.AfterFunc's function) it ends the program.
type Timer struct {
	mu  sync.Mutex
	fn  func()
	cur *arming
}

type armState int

const (
	armPending armState = iota
	armRunning
	armRan
	armCancelled
)

// arming is one scheduled run of the function.
type arming struct {
	state armState
	seq   uint64 // which time.Timer of this arming may fire
	timer *time.Timer
	done  chan struct{} // closed when fn returned or the arming was cancelled
}

// AfterFunc starts a Timer that calls fn in its own goroutine after d. A
// zero or negative d fires as soon as possible. fn must not be nil.
// Python: threading.Timer(interval, function) followed by start().
func AfterFunc(d time.Duration, fn func()) (*Timer, error) {
	if fn == nil {
		return nil, errors.New("syncx: AfterFunc needs a function, got nil")
	}
	t := &Timer{fn: fn}
	t.mu.Lock()
	t.cur = &arming{done: make(chan struct{})}
	t.scheduleLocked(t.cur, d)
	t.mu.Unlock()
	return t, nil
}

func (t *Timer) scheduleLocked(a *arming, d time.Duration) {
	a.seq++
	seq := a.seq
	a.timer = time.AfterFunc(d, func() { t.fire(a, seq) })
}

func (t *Timer) fire(a *arming, seq uint64) {
	t.mu.Lock()
	if a.state != armPending || a.seq != seq {
		t.mu.Unlock()
		return // cancelled or re-scheduled meanwhile
	}
	a.state = armRunning
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		a.state = armRan
		t.mu.Unlock()
		close(a.done)
	}()
	t.fn()
}

// Cancel stops the timer if its function has not started yet, and reports
// whether it did: true means the function will not run (for this arming),
// false means it has already started or finished, or the timer was already
// cancelled. Python: Timer.cancel, which returns nothing.
func (t *Timer) Cancel() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.cur
	if a.state != armPending {
		return false
	}
	a.state = armCancelled
	a.timer.Stop()
	close(a.done)
	return true
}

// Reset makes the timer fire d from now. If the function had not started
// yet, the pending run is moved (and Reset returns true); otherwise a new
// run is scheduled (and Reset returns false), even if the timer fired or
// was cancelled before. Python has no counterpart.
//
// If Reset is called while the function is running, the new run is not
// held back until the current one returns: the two may overlap, as with
// time.AfterFunc. Guard shared state inside the function, or call Wait
// before Reset to keep runs apart.
func (t *Timer) Reset(d time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.cur
	if a.state == armPending {
		a.timer.Stop()
		t.scheduleLocked(a, d)
		return true
	}
	t.cur = &arming{done: make(chan struct{})}
	t.scheduleLocked(t.cur, d)
	return false
}

// Wait blocks until the current run of the function has returned or the
// timer was cancelled, or until ctx ends (then it returns ctx.Err()). If a
// Reset moves a pending run, Wait waits for the moved run; a run that Reset
// schedules after the previous one ended or was cancelled is a new run,
// which a Wait that started earlier does not wait for. Python: Timer.join.
func (t *Timer) Wait(ctx context.Context) error {
	t.mu.Lock()
	done := t.cur.done
	t.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
