package aio

import (
	"errors"
	"fmt"
)

// waiter is one coroutine parked on a loop-local primitive.
type waiter struct {
	t       *T
	id      uint64
	granted bool // woken (and, for Lock/Semaphore, handed the resource)
	gone    bool // gave up (cancelled)
}

// waitQueue is a FIFO of waiters. Waiters that give up stay in place
// (marked gone) and are skipped by pop; once they make up most of the
// queue they are swept out, so a primitive that is waited on with timeouts
// and never signalled does not grow without bound.
type waitQueue struct {
	ws    []*waiter
	head  int
	nGone int // gone waiters still in ws[head:]
}

func (q *waitQueue) push(w *waiter) { q.ws = append(q.ws, w) }

// pop returns the first waiter that has not given up, or nil.
func (q *waitQueue) pop() *waiter {
	for q.head < len(q.ws) {
		w := q.ws[q.head]
		q.ws[q.head] = nil
		q.head++
		if q.head == len(q.ws) {
			q.ws = q.ws[:0]
			q.head = 0
		}
		if !w.gone {
			return w
		}
		q.nGone--
	}
	return nil
}

// leave marks w, queued in q, as gone.
func (q *waitQueue) leave(w *waiter) {
	w.gone = true
	q.nGone++
	if q.nGone > 32 && 2*q.nGone > len(q.ws)-q.head {
		keep := q.ws[:0]
		for _, x := range q.ws[q.head:] {
			if !x.gone {
				keep = append(keep, x)
			}
		}
		clear(q.ws[len(keep):])
		q.ws, q.head, q.nGone = keep, 0, 0
	}
}

// any reports whether a waiter that has not given up is queued.
func (q *waitQueue) any() bool {
	for _, w := range q.ws[q.head:] {
		if !w.gone {
			return true
		}
	}
	return false
}

func (w *waiter) wake() {
	w.granted = true
	w.t.loop.resume(w.t, w.id)
}

// bind ties a primitive to the loop of its first user.
func bind(owner **Loop, t *T) error {
	if *owner == nil {
		*owner = t.loop
		return nil
	}
	if *owner != t.loop {
		return ErrOtherLoop
	}
	return nil
}

// wait parks t in q until woken or cancelled. On cancellation the waiter is
// marked gone; granted tells whether it had been woken first.
func (t *T) waitIn(q *waitQueue) (w *waiter, err error) {
	w = &waiter{t: t, id: t.newPark()}
	q.push(w)
	err = t.park()
	if err != nil && !w.granted {
		q.leave(w)
	}
	return w, err
}

// Event is a flag coroutines can wait for (Python's asyncio.Event). The zero
// value is an unset event, usable by the coroutines of one loop.
type Event struct {
	loop    *Loop
	set     bool
	waiters waitQueue
}

// Set sets the flag and wakes every waiter (Python's Event.set). Loop only.
func (e *Event) Set() {
	if e.set {
		return
	}
	e.set = true
	for w := e.waiters.pop(); w != nil; w = e.waiters.pop() {
		w.wake()
	}
}

// Clear resets the flag (Python's Event.clear).
func (e *Event) Clear() { e.set = false }

// IsSet reports whether the flag is set (Python's Event.is_set).
func (e *Event) IsSet() bool { return e.set }

// Wait suspends until the flag is set, returning at once if it is
// (Python's Event.wait); it returns the cancellation error if cancelled.
func (e *Event) Wait(t *T) error {
	if err := t.enter(); err != nil {
		return err
	}
	if err := bind(&e.loop, t); err != nil {
		return err
	}
	if e.set {
		return nil
	}
	_, err := t.waitIn(&e.waiters)
	return err
}

// ErrNotLocked is returned by Release of a lock or condition that is not
// held (Python raises RuntimeError).
var ErrNotLocked = errors.New("aio: release of an unlocked lock")

// Lock is a mutual exclusion lock for coroutines (Python's asyncio.Lock):
// it serialises critical sections that contain awaits. It is fair: Release
// hands the lock to the longest waiter. It is not tied to an owner task. The
// zero value is unlocked.
type Lock struct {
	loop    *Loop
	locked  bool
	waiters waitQueue
}

// Acquire suspends until the lock is held by the caller (Python's
// Lock.acquire; use defer l.Release() where Python uses async with).
func (m *Lock) Acquire(t *T) error {
	if err := t.enter(); err != nil {
		return err
	}
	if err := bind(&m.loop, t); err != nil {
		return err
	}
	if !m.locked && !m.waiters.any() {
		m.locked = true
		return nil
	}
	w, err := t.waitIn(&m.waiters)
	if err != nil {
		if w.granted { // handed the lock, then cancelled: pass it on
			m.release()
		}
		return err
	}
	return nil
}

// Release releases the lock, handing it to the first waiter if any
// (Python's Lock.release). It returns ErrNotLocked if the lock is not held,
// where Python raises RuntimeError.
func (m *Lock) Release() error {
	if !m.locked {
		return ErrNotLocked
	}
	m.release()
	return nil
}

func (m *Lock) release() {
	if w := m.waiters.pop(); w != nil {
		w.wake() // ownership moves to w; locked stays true
		return
	}
	m.locked = false
}

// Locked reports whether the lock is held (Python's Lock.locked).
func (m *Lock) Locked() bool { return m.locked }

