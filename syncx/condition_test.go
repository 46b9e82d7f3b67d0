package syncx

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func (c *Condition) nWaiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for w := c.waiters.head; w != nil; w = w.next {
		n++
	}
	return n
}

func TestConditionNotifyNotifyAll(t *testing.T) {
	c := NewCondition(nil)
	ctx := guardCtx(t)
	ready := 0
	woke := make(chan int, 3)
	for i := range 3 {
		go func() {
			c.L.Lock()
			defer c.L.Unlock()
			if err := c.WaitFor(ctx, func() bool { return ready > i }); err != nil {
				t.Error(err)
			}
			woke <- i
		}()
	}
	eventually(t, "3 waiters", func() bool { return c.nWaiting() == 3 })
	c.L.Lock()
	ready = 1
	c.L.Unlock()
	c.NotifyAll()
	if got := <-woke; got != 0 {
		t.Fatalf("woke %d first, want 0", got)
	}
	eventually(t, "2 waiters again", func() bool { return c.nWaiting() == 2 })
	c.L.Lock()
	ready = 3
	c.L.Unlock()
	c.Notify()
	<-woke
	eventually(t, "1 waiter left", func() bool { return c.nWaiting() == 1 })
	c.Notify()
	<-woke
}

func TestCondWaitCancelled(t *testing.T) {
	var mu sync.Mutex
	c := NewCondition(&mu)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	mu.Lock()
	err := c.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v", err)
	}
	if mu.TryLock() {
		t.Fatal("Wait returned without the lock held")
	}
	mu.Unlock()
	if c.nWaiting() != 0 {
		t.Fatal("cancelled waiter still queued")
	}
	// Already cancelled: returns at once, lock still held.
	mu.Lock()
	if err := c.Wait(cancelledCtx()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v", err)
	}
	mu.Unlock()
}

// TestConditionCancelPassesNotifyOn forces the race: a waiter is picked by Notify
// while its context has already ended. The signal must reach the other
// waiter.
func TestConditionCancelPassesNotifyOn(t *testing.T) {
	for range 50 {
		c := NewCondition(nil)
		ctxA, cancelA := context.WithCancel(context.Background())
		aDone := make(chan error)
		go func() {
			c.L.Lock()
			err := c.Wait(ctxA)
			c.L.Unlock()
			aDone <- err
		}()
		eventually(t, "A waiting", func() bool { return c.nWaiting() == 1 })
		bDone := make(chan error)
		go func() {
			c.L.Lock()
			err := c.Wait(guardCtx(t))
			c.L.Unlock()
			bDone <- err
		}()
		eventually(t, "B waiting", func() bool { return c.nWaiting() == 2 })
		// Cancel A and signal at the same time: Notify picks A (first in
		// line), which may see its ctx end first.
		cancelA()
		c.Notify()
		errA := <-aDone
		if errA == nil {
			// A consumed the signal; B still waits for its own.
			c.Notify()
		}
		if err := <-bDone; err != nil {
			t.Fatalf("B: %v (A: %v)", err, errA)
		}
	}
}

func TestCondStress(t *testing.T) {
	// A bounded buffer built on two Conds, with consumers that sometimes
	// give up; every item produced must be consumed exactly once.
	var mu sync.Mutex
	notEmpty, notFull := NewCondition(&mu), NewCondition(&mu)
	var buf []int
	const cap_, total = 4, 3000
	ctx := guardCtx(t)
	seen := make([]int, total)
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < total; i += 4 {
				mu.Lock()
				if err := notFull.WaitFor(ctx, func() bool { return len(buf) < cap_ }); err != nil {
					t.Error(err)
					mu.Unlock()
					return
				}
				buf = append(buf, i)
				mu.Unlock()
				notEmpty.Notify()
			}
		}()
	}
	var cwg sync.WaitGroup
	consumed := 0
	for range 6 {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for {
				short, cancel := context.WithTimeout(ctx, 200*time.Microsecond)
				mu.Lock()
				err := notEmpty.WaitFor(short, func() bool { return len(buf) > 0 || consumed == total })
				cancel()
				if err != nil {
					mu.Unlock()
					continue // gave up; try again
				}
				if consumed == total {
					mu.Unlock()
					notEmpty.NotifyAll()
					return
				}
				v := buf[0]
				buf = buf[1:]
				seen[v]++
				consumed++
				mu.Unlock()
				notFull.Notify()
			}
		}()
	}
	wg.Wait()
	cwg.Wait()
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("item %d consumed %d times", i, n)
		}
	}
}
