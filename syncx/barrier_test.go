package syncx

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewBarrierBadParties(t *testing.T) {
	for _, n := range []int{0, -1, -100} {
		b, err := NewBarrier(n, nil)
		if err == nil || b != nil {
			t.Fatalf("NewBarrier(%d) = %v, %v; want an error", n, b, err)
		}
	}
}

func TestBarrierArrivalIndexAndGenerations(t *testing.T) {
	const parties, gens = 5, 20
	var actions atomic.Int32
	b, err := NewBarrier(parties, func() error { actions.Add(1); return nil })
	if err != nil {
		t.Fatal(err)
	}
	ctx := guardCtx(t)
	idx := make([][]int, gens)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range parties {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range gens {
				i, err := b.Wait(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				idx[g] = append(idx[g], i)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for g, ix := range idx {
		sort.Ints(ix)
		for k, i := range ix {
			if i != k {
				t.Fatalf("generation %d: indexes %v, want 0..%d each once", g, ix, parties-1)
			}
		}
	}
	if got := actions.Load(); got != gens {
		t.Fatalf("action ran %d times, want %d", got, gens)
	}
	if b.Broken() || b.NWaiting() != 0 || b.Parties() != parties {
		t.Fatalf("state after use: broken=%v waiting=%d parties=%d", b.Broken(), b.NWaiting(), b.Parties())
	}
}

func TestBarrierOneParty(t *testing.T) {
	b, err := NewBarrier(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if i, err := b.Wait(context.Background()); i != 0 || err != nil {
			t.Fatalf("Wait = %d, %v", i, err)
		}
	}
}

// waitN starts n goroutines that Wait on b and returns their errors.
func waitN(b *Barrier, ctx context.Context, n int) <-chan error {
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := b.Wait(ctx)
			errs <- err
		}()
	}
	return errs
}

func TestBarrierAbortAndReset(t *testing.T) {
	b, _ := NewBarrier(3, nil)
	ctx := guardCtx(t)
	errs := waitN(b, ctx, 2)
	eventually(t, "2 parties waiting", func() bool { return b.NWaiting() == 2 })
	b.Abort()
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrBrokenBarrier) {
			t.Fatalf("waiter after Abort: %v", err)
		}
	}
	if !b.Broken() {
		t.Fatal("not broken after Abort")
	}
	if _, err := b.Wait(ctx); !errors.Is(err, ErrBrokenBarrier) {
		t.Fatalf("Wait on broken barrier: %v", err)
	}
	b.Reset()
	if b.Broken() {
		t.Fatal("still broken after Reset")
	}
	errs = waitN(b, ctx, 3)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("after Reset: %v", err)
		}
	}
}

