package syncx

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSemaphoreConstructors(t *testing.T) {
	if s, err := NewSemaphore(-1); err == nil || s != nil {
		t.Fatalf("NewSemaphore(-1) = %v, %v", s, err)
	}
	if s, err := NewSemaphore(0); err != nil || s.Value() != 0 {
		t.Fatalf("NewSemaphore(0) = %v, %v; Python allows 0", s, err)
	}
	for _, n := range []int{-1, -3} {
		if s, err := NewBoundedSemaphore(n); err == nil || s != nil {
			t.Fatalf("NewBoundedSemaphore(%d) = %v, %v", n, s, err)
		}
	}
	if s, err := NewBoundedSemaphore(0); err != nil || s.Value() != 0 {
		t.Fatalf("NewBoundedSemaphore(0) = %v, %v; Python allows 0", s, err)
	}
}

func TestSemaphoreZeroAsSignal(t *testing.T) {
	s, _ := NewSemaphore(0)
	if s.TryAcquire() {
		t.Fatal("TryAcquire on 0 succeeded")
	}
	done := make(chan error)
	go func() { done <- s.Acquire(guardCtx(t)) }()
	s.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.Value() != 0 {
		t.Fatalf("Value = %d", s.Value())
	}
	s.Release()
	s.Release() // an unbounded semaphore may grow past its start value
	if s.Value() != 2 {
		t.Fatalf("Value = %d, want 2", s.Value())
	}
}

func TestBoundedSemaphoreOverRelease(t *testing.T) {
	s, _ := NewBoundedSemaphore(2)
	if err := s.Release(); !errors.Is(err, ErrReleasedTooMany) {
		t.Fatalf("Release on full = %v", err)
	}
	for i, want := range []bool{true, true, false} {
		if got := s.TryAcquire(); got != want {
			t.Fatalf("TryAcquire #%d = %v, want %v", i+1, got, want)
		}
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(); !errors.Is(err, ErrReleasedTooMany) {
		t.Fatalf("third Release = %v", err)
	}
	if s.Value() != 2 {
		t.Fatalf("Value = %d after refused release", s.Value())
	}
}

func TestSemaphoreFIFO(t *testing.T) {
	s, _ := NewBoundedSemaphore(1)
	ctx := guardCtx(t)
	if err := s.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 5)
	for i := range 5 {
		go func() {
			if err := s.Acquire(ctx); err != nil {
				t.Error(err)
				return
			}
			order <- i
			_ = s.Release()
		}()
		eventually(t, "waiter queued", func() bool { return s.s.nWaiting() == i+1 })
	}
	// A barging TryAcquire must not overtake the waiters.
	if s.TryAcquire() {
		t.Fatal("TryAcquire overtook waiters")
	}
	_ = s.Release()
	for want := range 5 {
		if got := <-order; got != want {
			t.Fatalf("waiter %d served at position %d", got, want)
		}
	}
}

func (s *sem) nWaiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for w := s.waiters.head; w != nil; w = w.next {
		n++
	}
	return n
}

func TestSemaphoreAcquireCancelled(t *testing.T) {
	s, _ := NewBoundedSemaphore(1)
	_ = s.Acquire(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if err := s.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire = %v", err)
	}
	if s.s.nWaiting() != 0 {
		t.Fatal("cancelled waiter still queued")
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if s.Value() != 1 {
		t.Fatalf("Value = %d", s.Value())
	}
}

// TestSemaphoreStress: many goroutines acquire with random cancellation; the
// number inside never exceeds the permits, and at the end every permit is
// back (a cancelled Acquire holds nothing).
func TestSemaphoreStress(t *testing.T) {
	const permits = 3
	s, _ := NewBoundedSemaphore(permits)
	ctx := guardCtx(t)
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				c, cancel := ctx, context.CancelFunc(func() {})
				if rand.IntN(3) == 0 {
					c, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(30))*time.Microsecond)
				}
				err := s.Acquire(c)
				cancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Error(err)
					}
					continue
				}
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				inside.Add(-1)
				if err := s.Release(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if maxInside.Load() > permits {
		t.Fatalf("%d goroutines inside a %d-permit semaphore", maxInside.Load(), permits)
	}
	if s.Value() != permits {
		t.Fatalf("Value = %d at the end, want %d", s.Value(), permits)
	}
}
