package procpool_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
)

// Calls cancelled while they wait in the queue for the first worker are
// dropped when that worker comes up; Shutdown, called in between, must
// then see the pool idle instead of waiting for its context.
func TestShutdownAfterQueuedCallsCancelled(t *testing.T) {
	p, err := procpool.New(procpool.WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var fs []*future.Future[int]
	for i := range 4 {
		fs = append(fs, square.Submit(p, ctx, i))
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second) // hang guard
	defer scancel()
	if err := p.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown after the queued calls were cancelled: %v", err)
	}
	p.Close()
	for _, f := range fs {
		if _, err := f.Result(ctxT(t)); err != nil && !future.IsCancelled(err) {
			t.Errorf("call: %v", err)
		}
	}
}

// Shutdown returns only after every callback of a completed call has run:
// a typed future is completed by such a callback (the registry's bridge),
// so Shutdown must not return between a raw future's completion and its
// callbacks.
func TestShutdownWaitsForCompletionCallbacks(t *testing.T) {
	p, err := procpool.New(procpool.WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	payload, err := square.Encode(p.Backend().Codec(), 6)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	var ran atomic.Int32
	for range n {
		raw := p.Backend().SubmitRaw(ctx, square.Name(), payload).Future()
		raw.OnDone(func() {
			time.Sleep(30 * time.Millisecond) // a slow callback after the pool's own
			ran.Add(1)
		})
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := p.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if got := ran.Load(); got != n {
		t.Fatalf("Shutdown returned with %d of %d completion callbacks run", got, n)
	}
}
