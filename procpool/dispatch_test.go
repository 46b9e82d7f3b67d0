package procpool_test

import (
	"context"
	"testing"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
)

// A burst of calls of a function not measured yet, submitted before any
// worker is up, must start as many workers as the burst can keep busy
// (each worker takes at most 2 unmeasured calls), not one worker that the
// whole burst then waits on; and once up, every worker holds part of it.
func TestBurstWhileStartingSpreadsOverWorkers(t *testing.T) {
	p := newPool(t, procpool.WithWorkers(2))
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	var fs []*future.Future[int]
	for range 4 {
		fs = append(fs, sleepMs.Submit(p, ctx, 60_000))
	}
	if got := p.Stats().Spawned; got != 2 {
		t.Fatalf("a burst of 4 unmeasured calls on WithWorkers(2) started %d workers at once, want 2", got)
	}
	waitFor(t, "both workers to hold calls", func() bool {
		st := p.Stats()
		busy := 0
		for _, w := range st.Workers {
			if w.State == "ready" && w.InFlight > 0 {
				busy++
			}
		}
		return busy == 2
	})
	cancel()
	for _, f := range fs {
		if _, err := f.Result(ctxT(t)); !future.IsCancelled(err) {
			t.Errorf("cancelled call: %v, want a cancellation", err)
		}
	}
}
