package syncx

import (
	"context"
	"sync"
)

// Condition is a condition variable whose Wait honours a context:
// goroutines wait, with L held, for a condition on shared state to change,
// and are woken by Notify (one waiter) or NotifyAll (all). Create it with
// NewCondition.
//
// Python: threading.Condition (aio.Condition is asyncio's). Go: sync.Cond,
// whose Wait cannot time out and whose Signal and Broadcast are Notify and
// NotifyAll here. Differences from Python: Wait takes a context instead of
// a timeout and returns ctx.Err() instead of False; Notify and NotifyAll
// may be called with or without L held; the default lock is a sync.Mutex,
// not an RLock.
//
// Wake-ups are first come, first served: Notify wakes the goroutine that
// has waited longest. A waiter whose context ends at the same moment as a
// Notify picks it passes that notification on to the next waiter before
// returning ctx.Err(), so a cancellation never swallows a notification
// meant for someone still waiting. As with every condition variable, a
// woken goroutine must re-check its condition in a loop (or use WaitFor).
type Condition struct {
	// L is held while observing or changing the condition.
	L sync.Locker

	mu      sync.Mutex
	waiters waitList[bool] // val: woken by Notify (true) or NotifyAll
}

// NewCondition returns a Condition that uses l, or a new sync.Mutex if l is nil
// (Python's Condition() makes a new RLock likewise).
func NewCondition(l sync.Locker) *Condition {
	if l == nil {
		l = new(sync.Mutex)
	}
	return &Condition{L: l}
}

// Wait atomically unlocks c.L and suspends the goroutine until it is woken
// by Notify or NotifyAll or ctx ends; it locks c.L again before returning,
// in every case. It returns nil when woken and ctx.Err() when ctx ended
// (at once, without unlocking, if ctx is already done). The caller must hold
// c.L. Python: Condition.wait(timeout).
func (c *Condition) Wait(ctx context.Context) error {
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
		// A Notify chose us as we gave up: pass it on.
		c.notifyLocked()
	}
	c.mu.Unlock()
	c.L.Lock()
	return ctx.Err()
}

// WaitFor waits until cond() is true, calling Wait as often as needed. It
// is called, and cond is evaluated, with c.L held. It returns nil once cond
// is true and ctx.Err() if ctx ends first. Python: Condition.wait_for, which
// returns the last value of the predicate instead.
func (c *Condition) WaitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		if err := c.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (c *Condition) notifyLocked() {
	if w := c.waiters.popFront(); w != nil {
		w.val = true
		w.ch <- struct{}{}
	}
}

// Notify wakes the goroutine that has waited longest, if any. Python:
// Condition.notify().
func (c *Condition) Notify() {
	c.mu.Lock()
	c.notifyLocked()
	c.mu.Unlock()
}

// NotifyAll wakes every waiting goroutine. Python: Condition.notify_all().
func (c *Condition) NotifyAll() {
	c.mu.Lock()
	for w := c.waiters.popFront(); w != nil; w = c.waiters.popFront() {
		w.ch <- struct{}{}
	}
	c.mu.Unlock()
}
