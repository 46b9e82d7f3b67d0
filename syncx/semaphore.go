package syncx

import (
	"context"
	"fmt"
	"sync"
)

// sem is the shared core of Semaphore and BoundedSemaphore: a counter of
// free permits and a FIFO of waiting acquirers. A released permit is handed
// straight to the longest waiter, so a stream of TryAcquire calls cannot
// starve it.
type sem struct {
	mu      sync.Mutex
	value   int  // free permits
	bound   int  // the most free permits of a bounded semaphore (its initial value, 0 allowed)
	bounded bool // Release refuses beyond bound
	waiters waitList[struct{}]
}

func (s *sem) acquire(ctx context.Context) error {
	s.mu.Lock()
	if s.value > 0 && s.waiters.head == nil {
		s.value--
		s.mu.Unlock()
		return nil
	}
	w := &waiter[struct{}]{ch: make(chan struct{}, 1)}
	s.waiters.pushBack(w)
	s.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		if w.listed {
			s.waiters.remove(w)
		} else {
			// A permit was handed over at the same moment: give it back, so
			// that a cancelled Acquire holds nothing.
			s.releaseLocked()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

func (s *sem) tryAcquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.value > 0 && s.waiters.head == nil {
		s.value--
		return true
	}
	return false
}

func (s *sem) releaseLocked() {
	if w := s.waiters.popFront(); w != nil {
		w.ch <- struct{}{}
		return
	}
	s.value++
}

func (s *sem) release() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Checked before waking a waiter, as Python does: a bounded semaphore
	// of 0 refuses every release, even with goroutines waiting.
	if s.bounded && s.value >= s.bound {
		return ErrReleasedTooMany
	}
	s.releaseLocked()
	return nil
}

func (s *sem) current() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.value
}

// Semaphore is a counting semaphore: Acquire takes one permit, blocking
// while none is free, and Release returns one. Waiters are served in FIFO
// order. Create it with NewSemaphore.
//
// Python: threading.Semaphore. Differences: Acquire takes a context instead
// of blocking/timeout arguments and TryAcquire is acquire(blocking=False);
// waiters are served first come, first served (Python makes no promise);
// Release returns one permit at a time (no n argument). Like Python's, it
// has no owner: any goroutine may release. For weighted acquisition see
// golang.org/x/sync/semaphore.
type Semaphore struct{ s sem }

// NewSemaphore returns a semaphore with value free permits. A value of 0 is
// allowed, as in Python: Acquire then blocks until someone calls Release.
// value must not be negative.
func NewSemaphore(value int) (*Semaphore, error) {
	if value < 0 {
		return nil, fmt.Errorf("syncx: semaphore value must not be negative, got %d", value)
	}
	return &Semaphore{s: sem{value: value}}, nil
}

// Acquire takes a permit, blocking until one is free or ctx ends. On
// failure it returns ctx.Err() and holds no permit. Python:
// Semaphore.acquire(blocking=True, timeout).
func (s *Semaphore) Acquire(ctx context.Context) error { return s.s.acquire(ctx) }

// TryAcquire takes a permit if one is free and nobody is waiting, and
// reports whether it did. Python: Semaphore.acquire(blocking=False).
func (s *Semaphore) TryAcquire() bool { return s.s.tryAcquire() }

// Release returns a permit, waking the longest waiter if any. Python:
// Semaphore.release.
func (s *Semaphore) Release() { _ = s.s.release() }

// Value returns the number of free permits (Python: the private _value).
func (s *Semaphore) Value() int { return s.s.current() }

// BoundedSemaphore is a Semaphore that refuses to be released more times
// than it was acquired: its value never exceeds the initial value. Create it
// with NewBoundedSemaphore.
//
// Python: threading.BoundedSemaphore. Differences: as for Semaphore, and an
// over-release returns ErrReleasedTooMany instead of raising ValueError.
type BoundedSemaphore struct{ s sem }

// NewBoundedSemaphore returns a bounded semaphore with value free permits;
// value is also the bound. A value of 0 is allowed, as in Python: such a
// semaphore can never be acquired and every Release returns
// ErrReleasedTooMany (the bound is 0, not "unbounded"). value must not be
// negative. Python: threading.BoundedSemaphore(value).
func NewBoundedSemaphore(value int) (*BoundedSemaphore, error) {
	if value < 0 {
		return nil, fmt.Errorf("syncx: bounded semaphore value must not be negative, got %d", value)
	}
	return &BoundedSemaphore{s: sem{value: value, bound: value, bounded: true}}, nil
}

// Acquire takes a permit, blocking until one is free or ctx ends. On
// failure it returns ctx.Err() and holds no permit. Python:
// BoundedSemaphore.acquire.
func (s *BoundedSemaphore) Acquire(ctx context.Context) error { return s.s.acquire(ctx) }

// TryAcquire takes a permit if one is free and nobody is waiting, and
// reports whether it did. Python: BoundedSemaphore.acquire(blocking=False).
func (s *BoundedSemaphore) TryAcquire() bool { return s.s.tryAcquire() }

// Release returns a permit. It returns ErrReleasedTooMany, and changes
// nothing, if every permit is already free. Python: BoundedSemaphore.release.
func (s *BoundedSemaphore) Release() error { return s.s.release() }

// Value returns the number of free permits (Python's private _value).
func (s *BoundedSemaphore) Value() int { return s.s.current() }
