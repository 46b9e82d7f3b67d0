package aio

import (
	"errors"
	"fmt"
)

// ErrBrokenBarrier is returned by Barrier.Wait when the barrier is aborted
// or reset while the party waits, or is broken when it arrives (Python's
// asyncio.BrokenBarrierError).
var ErrBrokenBarrier = errors.New("aio: barrier is broken")

type barrierState uint8

const (
	barrierFilling barrierState = iota
	barrierDraining
	barrierResetting
	barrierBroken
)

// Barrier makes a fixed number of coroutines (parties) wait for each other:
// each calls Wait, and when the last one arrives all are released together
// (Python 3.11's asyncio.Barrier, built as CPython's is, on a Lock and a
// Condition, so it behaves the same step for step). It is reusable: a party
// arriving while the released ones are still leaving waits for the next
// round. Create it with NewBarrier. Loop only.
//
// As in asyncio and unlike threading.Barrier (and syncx.Barrier), a
// cancelled party does not break the barrier: it leaves, and the barrier
// waits for one more arrival. There is no action argument (asyncio's has
// none either). Reset and Abort take the barrier's lock, so they await
// (they are coroutines in Python too).
type Barrier struct {
	cond    *Condition
	parties int
	state   barrierState
	count   int
}

// NewBarrier returns a barrier for parties coroutines. parties must be at
// least 1 (Python raises ValueError).
func NewBarrier(parties int) (*Barrier, error) {
	if parties < 1 {
		return nil, fmt.Errorf("aio: barrier parties must be at least 1, got %d", parties)
	}
	return &Barrier{cond: NewCondition(nil), parties: parties}, nil
}

// Wait suspends until Parties coroutines wait on the barrier, then returns
// this party's arrival index, 0 for the first, Parties()-1 for the last,
// which releases the others (Python's Barrier.wait). It returns
// ErrBrokenBarrier if the barrier is broken, or is aborted or reset while
// the party waits. A party arriving while the previous round is still
// being released waits for it to finish first. If the task is cancelled,
// Wait returns the cancellation error and the party leaves the barrier
// without breaking it; as in Python, its arrival index may then be given
// again to a later party of the same round.
func (b *Barrier) Wait(t *T) (int, error) {
	if err := b.cond.L.Acquire(t); err != nil {
		return -1, err
	}
	defer b.cond.L.Release()
	// Block while the barrier drains or resets.
	if err := b.cond.WaitFor(t, func() bool {
		return b.state != barrierDraining && b.state != barrierResetting
	}); err != nil {
		return -1, err
	}
	if b.state == barrierBroken {
		return -1, ErrBrokenBarrier
	}
	index := b.count
	b.count++
	var err error
	if index+1 == b.parties {
		b.state = barrierDraining
		b.cond.NotifyAll()
	} else {
		err = b.cond.WaitFor(t, func() bool { return b.state != barrierFilling })
		if err == nil && (b.state == barrierBroken || b.state == barrierResetting) {
			err = ErrBrokenBarrier
		}
	}
	b.count--
	if b.count == 0 {
		// The last to leave lets the next round in.
		if b.state == barrierResetting || b.state == barrierDraining {
			b.state = barrierFilling
		}
		b.cond.NotifyAll()
	}
	if err != nil {
		return -1, err
	}
	return index, nil
}

// Reset returns the barrier to its initial, filling state (Python's
// Barrier.reset): the parties waiting get ErrBrokenBarrier, and new
// arrivals wait until they have left. It returns an error only if the
// task is cancelled while it waits for the barrier's lock.
func (b *Barrier) Reset(t *T) error {
	if err := b.cond.L.Acquire(t); err != nil {
		return err
	}
	defer b.cond.L.Release()
	if b.count > 0 {
		b.state = barrierResetting
	} else {
		b.state = barrierFilling
	}
	b.cond.NotifyAll()
	return nil
}

// Abort breaks the barrier (Python's Barrier.abort): the parties waiting and
// every later Wait get ErrBrokenBarrier until Reset. It returns an error
// only if the task is cancelled while it waits for the barrier's lock.
func (b *Barrier) Abort(t *T) error {
	if err := b.cond.L.Acquire(t); err != nil {
		return err
	}
	defer b.cond.L.Release()
	b.state = barrierBroken
	b.cond.NotifyAll()
	return nil
}

// Parties returns the number of parties a round needs (Python's parties).
func (b *Barrier) Parties() int { return b.parties }

// NWaiting returns the number of parties waiting in the round being filled
// (Python's n_waiting: 0 while a round is released, reset or broken).
func (b *Barrier) NWaiting() int {
	if b.state == barrierFilling {
		return b.count
	}
	return 0
}

// Broken reports whether the barrier is broken (Python's broken).
func (b *Barrier) Broken() bool { return b.state == barrierBroken }