// Semaphore limits how many coroutines are inside a section at once
// (Python's asyncio.Semaphore, or BoundedSemaphore when created with
// NewBoundedSemaphore). Create it with NewSemaphore or NewBoundedSemaphore.
type Semaphore struct {
	loop    *Loop
	value   int
	bound   int // the initial value of a bounded semaphore
	bounded bool
	waiters waitQueue
}

// ErrReleasedTooMany is returned by Release of a bounded semaphore released
// more times than acquired (Python's BoundedSemaphore raises ValueError
// "Semaphore released too many times"); syncx.BoundedSemaphore's error has
// the same name.
var ErrReleasedTooMany = errors.New("aio: semaphore released too many times")

// NewSemaphore returns a semaphore with n permits (Python's
// asyncio.Semaphore(n)). A negative n is an error, where Python raises
// ValueError; syncx.NewSemaphore is the same for goroutines.
func NewSemaphore(n int) (*Semaphore, error) {
	return newSemaphore("NewSemaphore", n, false)
}

// NewBoundedSemaphore returns a semaphore with n permits whose Release
// beyond n fails with ErrReleasedTooMany (Python's
// asyncio.BoundedSemaphore(n)); a bounded semaphore of 0 is allowed, as in
// Python, and refuses every Release. A negative n is an error.
func NewBoundedSemaphore(n int) (*Semaphore, error) {
	return newSemaphore("NewBoundedSemaphore", n, true)
}

func newSemaphore(name string, n int, bounded bool) (*Semaphore, error) {
	if n < 0 {
		return nil, fmt.Errorf("aio.%s: negative number of permits %d", name, n)
	}
	return &Semaphore{value: n, bound: n, bounded: bounded}, nil
}

// Acquire takes a permit, suspending while there is none (Python's
// Semaphore.acquire).
func (s *Semaphore) Acquire(t *T) error {
	if err := t.enter(); err != nil {
		return err
	}
	if err := bind(&s.loop, t); err != nil {
		return err
	}
	if s.value > 0 && !s.waiters.any() {
		s.value--
		return nil
	}
	w, err := t.waitIn(&s.waiters)
	if err != nil {
		if w.granted {
			s.release()
		}
		return err
	}
	return nil
}

// Release returns a permit, handing it to the first waiter if any (Python's
// Semaphore.release). A bounded semaphore returns ErrReleasedTooMany instead
// of Python's ValueError when released too often, that is when its free
// permits are already at the bound (checked first, as Python does, so a
// bounded semaphore of 0 refuses even with coroutines waiting).
func (s *Semaphore) Release() error {
	if s.bounded && s.value >= s.bound {
		return ErrReleasedTooMany
	}
	s.release()
	return nil
}

func (s *Semaphore) release() {
	if w := s.waiters.pop(); w != nil {
		w.wake()
		return
	}
	s.value++
}

// Value returns the number of free permits (Python's private _value;
// Semaphore.locked() is Value() == 0).
func (s *Semaphore) Value() int { return s.value }

// Condition lets coroutines wait until notified while holding a lock
// (Python's asyncio.Condition). Create it with NewCondition.
type Condition struct {
	// L is the lock the condition is associated with.
	L       *Lock
	waiters waitQueue
}

// NewCondition returns a condition on l (a new Lock if l is nil), as
// Python's asyncio.Condition(lock) does; syncx.NewCondition is the same for
// goroutines.
func NewCondition(l *Lock) *Condition {
	if l == nil {
		l = &Lock{}
	}
	return &Condition{L: l}
}

// Wait releases the lock, suspends until notified, and re-acquires the lock
// before returning, even when cancelled (as Python does), so the caller
// always holds the lock afterwards. A waiter cancelled after it was notified
// passes the notification on to the next waiter. It returns ErrNotLocked if
// the lock is not held.
func (c *Condition) Wait(t *T) error {
	if err := t.enter(); err != nil {
		return err
	}
	if !c.L.locked {
		return ErrNotLocked
	}
	c.L.release()
	w, werr := t.waitIn(&c.waiters)
	if werr != nil && w.granted {
		// Notified, then cancelled before it could run: pass the
		// notification on so that it is not lost (Python 3.13 does the
		// same; a spurious wake-up is allowed).
		c.Notify(1)
	}
	// Re-acquire, absorbing cancellations until we hold the lock.
	var cerr error
	for {
		err := c.L.Acquire(t)
		if err == nil {
			break
		}
		if errors.Is(err, ErrOtherLoop) || errors.Is(err, ErrNotInCoroutine) {
			return err
		}
		cerr = err
	}
	if werr != nil {
		return werr
	}
	return cerr
}

// WaitFor waits until pred returns true, calling it with the lock held
// (Python's Condition.wait_for).
func (c *Condition) WaitFor(t *T, pred func() bool) error {
	for !pred() {
		if err := c.Wait(t); err != nil {
			return err
		}
	}
	return nil
}

// Notify wakes up to n waiters (Python's Condition.notify). The lock
// should be held; unlike Python, Notify does not check it.
func (c *Condition) Notify(n int) {
	for i := 0; i < n; i++ {
		w := c.waiters.pop()
		if w == nil {
			return
		}
		w.wake()
	}
}

// NotifyAll wakes every waiter (Python's Condition.notify_all).
func (c *Condition) NotifyAll() {
	for w := c.waiters.pop(); w != nil; w = c.waiters.pop() {
		w.wake()
	}
}