func TestBarrierResetBreaksWaiters(t *testing.T) {
	b, _ := NewBarrier(3, nil)
	ctx := guardCtx(t)
	errs := waitN(b, ctx, 2)
	eventually(t, "2 parties waiting", func() bool { return b.NWaiting() == 2 })
	b.Reset()
	for range 2 {
		if err := <-errs; !errors.Is(err, ErrBrokenBarrier) {
			t.Fatalf("waiter during Reset: %v", err)
		}
	}
	if b.Broken() {
		t.Fatal("broken after Reset")
	}
	errs = waitN(b, ctx, 3)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestBarrierCtxBreaksOthers(t *testing.T) {
	b, _ := NewBarrier(3, nil)
	others := waitN(b, guardCtx(t), 1)
	eventually(t, "1 party waiting", func() bool { return b.NWaiting() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := b.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out party: %v, want DeadlineExceeded", err)
	}
	if err := <-others; !errors.Is(err, ErrBrokenBarrier) {
		t.Fatalf("other party: %v, want ErrBrokenBarrier", err)
	}
	if !b.Broken() {
		t.Fatal("barrier not broken after a party's ctx ended")
	}
}

func TestBarrierActionError(t *testing.T) {
	boom := errors.New("boom")
	b, _ := NewBarrier(3, func() error { return boom })
	errs := waitN(b, guardCtx(t), 3)
	var nBoom, nBroken int
	for range 3 {
		switch err := <-errs; {
		case errors.Is(err, boom):
			nBoom++
		case errors.Is(err, ErrBrokenBarrier):
			nBroken++
		default:
			t.Fatalf("unexpected %v", err)
		}
	}
	if nBoom != 1 || nBroken != 2 {
		t.Fatalf("boom=%d broken=%d, want 1 and 2", nBoom, nBroken)
	}
}

func TestBarrierActionPanic(t *testing.T) {
	b, _ := NewBarrier(2, func() error { panic("action panic") })
	errs := waitN(b, guardCtx(t), 1)
	eventually(t, "1 party waiting", func() bool { return b.NWaiting() == 1 })
	func() {
		defer func() {
			if r := recover(); r != "action panic" {
				t.Fatalf("recovered %v", r)
			}
		}()
		_, _ = b.Wait(context.Background())
	}()
	if err := <-errs; !errors.Is(err, ErrBrokenBarrier) {
		t.Fatalf("other party: %v", err)
	}
	if !b.Broken() { // also proves the lock was released
		t.Fatal("not broken after panicking action")
	}
}

// TestBarrierStress: many goroutines, many generations, with random parties
// giving up; every Wait must return, with either success, ctx.Err() or
// ErrBrokenBarrier, and the barrier must be usable after Reset.
func TestBarrierStress(t *testing.T) {
	const parties = 8
	b, _ := NewBarrier(parties, nil)
	ctx := guardCtx(t)
	for round := range 30 {
		var wg sync.WaitGroup
		var ok atomic.Int32
		for p := range parties {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := ctx
				if round%3 == 0 && p == round%parties {
					var cancel context.CancelFunc
					c, cancel = context.WithTimeout(ctx, time.Duration(p)*100*time.Microsecond)
					defer cancel()
				}
				for range 20 {
					_, err := b.Wait(c)
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, ErrBrokenBarrier), errors.Is(err, context.DeadlineExceeded):
						return
					default:
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if round%3 != 0 && ok.Load() != parties*20 {
			t.Fatalf("round %d: %d successes, want %d", round, ok.Load(), parties*20)
		}
		b.Reset()
	}
}

// A party whose context ends at the moment the last party arrives: either
// the release wins and every party of the generation succeeds, or the
// break wins and none does (the leaver gets ctx.Err(), the others
// ErrBrokenBarrier). Never a mix, and nobody hangs.
func TestBarrierCancelRacesReleaseAllOrNothing(t *testing.T) {
	const parties = 3
	b, err := NewBarrier(parties, nil)
	if err != nil {
		t.Fatal(err)
	}
	guardCtx, cancelGuard := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelGuard()
	var released, broken int
	for round := range 500 {
		ctx, cancel := context.WithCancel(guardCtx)
		errs := make([]error, parties)
		var wg sync.WaitGroup
		for i := range parties {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := guardCtx
				if i == 0 {
					c = ctx
				}
				_, errs[i] = b.Wait(c)
			}()
		}
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		// Cancel at about the time the last party arrives (or, every
		// other round, at once).
	spin:
		for round%2 == 0 && b.NWaiting() < parties-1 {
			select {
			case <-finished:
				break spin
			default:
				time.Sleep(time.Microsecond)
			}
		}
		cancel()
		<-finished
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			}
		}
		switch ok {
		case parties:
			released++
		case 0:
			broken++
			if !errors.Is(errs[0], context.Canceled) && !errors.Is(errs[0], ErrBrokenBarrier) {
				t.Fatalf("round %d: leaver got %v", round, errs[0])
			}
			for _, err := range errs[1:] {
				if !errors.Is(err, ErrBrokenBarrier) && !errors.Is(err, context.Canceled) {
					t.Fatalf("round %d: party got %v", round, err)
				}
			}
			b.Reset()
		default:
			t.Fatalf("round %d: %d of %d parties passed: %v", round, ok, parties, errs)
		}
		if b.Broken() || b.NWaiting() != 0 {
			t.Fatalf("round %d: barrier left broken=%v waiting=%d", round, b.Broken(), b.NWaiting())
		}
	}
	t.Logf("released %d, broken %d", released, broken)
}
