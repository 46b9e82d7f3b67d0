package syncx

import (
	"context"
	"sync"
)

// Cond is a condition variable whose Wait honours a context: goroutines
// wait, with L held, for a condition on shared state to change, and are
// woken by Signal (one waiter) or Broadcast (all). Create it with NewCond.
//
// Python: threading.Condition. Go: sync.Cond, whose Wait cannot time out.
// Differences from Python: Wait takes a context instead of a timeout and
// returns ctx.Err() instead of False; Signal and Broadcast (Python: notify
// and notify_all) may be called with or without L held; the default lock is
// a sync.Mutex, not an RLock.
//
// Wake-ups are first come, first served: Signal wakes the goroutine that
// has waited longest. A waiter whose context ends at the same moment as a
// Signal picks it passes that Signal on to the next waiter before returning
// ctx.Err(), so a cancellation never swallows a Signal meant for someone
// still waiting. As with every condition variable, a woken goroutine must
// re-check its condition in a loop (or use WaitFor).
type Cond struct {
	// L is held while observing or changing the condition.
	L sync.Locker

	mu      sync.Mutex
	waiters waitList[bool] // val: woken by Signal (true) or Broadcast
}

// NewCond returns a Cond that uses l, or a new sync.Mutex if l is nil
// (Python's Condition() makes a new RLock likewise).
func NewCond(l sync.Locker) *Cond {
	if l == nil {
		l = new(sync.Mutex)
	}
	return &Cond{L: l}
}

// Wait atomically unlocks c.L and suspends the goroutine until it is woken
// by Signal or Broadcast or ctx ends; it locks c.L again before returning,
// in every case. It returns nil when woken and ctx.Err() when ctx ended
// (at once, without unlocking, if ctx is already done). The caller must hold
// c.L. Python: Condition.wait(timeout).
func (c *Cond) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &waiter[bool]{ch: make(chan struct{}, 1)}
	c.mu.Lock()
	c.waiters.pushBack(w)
	c.mu.Unlock()
	c.L.Unlock()
	select {
	case <-w.ch:
		c.L.Lock()
		return nil
	case <-ctx.Done():
	}
	c.mu.Lock()
	if w.listed {
		c.waiters.remove(w)
	} else if w.val {
		// A Signal chose us as we gave up: pass it on.
		c.signalLocked()
	}
	c.mu.Unlock()
	c.L.Lock()
	return ctx.Err()
}

// WaitFor waits until cond() is true, calling Wait as often as needed. It
// is called, and cond is evaluated, with c.L held. It returns nil once cond
// is true and ctx.Err() if ctx ends first. Python: Condition.wait_for, which
// returns the last value of the predicate instead.
func (c *Cond) WaitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		if err := c.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cond) signalLocked() {
	if w := c.waiters.popFront(); w != nil {
		w.val = true
		w.ch <- struct{}{}
	}
}

// Signal wakes the goroutine that has waited longest, if any. Python:
// Condition.notify().
func (c *Cond) Signal() {
	c.mu.Lock()
	c.signalLocked()
	c.mu.Unlock()
}

// Broadcast wakes every waiting goroutine. Python: Condition.notify_all().
func (c *Cond) Broadcast() {
	c.mu.Lock()
	for w := c.waiters.popFront(); w != nil; w = c.waiters.popFront() {
		w.ch <- struct{}{}
	}
	c.mu.Unlock()
}
