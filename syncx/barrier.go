package syncx

import (
	"context"
	"fmt"
	"sync"
)

// Barrier makes a fixed number of goroutines (parties) wait for each other:
// each calls Wait, and all are released together when the last one arrives.
// It is reusable: after a release a new generation starts. Create it with
// NewBarrier.
//
// Python: threading.Barrier. Like Python's, it has a broken state: Abort, a
// failed action, or a waiting party giving up breaks the barrier, every
// waiter gets ErrBrokenBarrier, and so does every later Wait until Reset.
// Differences: Wait takes a context instead of a timeout (a party whose
// context ends breaks the barrier for the others, exactly as a Python timeout
// does, and itself gets ctx.Err()); the action returns an error instead of
// raising.
type Barrier struct {
	mu      sync.Mutex
	parties int
	action  func() error
	count   int         // parties waiting in the current generation
	gen     *generation // current generation
}

type generation struct {
	ch     chan struct{} // closed on release or break
	broken bool          // written before ch is closed
}

// NewBarrier returns a barrier for parties goroutines. action, if not nil, is
// run by the last party to arrive in each generation, before any party is
// released; if it returns an error (or panics), the barrier breaks, that
// party's Wait returns the error (a panic is re-raised) and the others get
// ErrBrokenBarrier. The action runs while the barrier's lock is held: it
// must not call methods of the same barrier. parties must be at least 1.
// Python: threading.Barrier(parties, action), without its timeout (Wait
// takes a context).
func NewBarrier(parties int, action func() error) (*Barrier, error) {
	if parties < 1 {
		return nil, fmt.Errorf("syncx: barrier parties must be at least 1, got %d", parties)
	}
	return &Barrier{parties: parties, action: action, gen: &generation{ch: make(chan struct{})}}, nil
}

// Wait blocks until all parties have called Wait, then releases them
// together and returns this party's arrival index: 0 for the first to
// arrive, Parties()-1 for the last, different for each party of a
// generation (Python: the return value of Barrier.wait).
//
// It returns ErrBrokenBarrier if the barrier is broken or breaks while
// waiting. If ctx ends first, Wait breaks the barrier (so that the other
// parties do not wait forever for a party that left) and returns ctx.Err();
// if the generation was released at the same moment, the release wins and
// Wait succeeds.
func (b *Barrier) Wait(ctx context.Context) (int, error) {
	b.mu.Lock()
	g := b.gen
	if g.broken {
		b.mu.Unlock()
		return -1, ErrBrokenBarrier
	}
	idx := b.count
	b.count++
	if b.count == b.parties {
		defer b.mu.Unlock() // deferred: the action may panic
		if err := b.releaseLocked(); err != nil {
			return -1, err
		}
		return idx, nil
	}
	b.mu.Unlock()

	select {
	case <-g.ch:
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-g.ch: // released or broken meanwhile
		default:
			b.breakLocked()
			b.mu.Unlock()
			return -1, ctx.Err()
		}
		b.mu.Unlock()
	}
	if g.broken {
		return -1, ErrBrokenBarrier
	}
	return idx, nil
}

// releaseLocked runs the action and starts a new generation, or breaks the
// barrier if the action fails.
func (b *Barrier) releaseLocked() (err error) {
	if b.action != nil {
		ok := false
		defer func() {
			if !ok {
				b.breakLocked() // the action panicked; let the panic go on
			}
		}()
		err = b.action()
		ok = true
		if err != nil {
			b.breakLocked()
			return err
		}
	}
	close(b.gen.ch)
	b.gen = &generation{ch: make(chan struct{})}
	b.count = 0
	return nil
}

// breakLocked marks the current generation broken and wakes its waiters.
// The barrier stays broken until Reset.
func (b *Barrier) breakLocked() {
	if !b.gen.broken {
		b.gen.broken = true
		close(b.gen.ch)
	}
	b.count = 0
}

// Abort breaks the barrier: parties waiting now and every later Wait get
// ErrBrokenBarrier until Reset is called. Python: Barrier.abort.
func (b *Barrier) Abort() {
	b.mu.Lock()
	b.breakLocked()
	b.mu.Unlock()
}

// Reset returns the barrier to its initial, unbroken state. Parties waiting
// at the time get ErrBrokenBarrier, as in Python (Barrier.reset).
func (b *Barrier) Reset() {
	b.mu.Lock()
	if b.count > 0 {
		b.breakLocked()
	}
	b.gen = &generation{ch: make(chan struct{})}
	b.count = 0
	b.mu.Unlock()
}

// Parties returns the number of parties the barrier waits for. Python:
// Barrier.parties.
func (b *Barrier) Parties() int { return b.parties }

// NWaiting returns the number of parties currently waiting. Python:
// Barrier.n_waiting.
func (b *Barrier) NWaiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.count
}

// Broken reports whether the barrier is broken. Python: Barrier.broken.
func (b *Barrier) Broken() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen.broken
}
