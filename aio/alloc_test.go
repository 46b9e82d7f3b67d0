package aio_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

// Gathering many sleeping tasks allocates a few objects per call, not one
// per task (the done callbacks are registered as pointers into one slice),
// and Sleep allocates nothing (the timer heap holds the wake-up by value).
// Allocation counts, not timings; skipped under the race detector, which
// allocates on its own.
func TestGatherAndSleepAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	const n = 1000
	var gatherAllocs, sleepAllocs uint64
	_, err := aio.Run(context.Background(), func(tt *aio.T) (int, error) {
		ts := make([]*aio.Task[int], n)
		for i := range ts {
			ts[i] = aio.Go(tt, func(t *aio.T) (int, error) { return i, aio.Sleep(t, time.Second) })
		}
		if err := aio.Yield(tt); err != nil { // every task starts and sleeps
			return 0, err
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		if _, err := aio.Gather(tt, ts...); err != nil {
			return 0, err
		}
		runtime.ReadMemStats(&m1)
		gatherAllocs = m1.Mallocs - m0.Mallocs
		runtime.ReadMemStats(&m0)
		for range n {
			if err := aio.Sleep(tt, time.Millisecond); err != nil {
				return 0, err
			}
		}
		runtime.ReadMemStats(&m1)
		sleepAllocs = m1.Mallocs - m0.Mallocs
		return 0, nil
	}, aio.WithVirtualTime())
	if err != nil {
		t.Fatal(err)
	}
	if gatherAllocs > n/10 {
		t.Errorf("Gather of %d sleeping tasks made %d allocations, want a few per call", n, gatherAllocs)
	}
	if sleepAllocs > 10 {
		t.Errorf("%d sleeps made %d allocations, want none", n, sleepAllocs)
	}
	t.Logf("Gather of %d tasks: %d allocations; %d sleeps: %d", n, gatherAllocs, n, sleepAllocs)
}
