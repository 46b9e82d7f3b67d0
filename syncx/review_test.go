package syncx

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

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
